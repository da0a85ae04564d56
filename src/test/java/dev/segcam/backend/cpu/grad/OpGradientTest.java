package dev.segcam.backend.cpu.grad;

import dev.segcam.backend.cpu.Parallel;
import dev.segcam.backend.cpu.grad.RefForward.D;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Op.ActivationKind;
import dev.segcam.ir.Op.BinaryKind;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/** Finite-difference check of every op's data gradient, one op per tiny graph, batch 2. */
class OpGradientTest {
  private static final Parallel WORKERS = new Parallel(3);

  @AfterAll
  static void closePool() {
    WORKERS.close();
  }

  private static long seed() {
    return System.nanoTime();
  }

  /** x0.. (given shapes, random in [lo,hi)) -> op -> "y"; checks dL/dx for every input. */
  private static void checkOp(String what, Op op, double lo, double hi, int[]... shapes) {
    long s = seed();
    Random rnd = new Random(s);
    Graph.Builder b = Graph.builder();
    Map<String, D> inputs = new LinkedHashMap<>();
    List<String> names = new ArrayList<>();
    for (int i = 0; i < shapes.length; i++) {
      String n = "x" + i;
      b.add(n, new Op.Input(Shape.of(shapes[i])));
      inputs.put(n, GradCheck.dtensor(rnd, lo, hi, shapes[i]));
      names.add(n);
    }
    b.add("y", op, names);
    b.output("y", "y");
    GradCheck.check(what, b.build(), inputs, "y", names, s, WORKERS);
  }

  private static FloatTensor rand(Random rnd, int... dims) {
    return GradCheck.tensor(rnd, Shape.of(dims));
  }

  /** Both operands' gradients, every transpose combination, rank 3 and 4 (heads). */
  @ParameterizedTest
  @CsvSource({
    "false,false,3",
    "false,true,3",
    "true,false,3",
    "true,true,3",
    "false,true,4",
    "true,false,4"
  })
  void batchMatMul(boolean adjA, boolean adjB, int rank) {
    int m = 3;
    int n = 4;
    int k = 5;
    int[] lead = rank == 3 ? new int[] {2} : new int[] {2, 3};
    int[] a = shape(lead, adjA ? k : m, adjA ? m : k);
    int[] b = shape(lead, adjB ? n : k, adjB ? k : n);
    checkOp(
        "BatchMatMul adjA=" + adjA + " adjB=" + adjB + " rank " + rank,
        new Op.BatchMatMul(adjA, adjB),
        -1,
        1,
        a,
        b);
  }

  private static int[] shape(int[] lead, int rows, int cols) {
    int[] s = java.util.Arrays.copyOf(lead, lead.length + 2);
    s[lead.length] = rows;
    s[lead.length + 1] = cols;
    return s;
  }

  @ParameterizedTest
  @CsvSource({
    "5,6,3,4,3,3,1,1,1,1,SAME",
    "7,6,2,3,3,3,2,2,1,1,SAME",
    "8,7,2,3,3,2,2,3,1,1,SAME",
    "7,7,3,2,3,3,1,1,2,2,SAME",
    "7,8,2,3,3,3,1,1,2,1,VALID",
    "8,8,2,3,2,2,2,2,1,1,VALID",
    "5,5,3,4,1,1,1,1,1,1,VALID",
    "6,6,2,2,4,4,2,2,1,1,SAME",
    "9,9,2,3,3,3,3,3,1,1,SAME"
  })
  void conv2d(
      int h, int w, int c, int f, int kh, int kw, int sh, int sw, int dh, int dw, Padding pad) {
    Random rnd = new Random(seed());
    Op op = new Op.Conv2D(rand(rnd, kh, kw, c, f), rand(rnd, f), sh, sw, dh, dw, pad);
    checkOp("Conv2D " + op, op, -1, 1, new int[] {2, h, w, c});
  }

  @ParameterizedTest
  @CsvSource({
    "5,6,3,1,3,3,1,1,1,1,SAME",
    "7,6,2,2,3,3,2,2,1,1,SAME",
    "7,7,3,2,3,3,1,1,2,2,SAME",
    "8,7,2,3,2,3,2,1,1,1,VALID"
  })
  void depthwise(
      int h, int w, int c, int m, int kh, int kw, int sh, int sw, int dh, int dw, Padding pad) {
    Random rnd = new Random(seed());
    Op op = new Op.DepthwiseConv2D(rand(rnd, kh, kw, c, m), rand(rnd, c * m), sh, sw, dh, dw, pad);
    checkOp("DepthwiseConv2D", op, -1, 1, new int[] {2, h, w, c});
  }

  @ParameterizedTest
  @CsvSource({
    "3,4,3,2,3,3,2,SAME,-1,-1",
    "3,3,2,3,3,3,2,VALID,-1,-1",
    "3,4,2,2,3,3,2,SAME,5,7",
    "4,4,2,3,2,2,2,SAME,-1,-1",
    "3,3,2,2,3,3,1,SAME,-1,-1",
    "3,4,2,3,2,3,2,VALID,-1,-1"
  })
  void conv2dTranspose(
      int h, int w, int c, int f, int kh, int kw, int s, Padding pad, int oh, int ow) {
    Random rnd = new Random(seed());
    Op op = new Op.Conv2DTranspose(rand(rnd, kh, kw, f, c), rand(rnd, f), s, s, pad, oh, ow);
    checkOp("Conv2DTranspose", op, -1, 1, new int[] {2, h, w, c});
  }

  @Test
  void biasAddAndBatchNorm() {
    Random rnd = new Random(seed());
    checkOp("BiasAdd", new Op.BiasAdd(rand(rnd, 4)), -1, 1, new int[] {2, 3, 2, 4});
    checkOp(
        "BatchNorm", new Op.BatchNorm(rand(rnd, 4), rand(rnd, 4)), -1, 1, new int[] {2, 3, 2, 4});
  }

  @ParameterizedTest
  @EnumSource(ActivationKind.class)
  void activation(ActivationKind kind) {
    double lo = kind == ActivationKind.RELU6 ? -2 : kind == ActivationKind.SIGMOID ? -4 : -2;
    double hi = kind == ActivationKind.RELU6 ? 8 : kind == ActivationKind.SIGMOID ? 4 : 2;
    checkOp(kind.toString(), new Op.Activation(kind, 0.2f), lo, hi, new int[] {2, 3, 4, 5});
  }

  @ParameterizedTest
  @EnumSource(Op.UnaryKind.class)
  void unary(Op.UnaryKind kind) {
    boolean positive =
        kind == Op.UnaryKind.SQRT
            || kind == Op.UnaryKind.RSQRT
            || kind == Op.UnaryKind.LOG
            || kind == Op.UnaryKind.POW;
    double lo = positive ? 0.3 : -2;
    checkOp(kind.toString(), new Op.Unary(kind, 2.5f), lo, 2, new int[] {2, 3, 4, 5});
    if (kind == Op.UnaryKind.POW) {
      // an integer exponent of negative bases (the tanh GELU's x^3)
      checkOp("Pow 3", new Op.Unary(kind, 3f), -2, 2, new int[] {2, 3, 4, 5});
    }
  }

  @Test
  void stridedSlice() {
    // x[:, 5:0:-2, 1:-1, 2, newaxis]: negative stride, negative end, shrink, new axis
    checkOp(
        "StridedSlice",
        new Op.StridedSlice(
            new int[] {0, 5, 1, 2},
            new int[] {0, 0, -1, 3},
            new int[] {1, -2, 1, 1},
            0b0001,
            0b0001,
            0b1000,
            new int[] {3}),
        -2,
        2,
        new int[] {2, 6, 5, 4});
  }

  @Test
  void transpose() {
    checkOp(
        "Transpose",
        new Op.Transpose(java.util.List.of(0, 3, 1, 2)),
        -2,
        2,
        new int[] {2, 3, 4, 5});
    checkOp("Transpose", new Op.Transpose(java.util.List.of(0, 2, 1)), -2, 2, new int[] {2, 6, 4});
  }

  @Test
  void meanAndSum() {
    checkOp(
        "Mean(-1)", new Op.Reduce(Op.ReduceKind.MEAN, 0b1000, true), -2, 2, new int[] {2, 3, 4, 5});
    checkOp(
        "Mean(1,2)",
        new Op.Reduce(Op.ReduceKind.MEAN, 0b0110, false),
        -2,
        2,
        new int[] {2, 3, 4, 5});
    checkOp(
        "Sum(1,3)", new Op.Reduce(Op.ReduceKind.SUM, 0b1010, false), -2, 2, new int[] {2, 3, 4, 5});
  }

  /** Max / Min (random inputs: no ties, so the extreme is a kink only measure-zero away). */
  @Test
  void maxAndMin() {
    checkOp(
        "Max(-1)", new Op.Reduce(Op.ReduceKind.MAX, 0b1000, true), -2, 2, new int[] {2, 3, 4, 5});
    checkOp(
        "Min(1,2)", new Op.Reduce(Op.ReduceKind.MIN, 0b0110, false), -2, 2, new int[] {2, 3, 4, 5});
    checkOp(
        "Max(1) rank 3",
        new Op.Reduce(Op.ReduceKind.MAX, 0b010, false),
        -2,
        2,
        new int[] {2, 6, 4});
  }

  @Test
  void exp() {
    checkOp("Exp", new Op.Exp(), -2, 2, new int[] {2, 3, 4, 5});
  }

  @Test
  void softmax() {
    checkOp("Softmax", new Op.Softmax(), -2, 2, new int[] {2, 3, 4, 5});
    checkOp("Softmax rank 2", new Op.Softmax(), -2, 2, new int[] {3, 7});
  }

  @Test
  void logSoftmax() {
    checkOp("LogSoftmax", new Op.LogSoftmax(), -2, 2, new int[] {2, 3, 4, 5});
    checkOp("LogSoftmax rank 3", new Op.LogSoftmax(), -2, 2, new int[] {2, 6, 6});
    checkOp("LogSoftmax rank 2", new Op.LogSoftmax(), -2, 2, new int[] {3, 7});
  }

  @ParameterizedTest
  @CsvSource({
    "6,6,2,2,2,2,VALID",
    "7,7,3,3,2,2,SAME",
    "5,6,3,3,1,1,SAME",
    "7,5,2,2,2,2,SAME",
    "6,7,3,3,3,3,VALID",
    "6,5,3,2,2,1,SAME"
  })
  void pool(int h, int w, int kh, int kw, int sh, int sw, Padding pad) {
    for (Op.PoolKind kind : Op.PoolKind.values()) {
      Op op = new Op.Pool(kind, kh, kw, sh, sw, pad);
      checkOp(op.toString(), op, -1, 1, new int[] {2, h, w, 3});
    }
  }

  @Test
  void spatialMean() {
    checkOp("SpatialMean keep", new Op.SpatialMean(true), -1, 1, new int[] {2, 3, 4, 5});
    checkOp("SpatialMean", new Op.SpatialMean(false), -1, 1, new int[] {2, 3, 4, 5});
  }

  @ParameterizedTest
  @CsvSource({
    "3,4,6,8,false,false",
    "3,4,7,5,true,false",
    "4,3,8,6,false,true",
    "6,6,4,3,false,false",
    "5,5,3,3,false,true",
    "4,4,7,9,true,false",
    "5,7,5,7,false,true",
    "1,3,4,5,true,false"
  })
  void resize(int h, int w, int oh, int ow, boolean align, boolean half) {
    for (Op.ResizeMode mode : Op.ResizeMode.values()) {
      Op op = new Op.Resize(mode, oh, ow, align, half);
      checkOp(op.toString(), op, -1, 1, new int[] {2, h, w, 3});
    }
  }

  @Test
  void concat() {
    checkOp(
        "Concat channels",
        new Op.Concat(3),
        -1,
        1,
        new int[] {2, 3, 4, 2},
        new int[] {2, 3, 4, 3},
        new int[] {2, 3, 4, 1});
    checkOp("Concat rows", new Op.Concat(1), -1, 1, new int[] {2, 1, 4, 2}, new int[] {2, 3, 4, 2});
  }

  @ParameterizedTest
  @EnumSource(BinaryKind.class)
  void binaryOfActivations(BinaryKind kind) {
    double lo = kind == BinaryKind.DIV ? 0.5 : -1;
    double hi = kind == BinaryKind.DIV ? 1.5 : 1;
    int[] full = {2, 3, 4, 5};
    checkOp(kind + " same", new Op.Binary(kind), lo, hi, full, full);
    checkOp(kind + " b broadcast", new Op.Binary(kind), lo, hi, full, new int[] {2, 1, 4, 1});
    checkOp(kind + " a broadcast", new Op.Binary(kind), lo, hi, new int[] {2, 3, 1, 5}, full);
    checkOp(
        kind + " both broadcast",
        new Op.Binary(kind),
        lo,
        hi,
        new int[] {2, 3, 1, 1},
        new int[] {2, 1, 4, 5});
  }

  @ParameterizedTest
  @EnumSource(BinaryKind.class)
  void binaryWithConst(BinaryKind kind) {
    for (int[] cdims : new int[][] {{5}, {1, 1, 1, 5}, {4, 5}, {1}}) {
      long s = seed();
      Random rnd = new Random(s);
      float[] cv = GradCheck.uniform(rnd, Shape.of(cdims).size(), 0.5, 1.5);
      for (boolean constFirst : new boolean[] {false, true}) {
        Graph.Builder b = Graph.builder();
        b.add("x", new Op.Input(Shape.of(2, 3, 4, 5)));
        b.add("k", new Op.Const(new FloatTensor(Shape.of(cdims), cv)));
        if (constFirst) {
          b.add("y", new Op.Binary(kind), "k", "x");
        } else {
          b.add("y", new Op.Binary(kind), "x", "k");
        }
        b.output("y", "y");
        double lo = kind == BinaryKind.DIV && constFirst ? 0.5 : -1;
        GradCheck.check(
            kind + " with const " + Shape.of(cdims) + (constFirst ? " first" : ""),
            b.build(),
            Map.of("x", GradCheck.dtensor(rnd, lo, 1.5, 2, 3, 4, 5)),
            "y",
            List.of("x"),
            s,
            WORKERS);
      }
    }
  }

  @Test
  void pad() {
    Op op =
        new Op.Pad(
            List.of(new int[] {0, 0}, new int[] {1, 2}, new int[] {0, 1}, new int[] {2, 0}), 0.5f);
    checkOp("Pad", op, -1, 1, new int[] {2, 3, 4, 2});
  }

  @Test
  void matMulAndReshape() {
    Random rnd = new Random(seed());
    checkOp("MatMul", new Op.MatMul(rand(rnd, 6, 4), rand(rnd, 4)), -1, 1, new int[] {3, 6});
    checkOp("MatMul no bias", new Op.MatMul(rand(rnd, 6, 4), null), -1, 1, new int[] {3, 6});
    checkOp(
        "MatMul on tokens",
        new Op.MatMul(rand(rnd, 6, 4), rand(rnd, 4)),
        -1,
        1,
        new int[] {2, 5, 6});
    checkOp("Reshape", new Op.Reshape(Shape.of(6, -1)), -1, 1, new int[] {2, 3, 4, 5});
  }
}
