package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.Normalization;
import dev.segcam.backend.SeedMode;
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
  static final class Counting implements CamBackend {
    final CamBackend in;
    int forwards;

    Counting(CamBackend in) {
      this.in = in;
    }

    @Override
    public String name() {
      return in.name();
    }

    @Override
    public Graph graph() {
      return in.graph();
    }

    @Override
    public CamTensor upload(FloatTensor host) {
      return in.upload(host);
    }

    @Override
    public Forward forward(String input, CamTensor images, Set<String> keep) {
      forwards++;
      return in.forward(input, images, keep);
    }

    @Override
    public CamTensor scoreSeed(
        CamTensor values, CamTensor masks, int[] classes, SeedMode[] modes, float[] scores) {
      return in.scoreSeed(values, masks, classes, modes, scores);
    }

    @Override
    public CamTensor argmaxChannels(CamTensor values) {
      return in.argmaxChannels(values);
    }

    @Override
    public CamTensor channelMean(CamTensor grads) {
      return in.channelMean(grads);
    }

    @Override
    public CamTensor gradCamPlusPlusWeights(CamTensor acts, CamTensor grads) {
      return in.gradCamPlusPlusWeights(acts, grads);
    }

    @Override
    public CamTensor xGradCamWeights(CamTensor acts, CamTensor grads) {
      return in.xGradCamWeights(acts, grads);
    }

    @Override
    public CamTensor weightedSumRelu(CamTensor acts, CamTensor weights) {
      return in.weightedSumRelu(acts, weights);
    }

    @Override
    public CamTensor elementwiseSumRelu(CamTensor acts, CamTensor grads, boolean reluGrads) {
      return in.elementwiseSumRelu(acts, grads, reluGrads);
    }

    @Override
    public CamTensor resizeBilinear(CamTensor maps, int outH, int outW) {
      return in.resizeBilinear(maps, outH, outW);
    }

    @Override
    public CamTensor normalize(CamTensor maps, Normalization norm) {
      return in.normalize(maps, norm);
    }

    @Override
    public void close() {
      in.close();
    }
  }
}
