package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.RequiresOneDnn;
import dev.segcam.testing.Tolerance;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Guided backpropagation on the oneDNN op table (what `--backend cpu` runs): its ReLU gradient has
 * no oneDNN primitive, so the table must take the guided rule itself, or the guided map would
 * silently be the plain input gradient (which GuidedBackpropTfTest shows differs from the guided
 * one). Checked against the Java engine's guided map, element by element.
 */
@RequiresOneDnn
class GuidedOneDnnTest {
  private static final Path MODEL = Path.of("weights", "scene-unet");

  /** Sum of the fan-ins along scene-unet's deepest path, rounded up: the accumulation length. */
  private static final long SCENE_UNET_ACCUMULATION = 8192;

  @Test
  void oneDnnGuidedMapEqualsTheJavaEngines() {
    Graph g = SavedModelImporter.load(MODEL).graph();
    Random rnd = new Random(RandomTensors.freshSeed("GuidedOneDnnTest"));
    int[] d = g.node(g.inputs().get(0)).shape().dims();
    FloatTensor img = RandomTensors.input(rnd, new int[] {1, d[1], d[2], d[3]});
    List<Target> targets = List.of(Target.image(1), Target.image(3));
    String layer = "dec1_2/conv1";
    List<GuidedGradCam.Result> java;
    List<GuidedGradCam.Result> onednn;
    try (Explainer ex = Explainer.open(MODEL, gr -> CpuCamBackend.open(gr, 2, true, s -> {}))) {
      java = GuidedGradCam.explain(ex, img, targets, layer, CamMethod.GRAD_CAM);
    }
    try (Explainer ex = Explainer.open(MODEL, gr -> CpuCamBackend.createOneDnn(gr, 2))) {
      onednn = GuidedGradCam.explain(ex, img, targets, layer, CamMethod.GRAD_CAM);
    }
    for (int i = 0; i < java.size(); i++) {
      float[] ref = java.get(i).guided().data();
      float[] got = onednn.get(i).guided().data();
      Tolerance.reassociated(SCENE_UNET_ACCUMULATION, Tolerance.maxAbs(ref))
          .assertClose("guided map " + i + " oneDNN vs Java", ref, got);
      assertTrue(Tolerance.maxAbs(ref) > 0, "guided map " + i + " is all zero");
    }
  }
}
