package dev.segcam.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.segcam.backend.NotDifferentiableException;
import dev.segcam.backend.cpu.grad.GradCheck;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Op.ActivationKind;
import dev.segcam.ir.Op.BinaryKind;
import dev.segcam.ir.Op.UnaryKind;
import dev.segcam.ir.Shape;
import dev.segcam.testing.TfOracle;
import dev.segcam.testing.Tolerance;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/**
 * The element-wise ops of Unary, the extra Binary kinds (of two activations, broadcasting),
 * StopGradient/PreventGradient and the activation patterns Keras exports from them (moments
 * normalisation, GELU exact and tanh, swish, hard sigmoid, hard swish), on the CPU engine against
 * TensorFlow on fresh random inputs: every node's forward value, and d(Σ seed·y)/d(every input and
 * intermediate node) against Graph.addGradients, every element at {@link Tolerance#CPU_VS_TF}.
 */
class ElementwiseOpsTfTest {
  /** The LayerNorm epsilon Keras uses. */
  private static final float LN_EPS = 1e-3f;

  /** Builds the TF graph over the placeholders: node name -> operand, the last one scored. */
  private interface TfBuild
      extends BiFunction<Ops, List<Operand<TFloat32>>, Map<String, Operand<TFloat32>>> {}

  private static org.tensorflow.ndarray.Shape tfShape(Shape s) {
    long[] d = new long[s.rank()];
    for (int i = 0; i < d.length; i++) {
      d[i] = s.dim(i);
    }
    return org.tensorflow.ndarray.Shape.of(d);
  }

  /** Inputs uniform in [lo, hi). */
  private static FloatTensor uniform(Random rnd, double lo, double hi, int... dims) {
    return new FloatTensor(Shape.of(dims), GradCheck.uniform(rnd, Shape.of(dims).size(), lo, hi));
  }

  /**
   * The IR graph ir (inputs x0, x1, ... of the given values) against build: forward values of every
   * TF-named node, and the gradients of every input and intermediate node.
   */
  private static void compare(String what, Graph ir, List<FloatTensor> xs, TfBuild build) {
    long seed = System.nanoTime();
    Random rnd = new Random(seed);
    try (org.tensorflow.Graph g = new org.tensorflow.Graph();
        Session s = new Session(g);
        CpuEngine engine = new CpuEngine(ir, 2)) {
      Ops tf = Ops.create(g);
      List<Operand<TFloat32>> ps = new ArrayList<>();
      Map<String, FloatTensor> feeds = new LinkedHashMap<>();
      for (int i = 0; i < xs.size(); i++) {
        ps.add(tf.placeholder(TFloat32.class, Placeholder.shape(tfShape(xs.get(i).shape()))));
        feeds.put("x" + i, xs.get(i));
      }
      Map<String, Operand<TFloat32>> nodes = build.apply(tf, ps);
      List<String> names = new ArrayList<>(nodes.keySet());
      String out = names.get(names.size() - 1);
      Operand<TFloat32> y = nodes.get(out);
      Placeholder<TFloat32> dyp = tf.placeholder(TFloat32.class, Placeholder.shape(y.shape()));
      List<String> layers = new ArrayList<>(feeds.keySet());
      List<Output<?>> wrt = new ArrayList<>();
      ps.forEach(p -> wrt.add(p.asOutput()));
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
      Map<String, FloatTensor> values = engine.forward(feeds, null);
      FloatTensor seedT =
          new FloatTensor(
              values.get(out).shape(), GradCheck.tensor(rnd, values.get(out).shape()).data());
      Map<String, FloatTensor> got = CpuBackward.backward(ir, values, Map.of(out, seedT), layers);
      List<TFloat32> owned = new ArrayList<>();
      try {
        Session.Runner r = s.runner();
        for (int i = 0; i < ps.size(); i++) {
          TFloat32 t = TfOracle.toTf(xs.get(i));
          owned.add(t);
          r.feed(ps.get(i), t);
        }
        TFloat32 dyt = TfOracle.toTf(seedT);
        owned.add(dyt);
        r.feed(dyp, dyt);
        names.forEach(n -> r.fetch(nodes.get(n)));
        for (Output<?> gr : grads) {
          r.fetch(gr);
        }
        try (Result res = r.run()) {
          String at = what + " (seed " + seed + ")";
          for (int i = 0; i < names.size(); i++) {
            Tolerance.CPU_VS_TF.assertClose(
                at + ": forward " + names.get(i),
                TfOracle.fromTf(res.get(i)),
                values.get(names.get(i)));
          }
          for (int i = 0; i < layers.size(); i++) {
            Tolerance.CPU_VS_TF.assertClose(
                at + ": d/d" + layers.get(i),
                TfOracle.fromTf(res.get(names.size() + i)),
                got.get(layers.get(i)));
          }
        }
      } finally {
        owned.forEach(TFloat32::close);
      }
    }
  }

  /**
   * name, op, input names, ... after the inputs x0.. of the given shapes; the last is the output.
   */
  private static Graph graph(List<FloatTensor> xs, Object... nameOpInputs) {
    Graph.Builder b = Graph.builder();
    for (int i = 0; i < xs.size(); i++) {
      b.add("x" + i, new Op.Input(xs.get(i).shape()));
    }
    String last = null;
    for (int i = 0; i < nameOpInputs.length; i += 3) {
      last = (String) nameOpInputs[i];
      b.add(last, (Op) nameOpInputs[i + 1], List.of((String[]) nameOpInputs[i + 2]));
    }
    return b.output("y", last).build();
  }

  private static String[] in(String... names) {
    return names;
  }

  private static Op.Const scalar(float v) {
    return new Op.Const(new FloatTensor(Shape.of(1), new float[] {v}));
  }

  private static Operand<TFloat32> c(Ops tf, float v) {
    return tf.constant(new float[] {v});
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

  @ParameterizedTest
  @EnumSource(UnaryKind.class)
  void unary(UnaryKind kind) {
    Random rnd = new Random(System.nanoTime());
    boolean positive =
        kind == UnaryKind.SQRT
            || kind == UnaryKind.RSQRT
            || kind == UnaryKind.LOG
            || kind == UnaryKind.POW;
    List<FloatTensor> xs = List.of(uniform(rnd, positive ? 0.05 : -4, 4, 2, 4, 5, 3));
    float p = 2.5f;
    Graph ir = graph(xs, "u", new Op.Unary(kind, p), in("x0"));
    compare(
        kind.tfName,
        ir,
        xs,
        (tf, x) -> {
          Operand<TFloat32> a = x.get(0);
          Operand<TFloat32> u =
              switch (kind) {
                case NEG -> tf.math.neg(a);
                case ABS -> tf.math.abs(a);
                case SQUARE -> tf.math.square(a);
                case SQRT -> tf.math.sqrt(a);
                case RSQRT -> tf.math.rsqrt(a);
                case LOG -> tf.math.log(a);
                case POW -> tf.math.pow(a, tf.constant(p));
                case SELU -> tf.nn.selu(a);
                case SOFTPLUS -> tf.math.softplus(a);
                case ERF -> tf.math.erf(a);
              };
          return named("u", u);
        });
  }

  @Test
  void powWithAnIntegerExponentOfNegativeBases() {
    Random rnd = new Random(System.nanoTime());
    List<FloatTensor> xs = List.of(uniform(rnd, -3, 3, 2, 4, 5, 3));
    compare(
        "Pow 3",
        graph(xs, "u", new Op.Unary(UnaryKind.POW, 3f), in("x0")),
        xs,
        (tf, x) -> named("u", tf.math.pow(x.get(0), tf.constant(3f))));
  }

  /** Every binary kind on two activations, same shape and broadcast both ways. */
  @ParameterizedTest
  @EnumSource(BinaryKind.class)
  void binaryOfTwoActivations(BinaryKind kind) {
    Random rnd = new Random(System.nanoTime());
    int[][][] shapes = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {2, 1, 4, 1}}, {{2, 1, 1, 5}, {2, 3, 4, 5}}
    };
    for (int[][] s : shapes) {
      boolean div = kind == BinaryKind.DIV;
      List<FloatTensor> xs =
          List.of(uniform(rnd, -2, 2, s[0]), uniform(rnd, div ? 0.5 : -2, 2, s[1]));
      compare(
          kind.tfName + " " + Shape.of(s[0]) + " " + Shape.of(s[1]),
          graph(xs, "b", new Op.Binary(kind), in("x0", "x1")),
          xs,
          (tf, x) -> {
            Operand<TFloat32> a = x.get(0);
            Operand<TFloat32> b = x.get(1);
            Operand<TFloat32> r =
                switch (kind) {
                  case ADD -> tf.math.add(a, b);
                  case SUB -> tf.math.sub(a, b);
                  case MUL -> tf.math.mul(a, b);
                  case DIV -> tf.math.div(a, b);
                  case MAXIMUM -> tf.math.maximum(a, b);
                  case MINIMUM -> tf.math.minimum(a, b);
                  case SQUARED_DIFFERENCE -> tf.math.squaredDifference(a, b);
                };
            return named("b", r);
          });
    }
  }

  /**
   * Keras's moments normalisation with the mean and variance fed as activations (the Mean itself is
   * another op's test): (x − m)·rsqrt(v + eps)·γ + β where v = (x − m)² averaged elsewhere; here v
   * is SquaredDifference(x, m) per element, so every op reads two activations.
   */
  @Test
  void momentsNormalisationSubgraph() {
    Random rnd = new Random(System.nanoTime());
    List<FloatTensor> xs =
        List.of(uniform(rnd, -2, 2, 2, 4, 4, 3), uniform(rnd, -1, 1, 2, 1, 1, 3));
    Graph ir =
        graph(
            xs,
            "eps",
            scalar(LN_EPS),
            in(),
            "d",
            new Op.Binary(BinaryKind.SUB),
            in("x0", "x1"),
            "v",
            new Op.Binary(BinaryKind.SQUARED_DIFFERENCE),
            in("x0", "x1"),
            "ve",
            new Op.Binary(BinaryKind.ADD),
            in("v", "eps"),
            "r",
            new Op.Unary(UnaryKind.RSQRT, 0),
            in("ve"),
            "n",
            new Op.Binary(BinaryKind.MUL),
            in("d", "r"));
    compare(
        "moments normalisation",
        ir,
        xs,
        (tf, x) -> {
          Operand<TFloat32> d = tf.math.sub(x.get(0), x.get(1));
          Operand<TFloat32> v = tf.math.squaredDifference(x.get(0), x.get(1));
          Operand<TFloat32> ve = tf.math.add(v, c(tf, LN_EPS));
          Operand<TFloat32> r = tf.math.rsqrt(ve);
          return named("d", d, "v", v, "ve", ve, "r", r, "n", tf.math.mul(d, r));
        });
  }

  /** GELU as Keras writes it: exact 0.5·x·(1 + erf(x/√2)). */
  @Test
  void geluExact() {
    Random rnd = new Random(System.nanoTime());
    List<FloatTensor> xs = List.of(uniform(rnd, -4, 4, 2, 4, 5, 3));
    float invSqrt2 = (float) (1 / Math.sqrt(2));
    Graph ir =
        graph(
            xs,
            "k",
            scalar(invSqrt2),
            in(),
            "h",
            scalar(0.5f),
            in(),
            "one",
            scalar(1f),
            in(),
            "s",
            new Op.Binary(BinaryKind.MUL),
            in("x0", "k"),
            "e",
            new Op.Unary(UnaryKind.ERF, 0),
            in("s"),
            "p",
            new Op.Binary(BinaryKind.ADD),
            in("e", "one"),
            "hx",
            new Op.Binary(BinaryKind.MUL),
            in("h", "x0"),
            "g",
            new Op.Binary(BinaryKind.MUL),
            in("hx", "p"));
    compare(
        "GELU exact",
        ir,
        xs,
        (tf, x) -> {
          Operand<TFloat32> s = tf.math.mul(x.get(0), c(tf, invSqrt2));
          Operand<TFloat32> e = tf.math.erf(s);
          Operand<TFloat32> p = tf.math.add(e, c(tf, 1f));
          Operand<TFloat32> hx = tf.math.mul(c(tf, 0.5f), x.get(0));
          return named("s", s, "e", e, "p", p, "hx", hx, "g", tf.math.mul(hx, p));
        });
  }

  /** GELU's tanh form: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
  @Test
  void geluTanh() {
    Random rnd = new Random(System.nanoTime());
    List<FloatTensor> xs = List.of(uniform(rnd, -4, 4, 2, 4, 5, 3));
    float k = (float) Math.sqrt(2 / Math.PI);
    float a3 = 0.044715f;
    Graph ir =
        graph(
            xs,
            "k",
            scalar(k),
            in(),
            "a",
            scalar(a3),
            in(),
            "h",
            scalar(0.5f),
            in(),
            "one",
            scalar(1f),
            in(),
            "cube",
            new Op.Unary(UnaryKind.POW, 3f),
            in("x0"),
            "ac",
            new Op.Binary(BinaryKind.MUL),
            in("a", "cube"),
            "in",
            new Op.Binary(BinaryKind.ADD),
            in("x0", "ac"),
            "ki",
            new Op.Binary(BinaryKind.MUL),
            in("k", "in"),
            "t",
            new Op.Activation(ActivationKind.TANH, 0),
            in("ki"),
            "p",
            new Op.Binary(BinaryKind.ADD),
            in("one", "t"),
            "hx",
            new Op.Binary(BinaryKind.MUL),
            in("h", "x0"),
            "g",
            new Op.Binary(BinaryKind.MUL),
            in("hx", "p"));
    compare(
        "GELU tanh",
        ir,
        xs,
        (tf, x) -> {
          Operand<TFloat32> cube = tf.math.pow(x.get(0), tf.constant(3f));
          Operand<TFloat32> ac = tf.math.mul(c(tf, a3), cube);
          Operand<TFloat32> in = tf.math.add(x.get(0), ac);
          Operand<TFloat32> ki = tf.math.mul(c(tf, k), in);
          Operand<TFloat32> t = tf.math.tanh(ki);
          Operand<TFloat32> p = tf.math.add(c(tf, 1f), t);
          Operand<TFloat32> hx = tf.math.mul(c(tf, 0.5f), x.get(0));
          return named(
              "cube",
              cube,
              "ac",
              ac,
              "in",
              in,
              "ki",
              ki,
              "t",
              t,
              "p",
              p,
              "hx",
              hx,
              "g",
              tf.math.mul(hx, p));
        });
  }

  /**
   * Swish x·σ(x), Keras's hard sigmoid clip(0.2x + 0.5, 0, 1) (Maximum/Minimum with constants) and
   * hard swish x·relu6(x + 3)/6.
   */
  @Test
  void swishHardSigmoidHardSwish() {
    Random rnd = new Random(System.nanoTime());
    List<FloatTensor> xs = List.of(uniform(rnd, -5, 5, 2, 4, 5, 3));
    compare(
        "swish",
        graph(
            xs,
            "s",
            new Op.Activation(ActivationKind.SIGMOID, 0),
            in("x0"),
            "w",
            new Op.Binary(BinaryKind.MUL),
            in("x0", "s")),
        xs,
        (tf, x) -> {
          Operand<TFloat32> s = tf.math.sigmoid(x.get(0));
          return named("s", s, "w", tf.math.mul(x.get(0), s));
        });
    compare(
        "hard sigmoid",
        graph(
            xs,
            "k",
            scalar(0.2f),
            in(),
            "h",
            scalar(0.5f),
            in(),
            "zero",
            scalar(0f),
            in(),
            "one",
            scalar(1f),
            in(),
            "m",
            new Op.Binary(BinaryKind.MUL),
            in("x0", "k"),
            "a",
            new Op.Binary(BinaryKind.ADD),
            in("m", "h"),
            "lo",
            new Op.Binary(BinaryKind.MAXIMUM),
            in("a", "zero"),
            "hs",
            new Op.Binary(BinaryKind.MINIMUM),
            in("lo", "one")),
        xs,
        (tf, x) -> {
          Operand<TFloat32> m = tf.math.mul(x.get(0), c(tf, 0.2f));
          Operand<TFloat32> a = tf.math.add(m, c(tf, 0.5f));
          Operand<TFloat32> lo = tf.math.maximum(a, c(tf, 0f));
          return named("m", m, "a", a, "lo", lo, "hs", tf.math.minimum(lo, c(tf, 1f)));
        });
    compare(
        "hard swish",
        graph(
            xs,
            "three",
            scalar(3f),
            in(),
            "six",
            scalar(6f),
            in(),
            "a",
            new Op.Binary(BinaryKind.ADD),
            in("x0", "three"),
            "r",
            new Op.Activation(ActivationKind.RELU6, 0),
            in("a"),
            "q",
            new Op.Binary(BinaryKind.DIV),
            in("r", "six"),
            "hw",
            new Op.Binary(BinaryKind.MUL),
            in("x0", "q")),
        xs,
        (tf, x) -> {
          Operand<TFloat32> a = tf.math.add(x.get(0), c(tf, 3f));
          Operand<TFloat32> r = tf.nn.relu6(a);
          Operand<TFloat32> q = tf.math.div(r, c(tf, 6f));
          return named("a", a, "r", r, "q", q, "hw", tf.math.mul(x.get(0), q));
        });
  }

  /** x·StopGradient(x): TensorFlow's gradient flows through the first factor only. */
  @Test
  void stopGradientBlocksTheGradient() {
    Random rnd = new Random(System.nanoTime());
    List<FloatTensor> xs = List.of(uniform(rnd, -2, 2, 2, 4, 5, 3));
    compare(
        "StopGradient",
        graph(
            xs,
            "sg",
            new Op.StopGradient(false),
            in("x0"),
            "m",
            new Op.Binary(BinaryKind.MUL),
            in("x0", "sg")),
        xs,
        (tf, x) -> {
          Operand<TFloat32> sg = tf.stopGradient(x.get(0));
          return named("sg", sg, "m", tf.math.mul(x.get(0), sg));
        });
  }

  /** TensorFlow refuses to differentiate through PreventGradient; so does the CPU engine. */
  @Test
  void preventGradientIsNotDifferentiable() {
    Random rnd = new Random(System.nanoTime());
    List<FloatTensor> xs = List.of(uniform(rnd, -2, 2, 2, 3, 3, 2));
    Graph ir = graph(xs, "pg", new Op.StopGradient(true), in("x0"));
    Map<String, FloatTensor> values = Map.of("x0", xs.get(0), "pg", xs.get(0));
    assertThrows(
        NotDifferentiableException.class,
        () -> CpuBackward.backward(ir, values, Map.of("pg", xs.get(0)), List.of("x0")));
  }
}
