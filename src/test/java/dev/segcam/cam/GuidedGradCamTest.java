package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.backend.cpu.CpuOpTable;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Op.ActivationKind;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.Tolerance;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Guided Grad-CAM through the explainer: its CAM is the explainer's own, its guided map is the
 * guided backward (checked against TensorFlow in GuidedBackpropTfTest) of the same score seed, and
 * the product is guided x heatmap, pixel by pixel.
 */
class GuidedGradCamTest {
  private static final int N = 2;
  private static final int H = 12;
  private static final int W = 10;
  private static final int CLASSES = 4;

  private static Graph smallNet(Random rnd) {
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(Shape.of(N, H, W, 3)));
    b.add("c1", new Op.Conv2D(rand(rnd, 3, 3, 3, 8), null, 1, 1, 1, 1, Padding.SAME), "x");
    b.add("r1", new Op.Activation(ActivationKind.RELU, 0), "c1");
    b.add("c2", new Op.Conv2D(rand(rnd, 3, 3, 8, 6), null, 1, 1, 1, 1, Padding.SAME), "r1");
    b.add("r2", new Op.Activation(ActivationKind.RELU, 0), "c2");
    b.add("y", new Op.Conv2D(rand(rnd, 1, 1, 6, CLASSES), null, 1, 1, 1, 1, Padding.VALID), "r2");
    return b.output("y", "y").build();
  }

  private static FloatTensor rand(Random rnd, int... dims) {
    return RandomTensors.uniform(rnd, Shape.of(dims), -1f, 1f);
  }

  @Test
  void guidedMapIsTheGuidedBackwardOfTheSameSeedTimesTheHeatmap() {
    Random rnd = new Random(RandomTensors.freshSeed("GuidedGradCamTest"));
    int[] classes = {1, 3};
    List<Target> targets = List.of(Target.image(classes[0]), Target.image(classes[1]));
    // A random net can give a target a CAM that is ReLU-clipped to zero everywhere, or a guided
    // gradient that the guided ReLUs zero wherever the CAM has heat, and then its Guided Grad-CAM
    // is rightly zero: draw nets until every target's product has heat, so the product is tested
    // (against the reference computed below, independently of this choice).
    Graph g = null;
    FloatTensor img = null;
    for (int tries = 0; g == null; tries++) {
      assertTrue(tries < 50, "50 random nets in a row gave a Guided Grad-CAM without heat");
      Graph cand = smallNet(rnd);
      FloatTensor x = rand(rnd, N, H, W, 3);
      try (Explainer ex = Explainer.cpu(cand)) {
        boolean allHot = true;
        for (GuidedGradCam.Result r :
            GuidedGradCam.explain(ex, x, targets, "r1", CamMethod.GRAD_CAM)) {
          allHot &= Tolerance.maxAbs(r.guidedGradCam().data()) > 0;
        }
        if (allHot) {
          g = cand;
          img = x;
        }
      }
    }
    try (Explainer ex = Explainer.cpu(g)) {
      List<GuidedGradCam.Result> got =
          GuidedGradCam.explain(ex, img, targets, "r1", CamMethod.GRAD_CAM);
      List<CamResult> cams = ex.explain(img, targets, List.of("r1"), CamMethod.GRAD_CAM);
      assertEquals(N * targets.size(), got.size());

      // reference: the whole-image logit seed of each class, guided backward to the input
      float[] seed = new float[targets.size() * N * H * W * CLASSES];
      for (int t = 0; t < targets.size(); t++) {
        for (int p = 0; p < N * H * W; p++) {
          seed[(t * N * H * W + p) * CLASSES + classes[t]] = 1f;
        }
      }
      Map<String, FloatTensor> values;
      try (CpuEngine e = new CpuEngine(g)) {
        values = e.forward(Map.of("x", img), null);
      }
      FloatTensor ref =
          CpuBackward.backward(
                  g,
                  values,
                  Map.of("y", new FloatTensor(Shape.of(targets.size() * N, H, W, CLASSES), seed)),
                  List.of("x"),
                  null,
                  CpuOpTable.TABLE,
                  true)
              .get("x");
      int per = H * W * 3;
      for (int j = 0; j < got.size(); j++) {
        GuidedGradCam.Result r = got.get(j);
        CamResult cam = r.cam();
        String what = "image " + cam.image() + " target " + cam.targetIndex();
        Tolerance.SAME.assertClose(what + " heatmap", cams.get(j).heatmap(), cam.heatmap());
        int row = cam.targetIndex() * N + cam.image();
        float[] want = java.util.Arrays.copyOfRange(ref.data(), row * per, (row + 1) * per);
        Tolerance.SAME.assertClose(what + " guided", want, r.guided().data());
        float[] prod = new float[per];
        int nonzero = 0;
        for (int i = 0; i < per; i++) {
          prod[i] = want[i] * cam.heatmap().data()[i / 3];
          nonzero += prod[i] != 0f ? 1 : 0;
        }
        Tolerance.SAME.assertClose(what + " guided Grad-CAM", prod, r.guidedGradCam().data());
        assertTrue(nonzero > 0, what + ": guided Grad-CAM is all zero");
      }
    }
  }

  @Test
  void sceneUnetGivesAGuidedMapPerTargetAtTheInputSize() {
    Graph g = SavedModelImporter.load(Path.of("weights", "scene-unet")).graph();
    Random rnd = new Random(RandomTensors.freshSeed("GuidedGradCamTest.scene"));
    int[] d = g.node(g.inputs().get(0)).shape().dims();
    int h = d[1] > 0 ? d[1] : 32;
    int w = d[2] > 0 ? d[2] : 32;
    FloatTensor img = RandomTensors.input(rnd, new int[] {1, h, w, d[3]});
    try (Explainer ex = Explainer.cpu(g)) {
      List<Target> targets = List.of(Target.image(1), Target.box(2, 0, 0, w / 2, h / 2));
      List<GuidedGradCam.Result> r =
          GuidedGradCam.explain(
              ex, img, targets, ex.defaultLayer(targets).layer(), CamMethod.GRAD_CAM);
      assertEquals(2, r.size());
      for (GuidedGradCam.Result x : r) {
        assertEquals(Shape.of(h, w, d[3]), x.guided().shape());
        assertEquals(Shape.of(h, w, d[3]), x.guidedGradCam().shape());
        double max = 0;
        for (float v : x.guided().data()) {
          assertTrue(Float.isFinite(v));
          max = Math.max(max, Math.abs(v));
        }
        assertTrue(max > 0, "guided map all zero for " + x.cam().target());
      }
    }
  }
}
