package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.CamBackend;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.testing.Tolerance;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The pipeline end to end on the CPU engine, over tiny graphs built in the test. To run it on
 * another backend, subclass and override {@link #create(Graph)} (and {@link #batchTolerance()}).
 */
public class CpuEndToEndTest {
  protected CamBackend create(Graph g) {
    return CpuCamBackend.create(g);
  }

  /** Batched vs single runs of the same backend. */
  protected Tolerance batchTolerance() {
    return Tolerance.SAME;
  }

  private Explainer explainer(Graph g) {
    return new Explainer(create(g));
  }

  /** Central differences of float forwards (step 1e-2) against the backward. */
  private static final Tolerance FINITE_DIFF = new Tolerance(2e-2, 2e-3);

  private static final float STEP = 1e-2f;

  private final Random rnd = new Random(17);

  private FloatTensor rand(int... dims) {
    float[] v = new float[Shape.of(dims).size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) rnd.nextGaussian();
    }
    return new FloatTensor(Shape.of(dims), v);
  }

  private Op conv(int k, int cin, int cout) {
    return new Op.Conv2D(
        rand(k, k, cin, cout).reshape(Shape.of(k, k, cin, cout)),
        rand(cout),
        1,
        1,
        1,
        1,
        Padding.SAME);
  }

  private static Op relu() {
    return new Op.Activation(Op.ActivationKind.RELU, 0f);
  }

  /** in 8x8x3 -> r1 (8x8x4) -> pool (4x4) -> r2 (4x4x6) -> resize 8x8 -> logits (8x8xC). */
  private Graph segNet(int classes, Op last) {
    Graph.Builder b = Graph.builder();
    b.add("in", new Op.Input(Shape.of(-1, 8, 8, 3)));
    b.add("c1", conv(3, 3, 4), "in");
    b.add("r1", relu(), "c1");
    b.add("pool", new Op.Pool(Op.PoolKind.MAX, 2, 2, 2, 2, Padding.VALID), "r1");
    b.add("c2", conv(3, 4, 6), "pool");
    b.add("r2", relu(), "c2");
    b.add("up", new Op.Resize(Op.ResizeMode.BILINEAR, 8, 8, false, true), "r2");
    b.add("logits", conv(1, 6, classes), "up");
    if (last != null) {
      b.add("act", last, "logits");
      b.output("out", "act");
    } else {
      b.output("out", "logits");
    }
    return b.build();
  }

  @Test
  void kTargetsBatchedEqualSingleRunsOnTheEngine() {
    try (Explainer ex = explainer(segNet(3, new Op.Softmax()))) {
      assertEquals("r2", ex.defaultLayer());
      FloatTensor images = rand(2, 8, 8, 3);
      List<Target> targets =
          List.of(
              Target.pixel(0, 3, 4),
              Target.box(1, 2, 2, 6, 5).withScore(ScoreMode.PROBABILITIES),
              Target.image(2));
      List<String> layers = List.of("r2", "r1");
      for (CamMethod m : CamMethod.values()) {
        List<CamResult> all = ex.explain(images, targets, layers, m);
        for (int t = 0; t < targets.size(); t++) {
          List<CamResult> one = ex.explain(images, List.of(targets.get(t)), layers, m);
          for (int i = 0; i < 2; i++) {
            for (int l = 0; l < 2; l++) {
              CamResult a = all.get((i * targets.size() + t) * 2 + l);
              CamResult s = one.get(i * 2 + l);
              String what = m + " image " + i + " target " + t + " " + a.layer();
              assertEquals(s.score(), a.score(), what);
              batchTolerance().assertClose(what, s.rawMap(), a.rawMap());
              batchTolerance().assertClose(what, s.heatmap(), a.heatmap());
            }
          }
        }
        CamResult r2 = all.get(0);
        assertEquals(Shape.of(4, 4), r2.rawMap().shape());
        assertEquals(Shape.of(8, 8), r2.heatmap().shape());
        assertEquals(Shape.of(8, 8), all.get(1).rawMap().shape());
      }
    }
  }

  @Test
  void gradCamWeightsAtTheInputMatchFiniteDifferences() {
    // a_c at the input = mean_uv dS/dx_uvc, and shifting channel c everywhere by h changes S by
    // about h * H * W * a_c
    try (Explainer ex = explainer(segNet(3, null))) {
      FloatTensor x = rand(1, 8, 8, 3);
      List<Target> t = List.of(Target.box(1, 1, 2, 7, 6));
      CamResult r = ex.explain(x, t, List.of("in"), CamMethod.GRAD_CAM).get(0);
      float[] numeric = new float[3];
      for (int c = 0; c < 3; c++) {
        float[] plus = x.data().clone();
        float[] minus = x.data().clone();
        for (int p = 0; p < 64; p++) {
          plus[p * 3 + c] += STEP;
          minus[p * 3 + c] -= STEP;
        }
        float sp =
            ex.explain(new FloatTensor(x.shape(), plus), t, List.of("in"), CamMethod.GRAD_CAM)
                .get(0)
                .score();
        float sm =
            ex.explain(new FloatTensor(x.shape(), minus), t, List.of("in"), CamMethod.GRAD_CAM)
                .get(0)
                .score();
        numeric[c] = (float) ((sp - sm) / (2.0 * STEP * 64));
      }
      FINITE_DIFF.assertClose("input channel weights", numeric, r.weights());
    }
  }

  @Test
  void classifierIsTheOneByOneCase() {
    Graph.Builder b = Graph.builder();
    b.add("in", new Op.Input(Shape.of(-1, 6, 6, 3)));
    b.add("c1", conv(3, 3, 5), "in");
    b.add("r1", relu(), "c1");
    b.add("gap", new Op.SpatialMean(false), "r1");
    b.add("dense", new Op.MatMul(rand(5, 4), rand(4)), "gap");
    b.add("probs", new Op.Softmax(), "dense");
    b.output("out", "probs");
    try (Explainer ex = explainer(b.build())) {
      assertEquals("r1", ex.defaultLayer());
      FloatTensor x = rand(2, 6, 6, 3);
      List<CamResult> whole = ex.explain(x, List.of(Target.image(2)), CamMethod.GRAD_CAM);
      List<CamResult> pixel = ex.explain(x, List.of(Target.pixel(2, 0, 0)), CamMethod.GRAD_CAM);
      for (int i = 0; i < 2; i++) {
        batchTolerance().assertClose("1x1", whole.get(i).heatmap(), pixel.get(i).heatmap());
        assertEquals(1, whole.get(i).predicted().height());
      }
      var e =
          assertThrows(
              CamException.PixelOutOfRangeException.class,
              () -> ex.explain(x, List.of(Target.pixel(0, 1, 0)), CamMethod.GRAD_CAM));
      assertTrue(e.getMessage().contains("1x1"), e.getMessage());
    }
  }

  @Test
  void singleSigmoidChannelHasForegroundAndBackground() {
    try (Explainer ex = explainer(segNet(1, new Op.Activation(Op.ActivationKind.SIGMOID, 0f)))) {
      FloatTensor x = rand(1, 8, 8, 3);
      List<Target> ts =
          List.of(
              Target.box(1, 0, 0, 4, 4),
              Target.box(0, 0, 0, 4, 4),
              Target.box(1, 0, 0, 4, 4).withScore(ScoreMode.PROBABILITIES),
              Target.box(0, 0, 0, 4, 4).withScore(ScoreMode.PROBABILITIES));
      List<CamResult> r = ex.explain(x, ts, List.of("r2"), CamMethod.GRAD_CAM);
      // logits: background is -z, so its gradient is exactly the negated foreground gradient
      assertEquals(-r.get(0).score(), r.get(1).score(), 1e-5);
      float[] neg = r.get(0).weights().clone();
      for (int i = 0; i < neg.length; i++) {
        neg[i] = -neg[i];
      }
      batchTolerance().assertClose("background weights", neg, r.get(1).weights());
      // probabilities: p + (1 - p) = 1 on each of the 16 pixels
      assertEquals(16f, r.get(2).score() + r.get(3).score(), 1e-4);
      var e =
          assertThrows(
              CamException.ClassOutOfRangeException.class,
              () -> ex.explain(x, List.of(Target.image(2)), CamMethod.GRAD_CAM));
      assertTrue(e.getMessage().contains("background"), e.getMessage());
    }
  }
}
