package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.ForwardingCamBackend;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.Tolerance;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@link Explainer#predict}: one forward, label maps, and explain on the same pass. */
class PredictionTest {
  @Test
  void explainOnAPredictionRunsNoSecondForwardAndGivesTheSameMaps() {
    Graph g = SavedModelImporter.load(Path.of("weights", "scene-unet")).graph();
    Random rnd = new Random(RandomTensors.freshSeed("PredictionTest"));
    FloatTensor img = RandomTensors.input(rnd, new int[] {2, 64, 64, 3});
    Counting counting = new Counting(CpuCamBackend.create(g));
    try (Explainer ex = new Explainer(counting);
        Explainer ref = Explainer.cpu(g)) {
      String layer = ex.defaultLayer();
      List<Target> ts = List.of(Target.image(1), Target.box(2, 0, 0, 32, 32));
      List<CamResult> want = ref.explain(img, ts, List.of(layer), CamMethod.GRAD_CAM);
      try (Prediction p = ex.predict(img, List.of(layer))) {
        assertEquals(1, counting.forwards);
        assertEquals(2, p.labels().size());
        for (int i = 0; i < 2; i++) {
          assertEquals(
              java.util.Arrays.toString(want.get(i * ts.size()).predicted().classes()),
              java.util.Arrays.toString(p.labels().get(i).classes()),
              "label map of image " + i);
        }
        List<CamResult> got = ex.explain(p, ts, List.of(layer), CamMethod.GRAD_CAM);
        List<GuidedGradCam.Result> guided =
            GuidedGradCam.explain(ex, p, ts, List.of(layer), CamMethod.GRAD_CAM);
        assertEquals(1, counting.forwards, "explain and guided reuse the prediction's forward");
        assertEquals(want.size(), got.size());
        for (int i = 0; i < want.size(); i++) {
          Tolerance.SAME.assertClose("heatmap " + i, want.get(i).heatmap(), got.get(i).heatmap());
          Tolerance.SAME.assertClose(
              "guided's heatmap " + i, want.get(i).heatmap(), guided.get(i).cam().heatmap());
          assertEquals(want.get(i).score(), got.get(i).score());
        }
        CamException e =
            assertThrows(
                CamException.class,
                () -> ex.explain(p, ts, List.of("enc1/conv1"), CamMethod.GRAD_CAM));
        assertEquals(true, e.getMessage().contains("was not kept by predict"), e.getMessage());
      }
    }
  }

  /** A backend that counts forwards. */
  static final class Counting extends ForwardingCamBackend {
    int forwards;

    Counting(CamBackend in) {
      super(in);
    }

    @Override
    public Forward forward(String input, CamTensor images, Set<String> keep) {
      forwards++;
      return inner.forward(input, images, keep);
    }
  }
}
