package dev.segcam.backend.onednn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.segcam.backend.OpTable;
import dev.segcam.backend.cpu.Arena;
import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.backend.cpu.CpuOpTable;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Op.ActivationKind;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.RequiresOneDnn;
import dev.segcam.testing.Tolerance;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The backward driver on oneDNN's table against the Java engine's (the reference), over a small
 * U-Net with a skip Concat, on fresh random inputs and seeds, every element of every returned
 * gradient (against each layer's own run, where no rule ever writes into a returned gradient): the
 * Java element-wise rules writing into dy where the pass may overwrite it, the parallel Concat
 * split, and the decoder conv's data gradient over only the Concat channels whose input needs a
 * gradient (layer below the upsampling: the skip half is never read). Run inside an arena pass (as
 * the Explainer runs it, so gradients are recycled and dy may be overwritten) and outside one; with
 * one target and with K targets as a batch; plain and guided.
 */
@RequiresOneDnn
class OneDnnBackwardTest {
  private static final int N = 2;
  private static final int SIZE = 16;

  /**
   * The longest chain of float32 sums a returned gradient passes through: c3's data gradient (3·3·4
   * terms), then the transposed conv's (2·2·8) and c2's (3·3·16) on the way to the input; 1000
   * covers it with room.
   */
  private static final long ACCUMULATION = 1000;

  /** The Java engine against itself: the same rules in the same order, bit for bit. */
  private static final Tolerance EXACT = new Tolerance(0, 0);

  static Parallel par;
  static OneDnnContext ctx;
  static Random rng;

  @BeforeAll
  static void start() {
    par = new Parallel(2);
    ctx = OneDnnContext.open();
    rng = new Random(RandomTensors.freshSeed("OneDnnBackwardTest"));
  }

  @AfterAll
  static void stop() {
    if (ctx != null) {
      ctx.close();
    }
    par.close();
  }

  /** Weights uniform in ±1/sqrt(fan-in), so activations and gradients stay about 1. */
  private static FloatTensor weights(int fanIn, int... dims) {
    float a = (float) (1 / Math.sqrt(fanIn));
    return RandomTensors.uniform(rng, Shape.of(dims), -a, a);
  }

  /**
   * x -> conv -> relu "skip" -> pool -> conv -> relu "mid" -> mid + mid -> deconv -> relu "upr" ->
   * concat [upr, skip] -> relu(3x3 conv) + 1x1 conv (a residual Add: dy reaches both) -> softmax ->
   * tanh.
   */
  private static Graph unet() {
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(Shape.of(-1, SIZE, SIZE, 3)));
    b.add(
        "c1", new Op.Conv2D(weights(27, 3, 3, 3, 8), weights(1, 8), 1, 1, 1, 1, Padding.SAME), "x");
    b.add("skip", new Op.Activation(ActivationKind.RELU, 0), "c1");
    b.add("p1", new Op.Pool(Op.PoolKind.MAX, 2, 2, 2, 2, Padding.VALID), "skip");
    b.add("c2", new Op.Conv2D(weights(72, 3, 3, 8, 16), null, 1, 1, 1, 1, Padding.SAME), "p1");
    b.add("mid", new Op.Activation(ActivationKind.RELU, 0), "c2");
    b.add("twice", new Op.Binary(Op.BinaryKind.ADD), "mid", "mid");
    b.add(
        "up",
        new Op.Conv2DTranspose(weights(32, 2, 2, 8, 16), weights(1, 8), 2, 2, Padding.SAME, -1, -1),
        "twice");
    b.add("upr", new Op.Activation(ActivationKind.RELU, 0), "up");
    b.add("cat", new Op.Concat(3), "upr", "skip");
    // side before c3: the reverse walk runs r3's rule (element-wise, may write into its dy) before
    // side's, which reads the same dy through the Add
    b.add("side", new Op.Conv2D(weights(16, 1, 1, 16, 4), null, 1, 1, 1, 1, Padding.SAME), "cat");
    b.add("c3", new Op.Conv2D(weights(144, 3, 3, 16, 4), null, 1, 1, 1, 1, Padding.SAME), "cat");
    b.add("r3", new Op.Activation(ActivationKind.RELU, 0), "c3");
    b.add("res", new Op.Binary(Op.BinaryKind.ADD), "r3", "side");
    // res's gradient: Add's dy passed through (shared), then z's own array, summed into the latter
    b.add("z", new Op.Conv2D(weights(4, 1, 1, 4, 4), null, 1, 1, 1, 1, Padding.SAME), "res");
    b.add("mix", new Op.Binary(Op.BinaryKind.ADD), "res", "z");
    b.add("sm", new Op.Softmax(), "mix"); // its dy (tanh's gradient) may be overwritten
    b.add("out", new Op.Activation(ActivationKind.TANH, 0), "sm");
    b.output("out", "out");
    return b.build();
  }

  private static Map<String, FloatTensor> backward(
      Graph g,
      Map<String, FloatTensor> values,
      FloatTensor seed,
      List<String> layers,
      OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> table,
      boolean guided,
      Arena.Pass pass) {
    Map<String, FloatTensor> seeds = Map.of("out", seed.copy()); // never the test's array
    if (pass == null) {
      return CpuBackward.backward(g, values, seeds, layers, par, table, guided);
    }
    try (Arena.Pass.Scope in = pass.enter()) {
      return CpuBackward.backward(g, values, seeds, layers, par, table, guided);
    }
  }

  @ParameterizedTest(name = "layers {0}, {1} target(s), guided {2}")
  @CsvSource({
    "mid, 1, false",
    "mid, 3, false",
    "mid upr skip, 1, false",
    "mid upr skip x, 3, false",
    "mid upr, 2, true",
  })
  void oneDnnTableInAnArenaPassEqualsTheJavaEngine(String names, int k, boolean guided) {
    Graph g = unet();
    List<String> layers = List.of(names.split(" "));
    FloatTensor image = RandomTensors.uniform(rng, Shape.of(N, SIZE, SIZE, 3), -1, 1);
    Map<String, FloatTensor> values;
    try (CpuEngine engine = new CpuEngine(g, 2)) {
      values = engine.forward(Map.of("x", image), null);
    }
    FloatTensor seed = RandomTensors.uniform(rng, Shape.of(k * N, SIZE, SIZE, 4), -1, 1);
    // the reference: each layer alone, outside a pass (the deepest layer's own rule never runs,
    // so no rule may write into the gradient returned), the Java engine's rules
    Map<String, FloatTensor> ref = new java.util.HashMap<>();
    for (String l : layers) {
      ref.put(l, backward(g, values, seed, List.of(l), CpuOpTable.TABLE, guided, null).get(l));
    }
    Arena arena = new Arena();
    for (int round = 0; round < 2; round++) { // the second reuses the first's arrays
      try (Arena.Pass pass = arena.open()) {
        Map<String, FloatTensor> java =
            backward(g, values, seed, layers, CpuOpTable.TABLE, guided, pass);
        Map<String, FloatTensor> dnn =
            backward(g, values, seed, layers, OneDnnOpTable.of(ctx), guided, pass);
        assertEquals(layers, List.copyOf(dnn.keySet()));
        for (String l : layers) {
          FloatTensor r = ref.get(l);
          assertEquals(r.shape(), dnn.get(l).shape(), l);
          // same rules, same order: an in-place write gone wrong shows as a difference
          EXACT.assertClose("Java engine in a pass, " + l, r, java.get(l));
          Tolerance.reassociated(ACCUMULATION, Tolerance.maxAbs(r.data()))
              .assertClose("oneDNN, " + l, r, dnn.get(l));
        }
      }
    }
  }
}
