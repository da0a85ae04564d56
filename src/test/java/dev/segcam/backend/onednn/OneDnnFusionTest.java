package dev.segcam.backend.onednn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.BackwardPlan;
import dev.segcam.backend.OpTable;
import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.backend.cpu.CpuFusion;
import dev.segcam.backend.cpu.CpuOpTable;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.testing.ObservedFusion;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.RequiresOneDnn;
import dev.segcam.testing.Tolerance;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Convolution + activation fused into one oneDNN primitive ({@link OneDnnFusion}, planned by {@link
 * CpuEngine}) against the same table run unfused: every kept value and the data gradients of a
 * backward reading the fused forward's values, fresh random inputs, every element.
 */
@RequiresOneDnn
class OneDnnFusionTest {
  // the widest convolution below sums 3·3·16 products of operands in about [-1, 1]
  private static final Tolerance FORWARD = Accumulation.overTerms(3 * 3 * 16);
  // the gradient runs back through five convolutions: one rounding of each, grown by the layers
  private static final Tolerance GRADIENT = Accumulation.overTerms(5 * 3 * 3 * 16);

  static OneDnnContext ctx;
  static OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> table;
  static Random rng;

  @BeforeAll
  static void start() {
    ctx = OneDnnContext.open();
    table = OneDnnOpTable.of(ctx);
    rng = new Random(RandomTensors.freshSeed("OneDnnFusionTest"));
  }

  @AfterAll
  static void stop() {
    if (ctx != null) {
      ctx.close();
    }
  }

  /** Records the producers fused, in order. */
  private static final class Counting {
    final List<Op> fused = new ArrayList<>();
    final CpuFusion fusion =
        new ObservedFusion(OneDnnFusion.of(ctx), (p, act, in, out, nanos) -> fused.add(p));
  }

  private static FloatTensor rand(int... dims) {
    return RandomTensors.uniform(rng, Shape.of(dims), -1, 1);
  }

  private static Op.Conv2D conv(int c, int f) {
    return new Op.Conv2D(rand(3, 3, c, f), rand(f), 1, 1, 1, 1, Padding.SAME);
  }

  /**
   * x -> c1 -> relu -> c2 -> relu6 -> dw -> leaky(0.2) -> c3 -> tanh -> c4 -> leaky(-0.3) -> up
   * (transposed, stride 2) -> relu -> out, and c1's output also read by a second branch (so c1 must
   * not fuse).
   */
  private static Graph graph() {
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(Shape.of(-1, -1, -1, 5)));
    b.add("c1", conv(5, 8), "x");
    b.add("a1", new Op.Activation(Op.ActivationKind.RELU, 0f), "c1");
    b.add("c2", conv(8, 16), "a1");
    b.add("a2", new Op.Activation(Op.ActivationKind.RELU6, 0f), "c2");
    b.add(
        "dw", new Op.DepthwiseConv2D(rand(3, 3, 16, 1), rand(16), 1, 1, 1, 1, Padding.SAME), "a2");
    b.add("a3", new Op.Activation(Op.ActivationKind.LEAKY_RELU, 0.2f), "dw");
    b.add("c3", conv(16, 8), "a3");
    b.add("a4", new Op.Activation(Op.ActivationKind.TANH, 0f), "c3");
    b.add("c4", conv(8, 8), "a4");
    b.add("a5", new Op.Activation(Op.ActivationKind.LEAKY_RELU, -0.3f), "c4");
    b.add(
        "up", new Op.Conv2DTranspose(rand(2, 2, 6, 8), rand(6), 2, 2, Padding.VALID, -1, -1), "a5");
    b.add("a6", new Op.Activation(Op.ActivationKind.RELU, 0f), "up");
    b.add("side", new Op.Activation(Op.ActivationKind.SIGMOID, 0f), "c1");
    b.output("out", "a6");
    b.output("side", "side");
    return b.build();
  }

  @Test
  void fusedForwardEqualsUnfusedAndKeepsWhatIsAskedFor() {
    Graph g = graph();
    Map<String, FloatTensor> in = Map.of("x", rand(2, 9, 11, 5));
    Counting fusion = new Counting();
    try (CpuEngine plain = new CpuEngine(g, 2, table);
        CpuEngine fused = new CpuEngine(g, 2, table, fusion.fusion)) {
      Map<String, FloatTensor> ref = plain.forward(in, null);
      // c3's own (pre-activation) output is asked for: it must not fuse, and stay correct
      Set<String> keep = Set.of("a1", "a2", "a3", "a4", "c3");
      try (CpuEngine.Run run = fused.forwardPass(in, keep)) {
        for (String k : List.of("a1", "a2", "a3", "a4", "c3", "a6", "side")) {
          FORWARD.assertClose("fused " + k, ref.get(k).data(), run.values().get(k).data());
        }
        assertFalse(run.values().containsKey("c2"), "a fused conv keeps no value of its own");
      }
      // c1 has two readers, c3 is kept: c2, dw, c4 (with its negative-slope LeakyRelu) and up fuse
      assertEquals(
          List.of(g.node("c2").op(), g.node("dw").op(), g.node("c4").op(), g.node("up").op()),
          fusion.fused);
      // the pre-activation value has negatives, the activated one none: the kept c3 is not a4
      assertTrue(hasNegative(plainValue(plain, in, "c3")));
      // a forward that keeps everything fuses nothing
      fusion.fused.clear();
      fused.forward(in, null);
      assertTrue(fusion.fused.isEmpty());
    }
  }

  @Test
  void gradientReadsTheFusedForwardsValues() {
    Graph g = graph();
    Map<String, FloatTensor> in = Map.of("x", rand(1, 12, 10, 5));
    // seed the output, gradient at a1: back through every fused pair (ReLU family reading y)
    Set<String> seedsAndLayers = Set.of("a6", "a1");
    Set<String> needed = BackwardPlan.valuesFor(g, seedsAndLayers);
    assertFalse(needed.contains("c2"), "a ReLU's gradient reads its output: " + needed);
    Counting fusion = new Counting();
    try (CpuEngine plain = new CpuEngine(g, 2, table);
        CpuEngine fused = new CpuEngine(g, 2, table, fusion.fusion)) {
      Map<String, FloatTensor> all = plain.forward(in, null);
      FloatTensor seed = rand(all.get("a6").shape().dims());
      Map<String, FloatTensor> ref =
          CpuBackward.backward(
              g, all, Map.of("a6", seed), List.of("a1"), plain.parallel(), table, false);
      try (CpuEngine.Run run = fused.forwardPass(in, needed)) {
        Map<String, FloatTensor> got =
            CpuBackward.backward(
                g,
                run.values(),
                run.shapes(),
                Map.of("a6", seed),
                List.of("a1"),
                fused.parallel(),
                table,
                false);
        GRADIENT.assertClose("dS/d a1", ref.get("a1").data(), got.get("a1").data());
      }
      // a5 (negative slope) reads its input c4, kept: c2, dw, c3 and up fuse
      assertEquals(
          List.of(g.node("c2").op(), g.node("dw").op(), g.node("c3").op(), g.node("up").op()),
          fusion.fused);
    }
  }

  private static FloatTensor plainValue(CpuEngine e, Map<String, FloatTensor> in, String k) {
    return e.forward(in, List.of(k)).get(k);
  }

  private static boolean hasNegative(FloatTensor t) {
    for (float v : t.data()) {
      if (v < 0) {
        return true;
      }
    }
    return false;
  }
}
