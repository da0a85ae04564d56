package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.eval.Localization;
import dev.segcam.ir.FloatTensor;
import dev.segcam.synth.SceneGenerator;
import dev.segcam.testing.ModelZoo;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The default layer for targets with a region of their own: at it, boxes around two different
 * objects give different maps; at a layer with a linear path to the scores they do not.
 */
class LayerChoiceTest {
  /**
   * Two maps count as different when their normalised heat is at least this far apart somewhere.
   */
  static final double DIFFERENT = 0.05;

  /**
   * Region sensitivity (total variation of the unit-sum maps) well above float noise: at a linear
   * layer it is below 1e-6.
   */
  static final double MOVED = 1e-3;

  /** Heatmaps in [0,1] that are the same map up to scale agree to float rounding. */
  static final double SAME = 1e-4;

  @Test
  void sceneUnetRegionTargetsGetALayerWithANonlinearPath() {
    try (Explainer ex = Explainer.open(Path.of("weights/scene-unet"))) {
      assertEquals("dec1_3/conv2", ex.defaultLayer());
      assertEquals("dec1_3/conv2", ex.defaultLayer(List.of(Target.predicted(1))).layer());
      assertEquals("dec1_3/conv2", ex.defaultLayer(List.of(Target.image(1))).layer());
      for (Target t :
          List.of(
              Target.box(1, 0, 0, 8, 8),
              Target.pixel(2, 3, 4),
              Target.largestComponent(3),
              Target.mask(1, new boolean[64][64]))) {
        assertEquals("dec1_2/conv1", ex.defaultLayer(List.of(t)).layer(), t.toString());
      }
      assertTrue(ex.linearToScores("dec1_3/conv2"));
      assertFalse(ex.linearToScores("dec1_2/conv1"));
      assertFalse(ex.linearToScores("mid_3/conv2"));
      assertTrue(ex.linearToScores("logits"));
    }
  }

  @Test
  void sceneUnetBoxesAroundTwoObjectsGiveDifferentMapsAtTheDefault() {
    SceneGenerator gen = new SceneGenerator(64, 64);
    for (long i = 0; i < 4; i++) {
      SceneGenerator.Scene sc = gen.generate(11, i);
      int[][] boxes = twoObjects(sc);
      try (Explainer ex = Explainer.open(Path.of("weights/scene-unet"))) {
        // the class of the first object, explained in both boxes
        int c = sc.label((boxes[0][1] + boxes[0][3]) / 2, (boxes[0][0] + boxes[0][2]) / 2);
        List<Target> ts = List.of(box(c, boxes[0]), box(c, boxes[1]));
        String layer = ex.defaultLayer(ts).layer();
        List<CamResult> r = ex.explain(sc.toTensor(), ts, CamMethod.GRAD_CAM);
        assertEquals(layer, r.get(0).layer());
        assertDifferent(r, "scene " + i + " at " + layer);
        // the old default: same map up to scale, whatever the box
        List<CamResult> lin =
            ex.explain(sc.toTensor(), ts, List.of("dec1_3/conv2"), CamMethod.GRAD_CAM);
        assertTrue(maxDiff(lin) < SAME, "linear layer maps differ by " + maxDiff(lin));
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"unet_transposed", "unet_bilinear"})
  void zooUnetBoxesGiveDifferentMapsAtTheDefault(String name) {
    ModelZoo.Model m = ModelZoo.get(name);
    int[] in = m.inputShape(1);
    SceneGenerator gen = new SceneGenerator(in[1], in[2]);
    try (Explainer ex = Explainer.open(m.dir())) {
      String last = ex.defaultLayer();
      assertTrue(ex.linearToScores(last), last);
      for (long i = 0; i < 3; i++) {
        SceneGenerator.Scene sc = gen.generate(5, i);
        int[][] boxes = twoObjects(sc);
        FloatTensor img = sc.toTensor();
        // as a user would: the class the model predicts at the first box's centre
        LabelMap pred =
            ex.explain(img, List.of(Target.image(0)), CamMethod.GRAD_CAM).get(0).predicted();
        int c = pred.get((boxes[0][0] + boxes[0][2]) / 2, (boxes[0][1] + boxes[0][3]) / 2);
        List<Target> ts = List.of(box(c, boxes[0]), box(c, boxes[1]));
        String layer = ex.defaultLayer(ts).layer();
        assertFalse(ex.linearToScores(layer), layer);
        assertDifferent(
            ex.explain(img, ts, CamMethod.GRAD_CAM), name + " scene " + i + " " + layer);
      }
    }
  }

  private static void assertDifferent(List<CamResult> r, String what) {
    double d = maxDiff(r);
    assertTrue(d > DIFFERENT, what + ": the two boxes' maps differ by only " + d);
    // NaN: one of the maps is all zero (ReLU'd away), the other not; different as well
    double sens = Localization.regionSensitivity(r.get(0).upsampled(), r.get(1).upsampled());
    assertTrue(Double.isNaN(sens) || sens > MOVED, what + ": region sensitivity " + sens);
  }

  private static double maxDiff(List<CamResult> r) {
    float[] a = r.get(0).heatmap().data();
    float[] b = r.get(1).heatmap().data();
    double d = 0;
    for (int i = 0; i < a.length; i++) {
      d = Math.max(d, Math.abs(a[i] - b[i]));
    }
    return d;
  }

  private static Target box(int c, int[] b) {
    return Target.box(c, b[0], b[1], b[2], b[3]);
  }

  /**
   * Bounding boxes {x0,y0,x1,y1} (exclusive ends) of the first non-background pixel's object and of
   * an object found after it that does not touch the first box (scenes are drawn until one has
   * two).
   */
  private static int[][] twoObjects(SceneGenerator.Scene sc) {
    int h = sc.height();
    int w = sc.width();
    boolean[] seen = new boolean[h * w];
    int[][] out = new int[2][];
    int n = 0;
    for (int p = 0; p < h * w && n < 2; p++) {
      if (seen[p] || sc.labels()[p] == SceneGenerator.BACKGROUND) {
        continue;
      }
      int[] b = {w, h, 0, 0};
      java.util.ArrayDeque<Integer> q = new java.util.ArrayDeque<>(List.of(p));
      seen[p] = true;
      while (!q.isEmpty()) {
        int v = q.poll();
        int x = v % w;
        int y = v / w;
        b[0] = Math.min(b[0], x);
        b[1] = Math.min(b[1], y);
        b[2] = Math.max(b[2], x + 1);
        b[3] = Math.max(b[3], y + 1);
        int[] nb = {
          x > 0 ? v - 1 : -1, x < w - 1 ? v + 1 : -1, y > 0 ? v - w : -1, y < h - 1 ? v + w : -1
        };
        for (int u : nb) {
          if (u >= 0 && !seen[u] && sc.labels()[u] != SceneGenerator.BACKGROUND) {
            seen[u] = true;
            q.add(u);
          }
        }
      }
      if (n == 0
          || b[0] >= out[0][2]
          || b[2] <= out[0][0]
          || b[1] >= out[0][3]
          || b[3] <= out[0][1]) {
        out[n++] = b;
      }
    }
    if (n < 2) {
      throw new AssertionError("scene has fewer than two separate objects; pick another seed");
    }
    return out;
  }
}
