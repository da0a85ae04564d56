package dev.segcam.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.Target;
import dev.segcam.ir.FloatTensor;
import dev.segcam.synth.SceneGenerator;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link Faithfulness#curves} runs a perturbed image that several curves share forward once: the
 * curves of many results in one call (shared ends, the same map twice, maps from two methods and
 * regions) equal the curves of each result alone, one image per forward, at every point.
 */
class FaithfulnessSharingTest {
  /** Float32 forward of the same image in another batch: the probability agrees to 1e-5. */
  static final double PROB_TOL = 1e-5;

  static final int STEPS = 3;

  @Test
  void sharedCurvesEqualCurvesOneResultAtATime() {
    SceneGenerator.Scene sc = new SceneGenerator(64, 64).generate(3, 0);
    FloatTensor img = sc.toTensor();
    // the scene's largest object class, and a box over the upper left of its pixels
    int[] count = new int[SceneGenerator.NUM_CLASSES];
    for (byte l : sc.labels()) {
      count[l]++;
    }
    int cls = 1;
    for (int c = 2; c < count.length; c++) {
      cls = count[c] > count[cls] ? c : cls;
    }
    int x1 = 0;
    int y1 = 0;
    for (int p = 0; p < sc.labels().length; p++) {
      if (sc.labels()[p] == cls) {
        x1 = Math.max(x1, p % 64 + 1);
        y1 = Math.max(y1, p / 64 + 1);
      }
    }
    List<Target> targets =
        List.of(Target.predicted(cls), Target.box(cls, 0, 0, x1, y1), Target.largestComponent(cls));
    try (Explainer ex = Explainer.open(Path.of("weights/scene-unet"))) {
      ex.emptyTargetsAsZero(true);
      List<CamResult> rs = new ArrayList<>();
      rs.addAll(ex.explain(img, targets, CamMethod.GRAD_CAM));
      rs.addAll(ex.explain(img, targets, CamMethod.HIRES_CAM));
      rs.add(rs.get(0)); // the very same map twice
      Faithfulness.Options shared = new Faithfulness.Options(STEPS, new Faithfulness.Blur(3), 4);
      int[] done = {0};
      List<Faithfulness.Curves> all = Faithfulness.curves(ex, img, rs, shared, n -> done[0] = n);
      assertEquals(Faithfulness.forwards(1, rs.size(), shared), done[0]);
      Faithfulness.Options alone = new Faithfulness.Options(STEPS, new Faithfulness.Blur(3), 1);
      for (int r = 0; r < rs.size(); r++) {
        Faithfulness.Curves one =
            Faithfulness.curves(ex, img, List.of(rs.get(r)), alone, null).get(0);
        for (int s = 0; s <= STEPS; s++) {
          String at = "result " + r + " step " + s;
          assertEquals(one.deletion().scores()[s], all.get(r).deletion().scores()[s], PROB_TOL, at);
          assertEquals(
              one.insertion().scores()[s], all.get(r).insertion().scores()[s], PROB_TOL, at);
          assertTrue(
              one.deletion().scores()[s] >= 0 && one.deletion().scores()[s] <= 1,
              at + " " + one.deletion().scores()[s] + " class " + cls + " " + rs.get(r).score());
        }
        assertEquals(one.deletion().auc(), all.get(r).deletion().auc(), PROB_TOL);
        assertEquals(one.insertion().auc(), all.get(r).insertion().auc(), PROB_TOL);
      }
      int last = rs.size() - 1;
      assertArrayEquals(all.get(0).deletion().scores(), all.get(last).deletion().scores());
      assertArrayEquals(all.get(0).insertion().scores(), all.get(last).insertion().scores());
      // both curves of a map end where the other starts: the same two images, run once
      for (Faithfulness.Curves c : all) {
        assertEquals(c.deletion().scores()[0], c.insertion().scores()[STEPS]);
        assertEquals(c.deletion().scores()[STEPS], c.insertion().scores()[0]);
        assertTrue(c.deletion().scores()[0] > 0, "the image scores its own region");
      }
    }
  }
}
