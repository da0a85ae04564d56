package dev.segcam.backend.cpu;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.testing.Tolerance;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every CPU kernel against its plain-loop reference in {@link NaiveOps}, on awkward sizes. */
class CpuOpsTest {
  static final Tolerance ACCUM = GemmTest.ACCUM;

  /** Transcendental functions: float vs double evaluation. */
  static final Tolerance TRANSCENDENTAL = new Tolerance(1e-6, 1e-7);

  static Parallel par;
  final Random r = new Random(20261123);

  @BeforeAll
  static void start() {
    par = new Parallel(3);
  }

  @AfterAll
  static void stop() {
    par.close();
  }

  FloatTensor rand(int... dims) {
    Shape s = Shape.of(dims);
    float[] x = new float[s.size()];
    for (int i = 0; i < x.length; i++) {
      x[i] = r.nextFloat() * 2 - 1;
    }
    return new FloatTensor(s, x);
  }

  @Test
  void conv2d() {
    // {N,H,W,C, KH,KW,F, sh,sw, dh,dw, same?, bias?}
    int[][] cases = {
      {2, 9, 11, 3, 3, 3, 5, 1, 1, 1, 1, 1, 1},
      {1, 9, 11, 3, 3, 3, 5, 2, 2, 1, 1, 1, 0},
      {2, 10, 7, 4, 3, 3, 6, 2, 1, 1, 1, 1, 1},
      {1, 13, 12, 5, 3, 3, 7, 1, 1, 2, 2, 1, 1},
      {1, 13, 12, 5, 5, 3, 3, 2, 2, 1, 1, 0, 1},
      {2, 17, 17, 19, 3, 3, 9, 1, 1, 1, 1, 1, 1},
      {2, 9, 13, 6, 1, 1, 5, 1, 1, 1, 1, 1, 1},
      {1, 9, 13, 6, 1, 1, 5, 2, 2, 1, 1, 0, 0},
      {1, 12, 12, 2, 4, 4, 3, 2, 2, 1, 1, 1, 1},
      {1, 7, 8, 3, 2, 3, 4, 3, 2, 1, 2, 0, 1},
      {1, 6, 6, 1, 7, 7, 2, 1, 1, 1, 1, 1, 0},
      // Winograd path (3x3, stride 1, >= 32 channels in and out): odd sizes, VALID, batch, 1x1
      {1, 9, 11, 32, 3, 3, 32, 1, 1, 1, 1, 0, 1},
      {2, 10, 7, 36, 3, 3, 33, 1, 1, 1, 1, 1, 0},
      {3, 5, 6, 33, 3, 3, 40, 1, 1, 1, 1, 1, 1},
      {1, 1, 1, 32, 3, 3, 32, 1, 1, 1, 1, 1, 1},
      {1, 3, 4, 35, 3, 3, 37, 1, 1, 1, 1, 0, 1},
    };
    for (int[] t : cases) {
      Op.Conv2D op =
          new Op.Conv2D(
              rand(t[4], t[5], t[3], t[6]),
              t[12] == 1 ? rand(t[6]) : null,
              t[7],
              t[8],
              t[9],
              t[10],
              t[11] == 1 ? Padding.SAME : Padding.VALID);
      FloatTensor x = rand(t[0], t[1], t[2], t[3]);
      ACCUM.assertClose(
          "conv2d " + java.util.Arrays.toString(t),
          NaiveOps.conv2d(x, op),
          CpuConv.conv2d(par, x, op));
    }
  }

  @Test
  void depthwiseConv2d() {
    // {N,H,W,C, KH,KW,M, sh,sw, dh,dw, same?}
    int[][] cases = {
      {2, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1},
      {1, 9, 11, 3, 3, 3, 2, 2, 2, 1, 1, 1},
      {1, 10, 9, 4, 3, 3, 1, 1, 1, 2, 2, 1},
      {1, 10, 9, 4, 5, 3, 3, 2, 1, 1, 1, 0},
    };
    for (int[] t : cases) {
      Op.DepthwiseConv2D op =
          new Op.DepthwiseConv2D(
              rand(t[4], t[5], t[3], t[6]),
              rand(t[3] * t[6]),
              t[7],
              t[8],
              t[9],
              t[10],
              t[11] == 1 ? Padding.SAME : Padding.VALID);
      FloatTensor x = rand(t[0], t[1], t[2], t[3]);
      ACCUM.assertClose(
          "depthwise " + java.util.Arrays.toString(t),
          NaiveOps.depthwise(x, op),
          CpuConv.depthwiseConv2d(par, x, op));
    }
  }

  @Test
  void conv2dTranspose() {
    // {N,H,W,C, KH,KW,F, sh,sw, same?, outH,outW (-1 derive), bias?}
    int[][] cases = {
      {2, 5, 6, 3, 2, 2, 4, 2, 2, 1, -1, -1, 1},
      {1, 5, 4, 3, 3, 3, 5, 2, 2, 1, 9, 7, 1},
      {1, 5, 4, 3, 3, 3, 5, 2, 2, 1, -1, -1, 0},
      {1, 4, 5, 6, 3, 3, 2, 2, 2, 0, -1, -1, 1},
      {2, 6, 7, 3, 4, 4, 3, 1, 1, 1, -1, -1, 1},
      {1, 7, 6, 2, 5, 3, 3, 3, 2, 1, 19, 11, 0},
    };
    for (int[] t : cases) {
      Op.Conv2DTranspose op =
          new Op.Conv2DTranspose(
              rand(t[4], t[5], t[6], t[3]),
              t[12] == 1 ? rand(t[6]) : null,
              t[7],
              t[8],
              t[9] == 1 ? Padding.SAME : Padding.VALID,
              t[10],
              t[11]);
      FloatTensor x = rand(t[0], t[1], t[2], t[3]);
      Shape os = CpuConv.conv2dTransposeShape(x.shape(), op);
      ACCUM.assertClose(
          "conv2dTranspose " + java.util.Arrays.toString(t),
          NaiveOps.conv2dTranspose(x, op, os.dim(1), os.dim(2)),
          CpuConv.conv2dTranspose(par, x, op, os));
    }
  }

  @Test
  void pool() {
    FloatTensor x = rand(2, 9, 11, 5);
    for (Op.PoolKind k : Op.PoolKind.values()) {
      Op.Pool[] ops = {
        new Op.Pool(k, 2, 2, 2, 2, Padding.SAME),
        new Op.Pool(k, 3, 3, 2, 2, Padding.SAME),
        new Op.Pool(k, 3, 2, 2, 1, Padding.VALID),
        new Op.Pool(k, 3, 3, 1, 1, Padding.SAME),
      };
      for (Op.Pool op : ops) {
        ACCUM.assertClose(op.toString(), NaiveOps.pool(x, op), CpuOps.pool(par, x, op));
      }
    }
  }

  @Test
  void spatialMean() {
    FloatTensor x = rand(3, 7, 9, 5);
    float[] ref = new float[15];
    for (int n = 0; n < 3; n++) {
      for (int c = 0; c < 5; c++) {
        double s = 0;
        for (int p = 0; p < 63; p++) {
          s += x.data()[(n * 63 + p) * 5 + c];
        }
        ref[n * 5 + c] = (float) (s / 63);
      }
    }
    ACCUM.assertClose(
        "mean keep", new FloatTensor(Shape.of(3, 1, 1, 5), ref), CpuOps.spatialMean(par, x, true));
    ACCUM.assertClose(
        "mean", new FloatTensor(Shape.of(3, 5), ref), CpuOps.spatialMean(par, x, false));
  }

  @Test
  void resize() {
    FloatTensor small = rand(2, 5, 7, 3);
    FloatTensor big = rand(1, 13, 11, 2);
    boolean[][] flags = {{false, false}, {true, false}, {false, true}};
    for (Op.ResizeMode mode : Op.ResizeMode.values()) {
      for (boolean[] f : flags) {
        Op.Resize up = new Op.Resize(mode, 13, 16, f[0], f[1]);
        Op.Resize down = new Op.Resize(mode, 4, 6, f[0], f[1]);
        Op.Resize one = new Op.Resize(mode, 1, 3, f[0], f[1]);
        Tolerance.SAME.assertClose(
            up.toString(), NaiveOps.resize(small, up), CpuOps.resize(par, small, up));
        Tolerance.SAME.assertClose(
            down.toString(), NaiveOps.resize(big, down), CpuOps.resize(par, big, down));
        Tolerance.SAME.assertClose(
            one.toString(), NaiveOps.resize(big, one), CpuOps.resize(par, big, one));
      }
    }
  }

  @Test
  void activations() {
    FloatTensor x = rand(3, 5, 7, 11);
    for (int i = 0; i < x.size(); i += 7) {
      x.data()[i] *= 12; // reach Relu6's upper clamp and saturate sigmoid/tanh
    }
    for (Op.ActivationKind k : Op.ActivationKind.values()) {
      float alpha = 0.3f;
      float[] ref = new float[x.size()];
      for (int i = 0; i < ref.length; i++) {
        ref[i] = NaiveOps.act(k, alpha, x.data()[i]);
      }
      TRANSCENDENTAL.assertClose(
          k.toString(), new FloatTensor(x.shape(), ref), CpuOps.activation(par, x, k, alpha));
    }
  }

  @Test
  void softmax() {
    FloatTensor x = rand(2, 3, 5, 7);
    for (int i = 0; i < x.size(); i++) {
      x.data()[i] *= 30;
    }
    TRANSCENDENTAL.assertClose("softmax", NaiveOps.softmax(x), CpuOps.softmax(par, x));
  }

  @Test
  void biasAddAndBatchNorm() {
    FloatTensor x = rand(2, 5, 3, 7);
    FloatTensor s = rand(7);
    FloatTensor o = rand(7);
    float[] refB = new float[x.size()];
    float[] refN = new float[x.size()];
    for (int i = 0; i < refB.length; i++) {
      refB[i] = x.data()[i] + o.data()[i % 7];
      refN[i] = x.data()[i] * s.data()[i % 7] + o.data()[i % 7];
    }
    Tolerance.SAME.assertClose(
        "bias", new FloatTensor(x.shape(), refB), CpuOps.biasAdd(par, x, o.data()));
    Tolerance.SAME.assertClose(
        "batchnorm",
        new FloatTensor(x.shape(), refN),
        CpuOps.batchNorm(par, x, s.data(), o.data()));
  }

  @Test
  void concatEveryAxis() {
    for (int axis = 0; axis < 4; axis++) {
      int[] d1 = {2, 3, 4, 5};
      int[] d2 = {2, 3, 4, 5};
      int[] d3 = {2, 3, 4, 5};
      d2[axis] = 1;
      d3[axis] = 3;
      FloatTensor a = rand(d1);
      FloatTensor b = rand(d2);
      FloatTensor c = rand(d3);
      int[] od = d1.clone();
      od[axis] = d1[axis] + d2[axis] + d3[axis];
      Shape os = Shape.of(od);
      float[] ref = new float[os.size()];
      int[] idx = new int[4];
      for (int flat = 0; flat < ref.length; flat++) {
        int rem = flat;
        for (int d = 3; d >= 0; d--) {
          idx[d] = rem % od[d];
          rem /= od[d];
        }
        int i = idx[axis];
        FloatTensor src = i < d1[axis] ? a : i < d1[axis] + d2[axis] ? b : c;
        int[] sd = src.shape().dims();
        idx[axis] =
            i < d1[axis] ? i : i < d1[axis] + d2[axis] ? i - d1[axis] : i - d1[axis] - d2[axis];
        ref[flat] = src.data()[((idx[0] * sd[1] + idx[1]) * sd[2] + idx[2]) * sd[3] + idx[3]];
      }
      Tolerance.SAME.assertClose(
          "concat axis " + axis,
          new FloatTensor(os, ref),
          CpuOps.concat(par, List.of(a, b, c), axis, os));
    }
  }

  @Test
  void binaryBroadcasting() {
    int[][][] pairs = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}},
      {{2, 3, 4, 5}, {5}},
      {{2, 3, 4, 5}, {}},
      {{}, {2, 3, 4, 5}},
      {{2, 3, 4, 5}, {1, 3, 1, 5}},
      {{4, 1}, {1, 6}},
      {{3}, {2, 1, 3}},
      {{2, 1, 4, 1}, {3, 1, 7}},
    };
    for (int[][] p : pairs) {
      FloatTensor a = rand(p[0]);
      FloatTensor b = rand(p[1]);
      for (int i = 0; i < b.size(); i++) {
        b.data()[i] += b.data()[i] >= 0 ? 0.5f : -0.5f; // keep DIV away from 0
      }
      for (Op.BinaryKind k : Op.BinaryKind.values()) {
        FloatTensor ref = NaiveOps.binary(a, b, k);
        Tolerance.SAME.assertClose(
            k + " " + a.shape() + " " + b.shape(), ref, CpuOps.binary(par, a, b, k, ref.shape()));
      }
    }
  }

  @Test
  void pad() {
    FloatTensor x = rand(2, 3, 4, 5);
    List<int[]> pads =
        List.of(new int[] {0, 0}, new int[] {1, 2}, new int[] {0, 3}, new int[] {2, 1});
    Shape os = Shape.of(2, 6, 7, 8);
    float[] ref = new float[os.size()];
    java.util.Arrays.fill(ref, 1.5f);
    for (int n = 0; n < 2; n++) {
      for (int y = 0; y < 3; y++) {
        for (int xx = 0; xx < 4; xx++) {
          for (int c = 0; c < 5; c++) {
            ref[NaiveOps.idx4(os, n, y + 1, xx, c + 2)] =
                x.data()[NaiveOps.idx4(x.shape(), n, y, xx, c)];
          }
        }
      }
    }
    Tolerance.SAME.assertClose("pad", new FloatTensor(os, ref), CpuOps.pad(par, x, pads, 1.5f));
    FloatTensor m = rand(3, 4);
    FloatTensor pm = CpuOps.pad(par, m, List.of(new int[] {0, 0}, new int[] {2, 0}), 0f);
    float[] refM = new float[18];
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 4; j++) {
        refM[i * 6 + j + 2] = m.data()[i * 4 + j];
      }
    }
    Tolerance.SAME.assertClose("pad rank 2", new FloatTensor(Shape.of(3, 6), refM), pm);
  }

  @Test
  void matMul() {
    FloatTensor x = rand(3, 37);
    Op.MatMul op = new Op.MatMul(rand(37, 11), rand(11));
    float[] ref = new float[33];
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 11; j++) {
        double s = op.bias().data()[j];
        for (int k = 0; k < 37; k++) {
          s += (double) x.data()[i * 37 + k] * op.weights().data()[k * 11 + j];
        }
        ref[i * 11 + j] = (float) s;
      }
    }
    ACCUM.assertClose("matmul", new FloatTensor(Shape.of(3, 11), ref), CpuOps.matMul(par, x, op));
  }
}
