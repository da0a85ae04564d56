package dev.segcam.backend.onednn;

import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.segcam.backend.cpu.CpuOps;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.backend.cpu.grad.ElementwiseGrad;
import dev.segcam.backend.cpu.grad.PoolGrad;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.ConvGeometry;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.RequiresOneDnn;
import dev.segcam.testing.Tolerance;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * oneDNN pooling, eltwise, softmax, matmul, binary and concat against the Java engine's forward ops
 * (CpuOps) and data gradients (grad/*), fresh random inputs, every element.
 */
@RequiresOneDnn
class OneDnnOpsTest {
  /** Data movement and max: bit-exact. */
  static final Tolerance EXACT = new Tolerance(0, 0);

  static Parallel par;
  static OneDnnContext ctx;
  static Random rng;

  @BeforeAll
  static void start() {
    par = new Parallel(2);
    ctx = OneDnnContext.open();
    rng = new Random(RandomTensors.freshSeed("OneDnnOpsTest"));
  }

  @AfterAll
  static void stop() {
    if (ctx != null) {
      ctx.close();
    }
    par.close();
  }

  static FloatTensor rand(float lo, float hi, int... dims) {
    return RandomTensors.uniform(rng, Shape.of(dims), lo, hi);
  }

  @Test
  void poolingForwardAndDataGradient() {
    // {N,H,W,C, KH,KW, sh,sw, same?}: 2x2/2 even and odd sizes, 3x3/2 uneven SAME, overlapping
    int[][] cases = {
      {2, 8, 8, 5, 2, 2, 2, 2, 1},
      {1, 9, 7, 3, 2, 2, 2, 2, 1},
      {1, 9, 7, 3, 2, 2, 2, 2, 0},
      {2, 10, 11, 4, 3, 3, 2, 2, 1},
      {1, 7, 7, 6, 3, 3, 1, 1, 1},
      {1, 12, 9, 2, 3, 2, 3, 2, 0},
    };
    for (Op.PoolKind kind : Op.PoolKind.values()) {
      for (int[] k : cases) {
        String what = kind + " " + Arrays.toString(k);
        FloatTensor x = rand(-1, 1, k[0], k[1], k[2], k[3]);
        Op.Pool op =
            new Op.Pool(kind, k[4], k[5], k[6], k[7], k[8] == 1 ? Padding.SAME : Padding.VALID);
        FloatTensor ref = CpuOps.pool(par, x, op);
        OneDnnPool fwd = OneDnnPool.forward(ctx, op, x.shape());
        Tolerance tol = kind == Op.PoolKind.MAX ? EXACT : Accumulation.overTerms(k[4] * k[5]);
        tol.assertClose("pool " + what, ref.data(), fwd.run(x.data()));

        ConvGeometry g = fwd.geometry();
        FloatTensor dy = rand(-1, 1, k[0], g.oh(), g.ow(), k[3]);
        float[] xv = kind == Op.PoolKind.MAX ? x.data() : null;
        float[] dxRef = PoolGrad.poolData(xv, k[0], dy.data(), dy.shape(), x.shape(), g, par);
        float[] dx = OneDnnPool.backward(ctx, op, x.shape()).run(x.data(), dy.data());
        // a dx element sums the dy of every window covering it
        int windows = ((k[4] + k[6] - 1) / k[6]) * ((k[5] + k[7] - 1) / k[7]);
        Accumulation.overTerms(windows).assertClose("pool data " + what, dxRef, dx);
      }
    }
  }

  @Test
  void activationsForwardAndDataGradient() {
    int n = 4099; // not a multiple of any vector width
    List<Op.Activation> cases = new ArrayList<>();
    for (Op.ActivationKind kind : Op.ActivationKind.values()) {
      cases.add(new Op.Activation(kind, kind == Op.ActivationKind.LEAKY_RELU ? 0.2f : 0f));
    }
    cases.add(new Op.Activation(Op.ActivationKind.LEAKY_RELU, -0.3f)); // reads x, not y
    for (Op.Activation act : cases) {
      Op.ActivationKind kind = act.kind();
      float alpha = act.alpha();
      FloatTensor x = rand(-8, 8, n);
      FloatTensor y = CpuOps.activation(par, x, kind, alpha);
      Accumulation.ELEMENTWISE.assertClose(
          "act " + kind, y.data(), OneDnnEltwise.forward(ctx, kind, alpha, n).run(x.data()));

      float[] dy = rand(-1, 1, n).data();
      // the reference reads what TensorFlow's gradient reads (x for the ReLU family), oneDNN y
      boolean readsY = OneDnnEltwise.readsOutput(kind, alpha);
      float[] dxRef =
          ElementwiseGrad.activation(
              kind, alpha, dy, kind.gradReads == Op.GradReads.INPUT ? x.data() : y.data(), par);
      float[] dx =
          OneDnnEltwise.backward(ctx, kind, alpha, n).run(dy, readsY ? y.data() : x.data());
      Accumulation.ELEMENTWISE.assertClose("act data " + kind, dxRef, dx);
    }
  }

  @Test
  void softmaxForwardAndDataGradient() {
    int[][] cases = {{1, 5, 6, 7}, {2, 4, 4, 124}, {3, 1, 1, 10}};
    for (int[] k : cases) {
      FloatTensor x = rand(-6, 6, k);
      int classes = k[3];
      int rows = x.size() / classes;
      FloatTensor y = CpuOps.softmax(par, x);
      // the row sum is a reduction over the classes
      Tolerance tol = Accumulation.overTerms(classes);
      tol.assertClose(
          "softmax " + Arrays.toString(k),
          y.data(),
          OneDnnSoftmax.forward(ctx, rows, classes).run(x.data()));
      float[] dy = rand(-1, 1, k).data();
      tol.assertClose(
          "softmax data " + Arrays.toString(k),
          ElementwiseGrad.softmax(dy, y.data(), classes, par),
          OneDnnSoftmax.backward(ctx, rows, classes).run(dy, y.data()));
    }
  }

  @Test
  void matMulForwardAndDataGradient() {
    int[][] cases = {{1, 17, 5}, {8, 64, 10}, {3, 300, 129}};
    for (int[] k : cases) {
      int b = k[0];
      int in = k[1];
      int out = k[2];
      Op.MatMul op = new Op.MatMul(rand(-1, 1, in, out), rand(-1, 1, out));
      FloatTensor x = rand(-1, 1, b, in);
      Accumulation.overTerms(in + 1)
          .assertClose(
              "matmul " + Arrays.toString(k),
              CpuOps.matMul(par, x, op).data(),
              OneDnnMatMul.forward(ctx, op, b).run(x.data()));
      float[] dy = rand(-1, 1, b, out).data();
      Accumulation.overTerms(out)
          .assertClose(
              "matmul data " + Arrays.toString(k),
              ElementwiseGrad.matMulData(dy, b, op.weights().data(), in, out, par),
              OneDnnMatMul.backward(ctx, op, b).run(dy));
    }
  }

  @Test
  void binaryWithBroadcasting() {
    int[][][] shapes = {
      {{2, 5, 6, 7}, {2, 5, 6, 7}},
      {{2, 5, 6, 7}, {7}},
      {{2, 5, 6, 7}, {1, 1, 1, 7}},
      {{2, 5, 6, 7}, {2, 1, 1, 7}},
      {{1, 1, 1, 7}, {2, 5, 6, 7}}, // a broadcast: add/mul swap, sub/div refused
      {{3, 4}, {}},
    };
    for (Op.BinaryKind kind : Op.BinaryKind.values()) {
      for (int[][] s : shapes) {
        FloatTensor a = rand(-1, 1, s[0]);
        // divisors kept away from 0 so the quotient's rounding stays relative
        FloatTensor b = kind == Op.BinaryKind.DIV ? rand(0.5f, 2f, s[1]) : rand(-1, 1, s[1]);
        Shape out = s[0].length >= s[1].length && a.size() >= b.size() ? a.shape() : b.shape();
        String what = kind + " " + a.shape() + " " + b.shape();
        // oneDNN has no squared difference; SUB/DIV broadcast only their second operand
        boolean refused =
            kind == Op.BinaryKind.SQUARED_DIFFERENCE
                || a.size() < out.size()
                    && (kind == Op.BinaryKind.SUB || kind == Op.BinaryKind.DIV);
        if (refused) {
          assertThrows(
              OneDnnUnsupportedException.class,
              () -> OneDnnBinary.of(ctx, kind, a.shape(), b.shape(), out),
              what);
          continue;
        }
        FloatTensor ref = CpuOps.binary(par, a, b, kind, out);
        float[] got = OneDnnBinary.of(ctx, kind, a.shape(), b.shape(), out).run(a.data(), b.data());
        Accumulation.ELEMENTWISE.assertClose(what, ref.data(), got);
      }
    }
  }

  @Test
  void concatAlongChannelsAndOtherAxes() {
    int[][][] cases = {
      {{2, 5, 6, 3}, {2, 5, 6, 8}},
      {{1, 4, 4, 16}, {1, 4, 4, 16}, {1, 4, 4, 1}},
      {{2, 3, 6, 4}, {2, 5, 6, 4}},
    };
    int[] axes = {3, 3, 1};
    for (int i = 0; i < cases.length; i++) {
      List<FloatTensor> xs = Arrays.stream(cases[i]).map(d -> rand(-1, 1, d)).toList();
      int axis = axes[i];
      int[] od = cases[i][0].clone();
      od[axis] = Arrays.stream(cases[i]).mapToInt(d -> d[axis]).sum();
      Shape out = Shape.of(od);
      FloatTensor ref = CpuOps.concat(par, xs, axis, out);
      float[] got =
          OneDnnConcat.of(ctx, xs.stream().map(FloatTensor::shape).toList(), axis, out)
              .run(xs.stream().map(FloatTensor::data).toList());
      EXACT.assertClose("concat " + Arrays.deepToString(cases[i]), ref.data(), got);
    }
  }
}
