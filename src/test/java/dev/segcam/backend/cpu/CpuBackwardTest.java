package dev.segcam.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.NotDifferentiableException;
import dev.segcam.backend.cpu.grad.GradCheck;
import dev.segcam.backend.cpu.grad.RefForward;
import dev.segcam.backend.cpu.grad.RefForward.D;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Op.ActivationKind;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.ir.UnknownNodeException;
import dev.segcam.testing.Tolerance;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The backward pass over whole graphs: branches, batched targets, TF's tie rules, errors. */
class CpuBackwardTest {
  private static final Parallel WORKERS = new Parallel(3);

  @AfterAll
  static void closePool() {
    WORKERS.close();
  }

  private static FloatTensor rand(Random rnd, int... dims) {
    return GradCheck.tensor(rnd, Shape.of(dims));
  }

  /**
   * A small U-Net-like graph: encoder conv, a skip used three times (pool, concat, side conv), a
   * bottleneck, a transposed-conv upsampling, concat, residual add and softmax.
   */
  static Graph unet(Random rnd) {
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(Shape.of(-1, 8, 8, 3)));
    b.add("c1", new Op.Conv2D(rand(rnd, 3, 3, 3, 4), rand(rnd, 4), 1, 1, 1, 1, Padding.SAME), "x");
    b.add("skip", new Op.Activation(ActivationKind.ELU, 0), "c1");
    b.add("p1", new Op.Pool(Op.PoolKind.MAX, 2, 2, 2, 2, Padding.VALID), "skip");
    b.add("c2", new Op.Conv2D(rand(rnd, 3, 3, 4, 6), null, 1, 1, 1, 1, Padding.SAME), "p1");
    b.add("bn2", new Op.BatchNorm(rand(rnd, 6), rand(rnd, 6)), "c2");
    b.add("mid", new Op.Activation(ActivationKind.RELU, 0), "bn2");
    b.add(
        "up",
        new Op.Conv2DTranspose(rand(rnd, 2, 2, 4, 6), rand(rnd, 4), 2, 2, Padding.SAME, -1, -1),
        "mid");
    b.add("cat", new Op.Concat(3), "up", "skip");
    b.add("c3", new Op.Conv2D(rand(rnd, 3, 3, 8, 3), null, 1, 1, 1, 1, Padding.SAME), "cat");
    b.add("side", new Op.Conv2D(rand(rnd, 1, 1, 4, 3), null, 1, 1, 1, 1, Padding.SAME), "skip");
    b.add("sum", new Op.Binary(Op.BinaryKind.ADD), "c3", "side");
    b.add("probs", new Op.Softmax(), "sum");
    b.output("probs", "probs");
    return b.build();
  }

  @Test
  void multiBranchGraphMatchesFiniteDifferences() {
    long s = System.nanoTime();
    Random rnd = new Random(s);
    Graph g = unet(rnd);
    Map<String, D> in = Map.of("x", GradCheck.dtensor(rnd, -1, 1, 2, 8, 8, 3));
    GradCheck.check("U-Net", g, in, "probs", List.of("mid", "skip", "x"), s, WORKERS);
  }

  /** Only the bottleneck: the conv after the concat then skips the encoder half's channels. */
  @Test
  void bottleneckOnlyMatchesFiniteDifferences() {
    long s = System.nanoTime();
    Random rnd = new Random(s);
    Graph g = unet(rnd);
    Map<String, D> in = Map.of("x", GradCheck.dtensor(rnd, -1, 1, 2, 8, 8, 3));
    GradCheck.check("U-Net bottleneck", g, in, "probs", List.of("mid"), s, WORKERS);
  }

  @Test
  void batchedTargetsEqualSeparateRuns() {
    Random rnd = new Random(System.nanoTime());
    Graph g = unet(rnd);
    int n = 2;
    int k = 3;
    Map<String, FloatTensor> values =
        RefForward.toFloat(
            RefForward.run(g, Map.of("x", GradCheck.dtensor(rnd, -1, 1, n, 8, 8, 3)), Map.of()));
    int per = 8 * 8 * 3;
    FloatTensor seeds = rand(rnd, n * k, 8, 8, 3);
    List<String> layers = List.of("mid", "skip");
    Map<String, FloatTensor> all =
        CpuBackward.backward(
            g, values, Map.of("probs", seeds), layers, WORKERS, CpuOpTable.TABLE, false);
    for (int t = 0; t < k; t++) {
      float[] part = Arrays.copyOfRange(seeds.data(), t * n * per, (t + 1) * n * per);
      Map<String, FloatTensor> one =
          CpuBackward.backward(
              g, values, Map.of("probs", new FloatTensor(Shape.of(n, 8, 8, 3), part)), layers);
      for (String l : layers) {
        FloatTensor big = all.get(l);
        assertEquals(n * k, big.shape().dim(0));
        int size = one.get(l).size();
        Tolerance.SAME.assertClose(
            "target " + t + " of " + l,
            one.get(l).data(),
            Arrays.copyOfRange(big.data(), t * size, (t + 1) * size));
      }
    }
  }

  @Test
  void maxPoolRoutesToFirstMaximumAndReluIsZeroAtZero() {
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(Shape.of(1, 2, 6, 1)));
    b.add("r", new Op.Activation(ActivationKind.RELU, 0), "x");
    b.add("p", new Op.Pool(Op.PoolKind.MAX, 2, 2, 2, 2, Padding.VALID), "r");
    b.output("p", "p");
    Graph g = b.build();
    // windows (row-major): [-1 -2 / -3 -4] -> all ReLU zeros; [.3 .7 / .7 .1]; [0 -1 / 0 .0]
    float[] x = {-1, -2, 0.3f, 0.7f, 0, -1, -3, -4, 0.7f, 0.1f, 0, 0};
    FloatTensor xt = new FloatTensor(Shape.of(1, 2, 6, 1), x);
    Map<String, FloatTensor> values = new HashMap<>();
    values.put("x", xt);
    float[] r = x.clone();
    for (int i = 0; i < r.length; i++) {
      r[i] = Math.max(r[i], 0);
    }
    values.put("r", new FloatTensor(xt.shape(), r));
    values.put("p", new FloatTensor(Shape.of(1, 1, 3, 1), new float[] {0, 0.7f, 0}));
    FloatTensor seed = new FloatTensor(Shape.of(1, 1, 3, 1), new float[] {2, 3, 5});
    Map<String, FloatTensor> got =
        CpuBackward.backward(g, values, Map.of("p", seed), List.of("r", "x"));
    assertArrayEquals(new float[] {2, 0, 0, 3, 5, 0, 0, 0, 0, 0, 0, 0}, got.get("r").data());
    // Relu passes nothing where x <= 0, including x == 0 exactly
    assertArrayEquals(new float[] {0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0}, got.get("x").data());
  }

  @Test
  void layerNotAffectingTheOutputIsATypedError() {
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(Shape.of(-1, 4)));
    b.add("a", new Op.Activation(ActivationKind.TANH, 0), "x");
    b.add("other", new Op.Activation(ActivationKind.SIGMOID, 0), "x");
    b.output("a", "a").output("other", "other");
    Graph g = b.build();
    Random rnd = new Random(System.nanoTime());
    Map<String, FloatTensor> values =
        RefForward.toFloat(
            RefForward.run(g, Map.of("x", GradCheck.dtensor(rnd, -1, 1, 1, 4)), Map.of()));
    Map<String, FloatTensor> seeds = Map.of("a", rand(rnd, 1, 4));
    NotDifferentiableException e =
        assertThrows(
            NotDifferentiableException.class,
            () -> CpuBackward.backward(g, values, seeds, List.of("other")));
    assertTrue(e.getMessage().contains("'other'") && e.getMessage().contains("a"), e.getMessage());
    assertThrows(
        UnknownNodeException.class, () -> CpuBackward.backward(g, values, seeds, List.of("nope")));
  }

  @Test
  void aRuleErrorCarriesItsNodeAsStructuredFields() {
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(Shape.of(-1, 4)));
    b.add("t", new Op.Activation(ActivationKind.TANH, 0), "x");
    b.add("cat", new Op.Concat(0), "t", "t");
    b.output("cat", "cat");
    Graph g = b.build();
    Random rnd = new Random(System.nanoTime());
    Map<String, FloatTensor> values =
        RefForward.toFloat(
            RefForward.run(g, Map.of("x", GradCheck.dtensor(rnd, -1, 1, 1, 4)), Map.of()));
    NotDifferentiableException e =
        assertThrows(
            NotDifferentiableException.class,
            () -> CpuBackward.backward(g, values, Map.of("cat", rand(rnd, 2, 4)), List.of("x")));
    assertEquals("cat", e.where().node());
    assertEquals("Concat", e.where().op());
    assertTrue(e.getMessage().startsWith("node 'cat' (Concat): "), e.getMessage());
    assertTrue(e.reason().contains("batch axis"), e.reason());
  }

  @Test
  void stopsAtTheDeepestRequestedLayer() {
    Random rnd = new Random(System.nanoTime());
    Graph g = unet(rnd);
    Map<String, FloatTensor> values =
        RefForward.toFloat(
            RefForward.run(g, Map.of("x", GradCheck.dtensor(rnd, -1, 1, 1, 8, 8, 3)), Map.of()));
    Map<String, FloatTensor> full =
        CpuBackward.backward(g, values, Map.of("probs", rand(rnd, 1, 8, 8, 3)), List.of("mid"));
    // nothing below "mid" (nor the side branch) is needed: drop their values
    for (String gone : List.of("x", "c1", "p1", "c2", "bn2", "side")) {
      values.remove(gone);
    }
    FloatTensor seed = rand(rnd, 1, 8, 8, 3);
    Map<String, FloatTensor> a =
        CpuBackward.backward(g, values, Map.of("probs", seed), List.of("mid"));
    assertEquals(Shape.of(1, 4, 4, 6), a.get("mid").shape());
    assertEquals(1, full.size());
  }

  @Test
  void seedsOnSeveralNodesAdd() {
    Random rnd = new Random(System.nanoTime());
    Graph g = unet(rnd);
    Map<String, FloatTensor> values =
        RefForward.toFloat(
            RefForward.run(g, Map.of("x", GradCheck.dtensor(rnd, -1, 1, 1, 8, 8, 3)), Map.of()));
    FloatTensor s1 = rand(rnd, 1, 8, 8, 3);
    FloatTensor s2 = rand(rnd, 1, 8, 8, 3);
    List<String> l = List.of("skip");
    float[] both =
        CpuBackward.backward(g, values, Map.of("probs", s1, "sum", s2), l).get("skip").data();
    float[] one = CpuBackward.backward(g, values, Map.of("probs", s1), l).get("skip").data();
    float[] two = CpuBackward.backward(g, values, Map.of("sum", s2), l).get("skip").data();
    float[] added = new float[one.length];
    double max = 0;
    for (int i = 0; i < added.length; i++) {
      added[i] = one[i] + two[i];
      max = Math.max(max, Math.abs(added[i]));
    }
    // the same linear maps applied to a sum vs summed afterwards: float32 rounding of terms as
    // large as the largest gradient, so the absolute slack scales with it
    new Tolerance(1e-5, 1e-5 * max).assertClose("two seeds", added, both);
  }
}
