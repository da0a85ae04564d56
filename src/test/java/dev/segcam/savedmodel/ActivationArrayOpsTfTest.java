package dev.segcam.savedmodel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.TfOracle;
import dev.segcam.testing.Tolerance;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Split;
import org.tensorflow.op.core.SplitV;
import org.tensorflow.op.core.Unstack;
import org.tensorflow.types.TFloat32;

/**
 * Ops on activations that import as other IR ops or as multi-output nodes (Pack, Unpack, Split,
 * SplitV, Tile, AddN, ClipByValue, IdentityN, ExpandDims/Squeeze at any axis, Softmax on a non-last
 * axis as Keras exports it) and LogSoftmax: each graph built with TensorFlow Java, exported as a
 * SavedModel, imported, and run on the CPU engine; the output and the data gradient of the input
 * against TensorFlow's forward and {@code addGradients} on fresh random inputs, every element at
 * {@link Tolerance#CPU_VS_TF}.
 */
class ActivationArrayOpsTfTest {
  @TempDir Path tmp;

  /** A graph over the input. */
  interface Build extends BiFunction<Ops, Operand<TFloat32>, Operand<TFloat32>> {}

  /**
   * One case: the input shape (batch first), the TF graph over the input that is exported, and the
   * graph whose addGradients is the reference gradient (the same one, or the same function where
   * TF's C++ gradient registry, which addGradients runs, lacks or gets wrong the op's gradient).
   */
  record Case(String name, int[] shape, Build f, Build gradRef) {
    Case(String name, int[] shape, Build f) {
      this(name, shape, f, f);
    }

    @Override
    public String toString() {
      return name;
    }
  }

  private static final int[] X4 = {2, 5, 6, 4};
  private static final int[] X3 = {2, 6, 6};

  static Stream<Case> cases() {
    return Stream.of(
        new Case(
            "Pack axis 1 and -1",
            X3,
            (tf, x) ->
                tf.math.add(
                    tf.stack(List.of(tf.math.tanh(x), x), org.tensorflow.op.core.Stack.axis(1L)),
                    tf.stack(
                        List.of(x, tf.math.square(x)), org.tensorflow.op.core.Stack.axis(-3L)))),
        new Case(
            "Pack rank 4 at -1",
            X4,
            (tf, x) ->
                tf.math.tanh(
                    tf.stack(
                        List.of(x, tf.math.sigmoid(x), x),
                        org.tensorflow.op.core.Stack.axis(-1L)))),
        new Case(
            "Unpack axis 1",
            X4,
            (tf, x) -> {
              List<Operand<TFloat32>> o = unstack(tf, x, 5, 1);
              return tf.math.add(tf.math.mul(o.get(0), o.get(3)), tf.math.tanh(o.get(4)));
            }),
        new Case(
            "Unpack axis -1",
            X3,
            (tf, x) -> {
              List<Operand<TFloat32>> o = unstack(tf, x, 6, -1);
              return tf.math.mul(o.get(5), tf.math.sigmoid(o.get(1)));
            }),
        new Case(
            "Split channels",
            X4,
            (tf, x) -> {
              Split<TFloat32> s = tf.split(tf.constant(-1), x, 2L);
              return tf.math.mul(s.output().get(0), tf.math.sigmoid(s.output().get(1)));
            }),
        new Case(
            "SplitV with -1",
            X4,
            (tf, x) -> {
              SplitV<TFloat32> s =
                  tf.splitV(x, tf.constant(new int[] {1, -1, 2}), tf.constant(2), 3L);
              return tf.concat(
                  List.of(s.output().get(2), tf.math.tanh(s.output().get(0)), s.output().get(1)),
                  tf.constant(2));
            }),
        new Case(
            "Tile", X4, (tf, x) -> tf.math.tanh(tf.tile(x, tf.constant(new int[] {1, 2, 1, 3})))),
        new Case(
            "Tile rank 3",
            X3,
            (tf, x) -> tf.math.mul(tf.tile(x, tf.constant(new int[] {1, 1, 2})), tf.constant(3f))),
        new Case(
            "AddN", X4, (tf, x) -> tf.math.addN(List.of(x, tf.math.tanh(x), tf.math.square(x)))),
        new Case(
            "ClipByValue",
            X4,
            (tf, x) -> tf.math.mul(tf.clipByValue(x, tf.constant(-0.5f), tf.constant(0.7f)), x)),
        new Case(
            "IdentityN (custom_gradient swish)",
            X4,
            (tf, x) -> {
              Operand<TFloat32> sw = tf.math.mul(x, tf.math.sigmoid(x));
              @SuppressWarnings("unchecked")
              Operand<TFloat32> y =
                  (Operand<TFloat32>) tf.identityN(List.of(sw, x)).output().get(0);
              return y;
            },
            // TF's C++ registry has no IdentityN gradient (Python's custom_gradient overrides it)
            (tf, x) -> tf.math.mul(x, tf.math.sigmoid(x))),
        new Case(
            "ExpandDims -1, 2 and Squeeze",
            X4,
            (tf, x) ->
                tf.squeeze(
                    tf.math.tanh(tf.expandDims(tf.expandDims(x, tf.constant(-1)), tf.constant(2))),
                    org.tensorflow.op.core.Squeeze.axis(List.of(-1L)))),
        new Case(
            "Concat axis -2",
            X4,
            (tf, x) -> tf.concat(List.of(tf.math.tanh(x), x, tf.math.square(x)), tf.constant(-2))),
        // Keras 2 hard_sigmoid: clip_by_value(0.2x + 0.5, 0, 1), which Python writes as
        // Minimum/Maximum
        new Case(
            "HardSigmoid (Keras 2)",
            X4,
            (tf, x) ->
                tf.math.maximum(
                    tf.math.minimum(
                        tf.math.add(tf.math.mul(x, tf.constant(0.2f)), tf.constant(0.5f)),
                        tf.constant(1f)),
                    tf.constant(0f))),
        // Keras 3 hard_silu: x * relu6(x + 3) / 6
        new Case(
            "HardSwish (Keras 3)",
            X4,
            (tf, x) ->
                tf.math.mul(
                    x,
                    tf.math.realDiv(
                        tf.nn.relu6(tf.math.add(x, tf.constant(3f))), tf.constant(6f)))),
        // gelu(approximate=True): 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))
        new Case(
            "tanh GELU",
            X4,
            (tf, x) ->
                tf.math.mul(
                    tf.math.mul(tf.constant(0.5f), x),
                    tf.math.add(
                        tf.constant(1f),
                        tf.math.tanh(
                            tf.math.mul(
                                tf.constant(0.7978845608028654f),
                                tf.math.add(
                                    x,
                                    tf.math.mul(
                                        tf.constant(0.044715f),
                                        tf.math.pow(x, tf.constant(3f))))))))),
        new Case(
            "Softmax axis 1 of (N, L, L) as Keras exports it",
            X3,
            (tf, x) -> swapSoftmax(tf, x, new int[] {0, 2, 1})),
        new Case(
            "Softmax axis 1 of NHWC", X4, (tf, x) -> swapSoftmax(tf, x, new int[] {0, 3, 2, 1})),
        new Case(
            "tf.nn.softmax(x, axis=1) as TF 2 writes it",
            X4,
            ActivationArrayOpsTfTest::softmaxAxis1),
        new Case(
            "Max over H,W (GlobalMaxPooling2D)",
            X4,
            (tf, x) ->
                tf.math.tanh(
                    tf.max(
                        x,
                        tf.constant(new int[] {1, 2}),
                        org.tensorflow.op.core.Max.keepDims(false)))),
        new Case(
            "Min over -1 kept",
            X3,
            (tf, x) ->
                tf.math.mul(
                    tf.min(
                        x, tf.constant(new int[] {-1}), org.tensorflow.op.core.Min.keepDims(true)),
                    x)),
        new Case(
            "LogSoftmax rank 4",
            X4,
            (tf, x) -> tf.nn.logSoftmax(x),
            ActivationArrayOpsTfTest::logSoftmaxByHand),
        new Case(
            "LogSoftmax rank 3",
            X3,
            (tf, x) -> tf.nn.logSoftmax(tf.math.mul(x, x)),
            (tf, x) -> logSoftmaxByHand(tf, tf.math.mul(x, x))),
        new Case("LogSoftmax rank 2", new int[] {3, 7}, (tf, x) -> tf.nn.logSoftmax(x)),
        new Case(
            "LogSoftmax axis 1",
            X3,
            (tf, x) -> transposed(tf, tf.nn.logSoftmax(transposed(tf, x))),
            (tf, x) -> transposed(tf, logSoftmaxByHand(tf, transposed(tf, x)))));
  }

  /**
   * tf.nn.softmax(x, axis=1) on a rank-4 x as TensorFlow 2's _wrap_2d_function exports it: the rank
   * a constant (static), the permutation built with Sub, Range and ConcatV2 (swap axis 1 with the
   * last), Transpose, Softmax, and the same Transpose back.
   */
  private static Operand<TFloat32> softmaxAxis1(Ops tf, Operand<TFloat32> x) {
    Operand<org.tensorflow.types.TInt32> last = tf.math.sub(tf.constant(4), tf.constant(1));
    Operand<org.tensorflow.types.TInt32> perm =
        tf.concat(
            List.of(
                tf.range(tf.constant(0), tf.constant(1), tf.constant(1)),
                tf.reshape(last, tf.constant(new int[] {1})),
                tf.range(tf.constant(2), last, tf.constant(1)),
                tf.constant(new int[] {1})),
            tf.constant(0));
    return tf.linalg.transpose(tf.nn.softmax(tf.linalg.transpose(x, perm)), perm);
  }

  private static Operand<TFloat32> transposed(Ops tf, Operand<TFloat32> x) {
    return tf.linalg.transpose(x, tf.constant(new int[] {0, 2, 1}));
  }

  /**
   * x − log Σ_last exp(x): LogSoftmax's function for the reference gradient. TF's C++
   * LogSoftmaxGrad (what addGradients runs, TF 2.18) sums dy over axis 1, not the last axis, so it
   * is right only for rank 2 (Python's gradient sums over the last axis, as segcam does).
   */
  private static Operand<TFloat32> logSoftmaxByHand(Ops tf, Operand<TFloat32> x) {
    return tf.math.sub(
        x,
        tf.math.log(
            tf.sum(
                tf.math.exp(x),
                tf.constant(new int[] {-1}),
                org.tensorflow.op.core.Sum.keepDims(true))));
  }

  private static List<Operand<TFloat32>> unstack(Ops tf, Operand<TFloat32> x, int num, int axis) {
    Unstack<TFloat32> u = tf.unstack(x, (long) num, Unstack.axis((long) axis));
    return u.output().stream().map(o -> (Operand<TFloat32>) o).toList();
  }

  /** tf.nn.softmax(x, axis) for a non-last axis: transpose it last, Softmax, transpose back. */
  private static Operand<TFloat32> swapSoftmax(Ops tf, Operand<TFloat32> x, int[] perm) {
    return tf.linalg.transpose(
        tf.nn.softmax(tf.linalg.transpose(x, tf.constant(perm))), tf.constant(perm));
  }

  @ParameterizedTest
  @MethodSource("cases")
  void forwardAndGradientMatchTensorFlow(Case c) {
    long seed = RandomTensors.freshSeed("ActivationArrayOpsTfTest");
    Random rnd = new Random(seed);
    Shape xs = Shape.of(c.shape());
    FloatTensor x = RandomTensors.normal(rnd, xs);
    Path dir = tmp.resolve("m");
    FloatTensor yRef;
    FloatTensor dy;
    FloatTensor dxRef;
    try (org.tensorflow.Graph g = new org.tensorflow.Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      long[] dims = Arrays.stream(c.shape()).asLongStream().toArray();
      dims[0] = -1;
      Placeholder<TFloat32> xp =
          tf.withName("input")
              .placeholder(
                  TFloat32.class, Placeholder.shape(org.tensorflow.ndarray.Shape.of(dims)));
      Operand<TFloat32> y = c.f().apply(tf, xp);
      Operand<TFloat32> yGrad = c.gradRef() == c.f() ? y : c.gradRef().apply(tf, xp);
      Signature sig =
          Signature.builder()
              .key(Signature.DEFAULT_KEY)
              .input("input", xp)
              .output("output", y)
              .build();
      SavedModelBundle.exporter(dir.toString()).withSession(s).withSignature(sig).export();
      Placeholder<TFloat32> dyp = tf.placeholder(TFloat32.class);
      Output<?>[] grads =
          g.addGradients(
              "grads",
              new Output<?>[] {yGrad.asOutput()},
              new Output<?>[] {xp.asOutput()},
              new Output<?>[] {dyp.asOutput()});
      try (TFloat32 xt = TfOracle.toTf(x);
          Result r = s.runner().feed(xp, xt).fetch(y).run()) {
        yRef = TfOracle.fromTf(r.get(0));
      }
      dy = RandomTensors.normal(rnd, yRef.shape());
      try (TFloat32 xt = TfOracle.toTf(x);
          TFloat32 dyt = TfOracle.toTf(dy);
          Result r = s.runner().feed(xp, xt).feed(dyp, dyt).fetch(grads[0]).run()) {
        dxRef = TfOracle.fromTf(r.get(0));
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    Graph ir = SavedModelImporter.load(dir, null).graph();
    String in = ir.inputs().get(0);
    String out = ir.outputs().get("output");
    String at = c.name() + " (seed " + seed + ")";
    try (CpuEngine engine = new CpuEngine(ir, 2)) {
      Map<String, FloatTensor> values = engine.forward(Map.of(in, x), null);
      FloatTensor got = values.get(out);
      assertEquals(yRef.shape(), got.shape(), at);
      Tolerance.CPU_VS_TF.assertClose(at + " forward", yRef, got);
      FloatTensor dx = CpuBackward.backward(ir, values, Map.of(out, dy), List.of(in)).get(in);
      Tolerance.CPU_VS_TF.assertClose(at + " d/dx", dxRef, dx);
    }
  }

  @org.junit.jupiter.api.Test
  void batchAxisAndBadSizesAreRefusedWithTheReason() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> ArrayConversions.multiples(4, new int[] {2, 1, 1, 1}));
    assertTrue(e.getMessage().contains("batch axis"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ArrayConversions.axis(-3, 3, "Unpack"));
    assertTrue(e.getMessage().contains("Unpack along the batch axis"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class, () -> ArrayConversions.splitSizes(6, new int[] {4, 3}));
    assertTrue(e.getMessage().contains("do not add up"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ArrayConversions.equalSizes(7, 2));
    assertTrue(e.getMessage().contains("7 into 2"), e.getMessage());
    assertArrayEquals(new int[] {1, 3, 2}, ArrayConversions.splitSizes(6, new int[] {1, -1, 2}));
  }
}
