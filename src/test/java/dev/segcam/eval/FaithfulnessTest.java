package dev.segcam.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.Target;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.synth.SceneGenerator;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Deletion/insertion curves on the shipped model against the same perturbations built and scored
 * here, one forward per image, independently of the batching in {@link Faithfulness#curves}.
 */
class FaithfulnessTest {
  /** Float32 forward of the same image in another batch: the probability agrees to 1e-5. */
  static final double PROB_TOL = 1e-5;

  static final int STEPS = 4;

  @Test
  void curvesMatchPerturbationsScoredOneByOne() {
    SceneGenerator gen = new SceneGenerator(64, 64);
    SceneGenerator.Scene a = gen.generate(77, 0);
    SceneGenerator.Scene b = gen.generate(77, 1);
    float[] both = new float[2 * 64 * 64 * 3];
    System.arraycopy(a.rgb(), 0, both, 0, a.rgb().length);
    System.arraycopy(b.rgb(), 0, both, a.rgb().length, b.rgb().length);
    FloatTensor images = new FloatTensor(Shape.of(2, 64, 64, 3), both);
    try (Explainer ex = Explainer.open(Path.of("weights/scene-unet"))) {
      List<CamResult> rs =
          ex.explain(
              images,
              List.of(Target.image(SceneGenerator.BACKGROUND), Target.box(0, 3, 5, 40, 30)),
              CamMethod.GRAD_CAM);
      // batch 3 splits the jobs across calls on purpose
      Faithfulness.Options opt = new Faithfulness.Options(STEPS, new Faithfulness.Blur(2.5), 3);
      int[] done = {0};
      List<Faithfulness.Curves> cs = Faithfulness.curves(ex, images, rs, opt, n -> done[0] = n);
      assertEquals(Faithfulness.forwards(2, rs.size(), opt), done[0]);
      assertEquals(rs.size(), cs.size());
      for (int r = 0; r < rs.size(); r++) {
        CamResult res = rs.get(r);
        float[] img = slice(images.data(), res.image());
        float[] base = Faithfulness.blur(img, 64, 64, 3, 2.5);
        int[] order = Faithfulness.order(res.heatmap().data());
        float[] region =
            res.target()
                .region()
                .weights(64, 64, 64, 64, res.predicted(), res.target().classIndex());
        for (int s = 0; s <= STEPS; s++) {
          int k = Faithfulness.changed(s, STEPS, 64 * 64);
          for (boolean ins : new boolean[] {false, true}) {
            float[] p = new float[img.length];
            Faithfulness.perturb(img, base, order, k, 3, ins, p, 0);
            double want = score(ex, p, res.target().classIndex(), region);
            Faithfulness.Curve c = ins ? cs.get(r).insertion() : cs.get(r).deletion();
            assertEquals(want, c.scores()[s], PROB_TOL, "result " + r + " step " + s + " " + ins);
            assertEquals((double) s / STEPS, c.fractions()[s], 1e-12);
          }
        }
        Faithfulness.Curve d = cs.get(r).deletion();
        assertEquals(Faithfulness.auc(d.scores()), d.auc(), 1e-12);
        assertTrue(d.scores()[0] > 0 && d.scores()[0] <= 1);
      }
    }
  }

  private static float[] slice(float[] all, int i) {
    return java.util.Arrays.copyOfRange(all, i * 64 * 64 * 3, (i + 1) * 64 * 64 * 3);
  }

  private static double score(Explainer ex, float[] img, int cls, float[] region) {
    CamBackend b = ex.backend();
    try (CamTensor t = b.upload(new FloatTensor(Shape.of(1, 64, 64, 3), img));
        CamBackend.Forward f = b.forward(b.graph().inputs().get(0), t, Set.of(ex.logitsNode()))) {
      float[] v = f.value(ex.logitsNode()).toHost().data();
      return Faithfulness.regionProbability(v, 0, 64 * 64, 4, cls, region);
    }
  }
}
