package dev.segcam.backend.cpu;

import dev.segcam.backend.cpu.grad.GradCheck;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Op.ActivationKind;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.testing.Tolerance;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.image.ResizeBilinear;
import org.tensorflow.op.image.ResizeNearestNeighbor;
import org.tensorflow.op.nn.Conv2d;
import org.tensorflow.op.nn.LeakyRelu;
import org.tensorflow.types.TFloat32;

/**
 * Gradient semantics against TensorFlow's own (Graph.addGradients, the C++ gradient registry) on
 * small in-memory TF graphs, for the cases where "a gradient" is not unique: MaxPool ties (ReLU
 * zeros), Relu/Relu6/LeakyRelu at their kinks, resize coordinate rules, SAME padding asymmetry. The
 * forward values fed to CpuBackward are TF's, so only the backward is compared.
 */
class CpuBackwardTfTest {
  private interface TfBuild
      extends BiFunction<Ops, Operand<TFloat32>, Map<String, Operand<TFloat32>>> {}

  private static FloatTensor rand(Random rnd, int... dims) {
    return GradCheck.tensor(rnd, Shape.of(dims));
  }

  private static org.tensorflow.ndarray.Shape tfShape(Shape s) {
    long[] d = new long[s.rank()];
    for (int i = 0; i < d.length; i++) {
      d[i] = s.dim(i);
    }
    return org.tensorflow.ndarray.Shape.of(d);
  }

  private static TFloat32 toTf(FloatTensor t) {
    return TFloat32.tensorOf(tfShape(t.shape()), DataBuffers.of(t.data(), true, false));
  }

  private static FloatTensor fromTf(org.tensorflow.Tensor t) {
    TFloat32 f = (TFloat32) t;
    long[] d = f.shape().asArray();
    int[] dims = new int[d.length];
    for (int i = 0; i < d.length; i++) {
      dims[i] = (int) d[i];
    }
    float[] out = new float[(int) f.size()];
    f.copyTo(DataBuffers.of(out, false, false));
    return new FloatTensor(Shape.of(dims), out);
  }

  /**
   * IR graph (x -> ops...) vs the same TF graph: d(sum(seed·y))/dx and d/d(every IR node) of
   * CpuBackward against TF, with TF's forward values.
   */
  private static void compare(String what, Graph ir, FloatTensor x, TfBuild build, long seed) {
    Random rnd = new Random(seed ^ 77);
    try (org.tensorflow.Graph g = new org.tensorflow.Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Placeholder<TFloat32> xp =
          tf.placeholder(TFloat32.class, Placeholder.shape(tfShape(x.shape())));
      Map<String, Operand<TFloat32>> nodes = build.apply(tf, xp);
      List<String> names = new ArrayList<>(nodes.keySet());
      Operand<TFloat32> y = nodes.get(names.get(names.size() - 1));
      Placeholder<TFloat32> dyp = tf.placeholder(TFloat32.class, Placeholder.shape(y.shape()));
      List<String> layers = new ArrayList<>();
      layers.add("x");
      List<Output<?>> wrt = new ArrayList<>();
      wrt.add(xp.asOutput());
      for (String n : names.subList(0, names.size() - 1)) {
        layers.add(n);
        wrt.add(nodes.get(n).asOutput());
      }
      Output<?>[] grads =
          g.addGradients(
              "grads",
              new Output<?>[] {y.asOutput()},
              wrt.toArray(new Output<?>[0]),
              new Output<?>[] {dyp.asOutput()});
      int[] yd = new int[(int) y.shape().numDimensions()];
      for (int i = 0; i < yd.length; i++) {
        yd[i] = (int) y.shape().size(i);
      }
      FloatTensor seedT = rand(rnd, yd);
      try (TFloat32 xt = toTf(x);
          TFloat32 dyt = toTf(seedT)) {
        Session.Runner r = s.runner().feed(xp, xt).feed(dyp, dyt);
        for (String n : names) {
          r.fetch(nodes.get(n));
        }
        for (Output<?> gr : grads) {
          r.fetch(gr);
        }
        try (Result res = r.run()) {
          Map<String, FloatTensor> values = new HashMap<>();
          values.put("x", x);
          for (int i = 0; i < names.size(); i++) {
            values.put(names.get(i), fromTf(res.get(i)));
          }
          Map<String, FloatTensor> got =
              CpuBackward.backward(ir, values, Map.of(names.get(names.size() - 1), seedT), layers);
          for (int i = 0; i < layers.size(); i++) {
            Tolerance.CPU_VS_TF.assertClose(
                what + ": d/d" + layers.get(i) + " (seed " + seed + ")",
                fromTf(res.get(names.size() + i)),
                got.get(layers.get(i)));
          }
        }
      }
    }
  }

  private static Graph chain(Shape x, Object... nameOps) {
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(x));
    String prev = "x";
    for (int i = 0; i < nameOps.length; i += 2) {
      b.add((String) nameOps[i], (Op) nameOps[i + 1], prev);
      prev = (String) nameOps[i];
    }
    return b.output("y", prev).build();
  }

  private static Map<String, Operand<TFloat32>> named(Object... nameOps) {
    Map<String, Operand<TFloat32>> m = new LinkedHashMap<>();
    for (int i = 0; i < nameOps.length; i += 2) {
      @SuppressWarnings("unchecked")
      Operand<TFloat32> o = (Operand<TFloat32>) nameOps[i + 1];
      m.put((String) nameOps[i], o);
    }
    return m;
  }

  /** Values on a coarse grid so that windows hold exact ties, many of them ReLU zeros. */
  private static FloatTensor coarse(Random rnd, int... dims) {
    FloatTensor t = rand(rnd, dims);
    for (int i = 0; i < t.size(); i++) {
      t.data()[i] = Math.round(t.data()[i] * 2) / 2f;
    }
    return t;
  }

  @Test
  void maxPoolTiesAfterRelu() {
    long seed = System.nanoTime();
    Random rnd = new Random(seed);
    int[][] cfg = {{2, 2, 2, 2}, {3, 3, 2, 2}, {3, 3, 1, 1}, {2, 3, 1, 2}};
    for (Padding pad : Padding.values()) {
      for (int[] c : cfg) {
        FloatTensor x = coarse(rnd, 2, 7, 6, 3);
        Graph ir =
            chain(
                x.shape(),
                "r",
                new Op.Activation(ActivationKind.RELU, 0),
                "p",
                new Op.Pool(Op.PoolKind.MAX, c[0], c[1], c[2], c[3], pad));
        compare(
            "MaxPool " + pad + " " + java.util.Arrays.toString(c),
            ir,
            x,
            (tf, xp) -> {
              Operand<TFloat32> r = tf.nn.relu(xp);
              return named(
                  "r",
                  r,
                  "p",
                  tf.nn.maxPool(
                      r,
                      tf.constant(new int[] {1, c[0], c[1], 1}),
                      tf.constant(new int[] {1, c[2], c[3], 1}),
                      pad.name()));
            },
            seed);
      }
    }
  }

  @Test
  void avgPoolSamePadding() {
    long seed = System.nanoTime();
    Random rnd = new Random(seed);
    FloatTensor x = rand(rnd, 2, 7, 6, 3);
    Graph ir = chain(x.shape(), "p", new Op.Pool(Op.PoolKind.AVG, 3, 3, 2, 2, Padding.SAME));
    compare(
        "AvgPool SAME",
        ir,
        x,
        (tf, xp) ->
            named("p", tf.nn.avgPool(xp, List.of(1L, 3L, 3L, 1L), List.of(1L, 2L, 2L, 1L), "SAME")),
        seed);
  }

  /** The element-wise ops' forward on the CPU engine against TensorFlow's, every element. */
  @Test
  void expForwardMatchesTensorFlow() {
    long seed = System.nanoTime();
    Random rnd = new Random(seed);
    FloatTensor x = rand(rnd, 2, 4, 5, 3);
    for (int i = 0; i < x.size(); i++) {
      x.data()[i] *= 6; // e^x over about [-6, 6]
    }
    Graph ir = chain(x.shape(), "a", new Op.Exp());
    try (org.tensorflow.Graph g = new org.tensorflow.Graph();
        Session s = new Session(g);
        CpuEngine engine = new CpuEngine(ir, 2)) {
      Ops tf = Ops.create(g);
      Placeholder<TFloat32> xp =
          tf.placeholder(TFloat32.class, Placeholder.shape(tfShape(x.shape())));
      Operand<TFloat32> y = tf.math.exp(xp);
      try (TFloat32 xt = toTf(x);
          Result res = s.runner().feed(xp, xt).fetch(y).run()) {
        Tolerance.CPU_VS_TF.assertClose(
            "Exp forward (seed " + seed + ")",
            fromTf(res.get(0)),
            engine.forward(Map.of("x", x), List.of("a")).get("a"));
      }
    }
  }

  @Test
  void activationsAtTheirKinks() {
    long seed = System.nanoTime();
    Random rnd = new Random(seed);
    FloatTensor x = rand(rnd, 2, 4, 5, 3);
    float[] special = {0f, 6f, -0f, 0f, 6f, 3f, -1f, 7f};
    for (int i = 0; i < x.size(); i++) {
      x.data()[i] = i % 3 == 0 ? special[(i / 3) % special.length] : x.data()[i] * 4;
    }
    compare(
        "Relu",
        chain(x.shape(), "a", new Op.Activation(ActivationKind.RELU, 0)),
        x,
        (tf, xp) -> named("a", tf.nn.relu(xp)),
        seed);
    compare(
        "Relu6",
        chain(x.shape(), "a", new Op.Activation(ActivationKind.RELU6, 0)),
        x,
        (tf, xp) -> named("a", tf.nn.relu6(xp)),
        seed);
    compare(
        "LeakyRelu",
        chain(x.shape(), "a", new Op.Activation(ActivationKind.LEAKY_RELU, 0.2f)),
        x,
        (tf, xp) -> named("a", tf.nn.leakyRelu(xp, LeakyRelu.alpha(0.2f))),
        seed);
    compare(
        "Elu",
        chain(x.shape(), "a", new Op.Activation(ActivationKind.ELU, 0)),
        x,
        (tf, xp) -> named("a", tf.nn.elu(xp)),
        seed);
    compare(
        "Sigmoid",
        chain(x.shape(), "a", new Op.Activation(ActivationKind.SIGMOID, 0)),
        x,
        (tf, xp) -> named("a", tf.math.sigmoid(xp)),
        seed);
    compare(
        "Tanh",
        chain(x.shape(), "a", new Op.Activation(ActivationKind.TANH, 0)),
        x,
        (tf, xp) -> named("a", tf.math.tanh(xp)),
        seed);
    compare(
        "Exp",
        chain(x.shape(), "a", new Op.Exp()),
        x,
        (tf, xp) -> named("a", tf.math.exp(xp)),
        seed);
    compare(
        "Softmax",
        chain(x.shape(), "a", new Op.Softmax()),
        x,
        (tf, xp) -> named("a", tf.nn.softmax(xp)),
        seed);
  }

  @Test
  void resizeCoordinateRules() {
    long seed = System.nanoTime();
    Random rnd = new Random(seed);
    int[][] sizes = {{3, 4, 6, 8}, {3, 4, 7, 5}, {6, 6, 4, 3}, {5, 7, 11, 13}, {1, 3, 4, 5}};
    boolean[][] modes = {{false, false}, {true, false}, {false, true}};
    for (int[] sz : sizes) {
      for (boolean[] m : modes) {
        FloatTensor x = rand(rnd, 2, sz[0], sz[1], 3);
        for (Op.ResizeMode mode : Op.ResizeMode.values()) {
          Graph ir = chain(x.shape(), "r", new Op.Resize(mode, sz[2], sz[3], m[0], m[1]));
          compare(
              mode + " " + java.util.Arrays.toString(sz) + " align=" + m[0] + " half=" + m[1],
              ir,
              x,
              (tf, xp) ->
                  named(
                      "r",
                      mode == Op.ResizeMode.BILINEAR
                          ? tf.image.resizeBilinear(
                              xp,
                              tf.constant(new int[] {sz[2], sz[3]}),
                              ResizeBilinear.alignCorners(m[0]),
                              ResizeBilinear.halfPixelCenters(m[1]))
                          : tf.image.resizeNearestNeighbor(
                              xp,
                              tf.constant(new int[] {sz[2], sz[3]}),
                              ResizeNearestNeighbor.alignCorners(m[0]),
                              ResizeNearestNeighbor.halfPixelCenters(m[1]))),
              seed);
        }
      }
    }
  }

  /**
   * Dilation is left out on purpose: TensorFlow's C++ Conv2D gradient (the one addGradients uses)
   * drops the dilations attribute and returns the gradient of the undilated convolution; ours is
   * the true gradient (finite-difference checked in OpGradientTest, and what Python TF returns).
   */
  @Test
  void convolutionsWithAsymmetricSamePadding() {
    long seed = System.nanoTime();
    Random rnd = new Random(seed);
    FloatTensor x = rand(rnd, 2, 9, 8, 3);
    for (int[] c :
        new int[][] {
          {3, 3, 2, 2, 1}, {3, 2, 2, 3, 1}, {3, 3, 1, 1, 1}, {4, 4, 2, 2, 1}, {2, 3, 3, 3, 1}
        }) {
      for (Padding pad : Padding.values()) {
        FloatTensor f = rand(rnd, c[0], c[1], 3, 4);
        Op op = new Op.Conv2D(f, null, c[2], c[3], c[4], c[4], pad);
        compare(
            "Conv2D " + pad + " " + java.util.Arrays.toString(c),
            chain(x.shape(), "c", op),
            x,
            (tf, xp) ->
                named(
                    "c",
                    tf.nn.conv2d(
                        xp,
                        tf.constant(tfShape(f.shape()), DataBuffers.of(f.data(), true, false)),
                        List.of(1L, (long) c[2], (long) c[3], 1L),
                        pad.name(),
                        Conv2d.dilations(List.of(1L, (long) c[4], (long) c[4], 1L)))),
            seed);
        FloatTensor d = rand(rnd, c[0], c[1], 3, 2);
        if (c[4] == 1 && c[2] == c[3]) { // TF: depthwise needs equal strides
          compare(
              "Depthwise " + pad + " " + java.util.Arrays.toString(c),
              chain(x.shape(), "d", new Op.DepthwiseConv2D(d, null, c[2], c[3], 1, 1, pad)),
              x,
              (tf, xp) ->
                  named(
                      "d",
                      tf.nn.depthwiseConv2dNative(
                          xp,
                          tf.constant(tfShape(d.shape()), DataBuffers.of(d.data(), true, false)),
                          List.of(1L, (long) c[2], (long) c[3], 1L),
                          pad.name())),
              seed);
        }
        // transposed conv to an odd-sized output (the one TF maps back with asymmetric pad)
        FloatTensor t = rand(rnd, c[0], c[1], 5, 3);
        int oh = pad == Padding.SAME ? 9 * c[2] - (c[2] > 1 ? 1 : 0) : (9 - 1) * c[2] + c[0];
        int ow = pad == Padding.SAME ? 8 * c[3] - (c[3] > 1 ? 1 : 0) : (8 - 1) * c[3] + c[1];
        compare(
            "Conv2DTranspose " + pad + " " + java.util.Arrays.toString(c),
            chain(x.shape(), "t", new Op.Conv2DTranspose(t, null, c[2], c[3], pad, oh, ow)),
            x,
            (tf, xp) ->
                named(
                    "t",
                    tf.nn.conv2dBackpropInput(
                        tf.constant(new int[] {2, oh, ow, 5}),
                        tf.constant(tfShape(t.shape()), DataBuffers.of(t.data(), true, false)),
                        xp,
                        List.of(1L, (long) c[2], (long) c[3], 1L),
                        pad.name())),
            seed);
      }
    }
  }
}
