package dev.segcam.backend.cuda;

import dev.segcam.ir.Op;
import dev.segcam.kernels.ActivationKernels;
import dev.segcam.kernels.ConcatDims;
import dev.segcam.kernels.ConvGeometry;
import dev.segcam.kernels.ConvKernels;
import dev.segcam.kernels.CpuKernels;
import dev.segcam.kernels.ExpKernels;
import dev.segcam.kernels.LayoutKernels;
import dev.segcam.kernels.MapDims;
import dev.segcam.kernels.MatMulKernels;
import dev.segcam.kernels.PoolKernels;
import dev.segcam.kernels.ResizeDims;
import dev.segcam.kernels.ResizeKernels;
import dev.segcam.kernels.UnaryKernels;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.RequiresGpu;
import dev.segcam.testing.Tolerance;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Each graph-op kernel (CudaGraphOps: activation, softmax, pool, resize nearest, concat_pad,
 * binary, conv_direct) (and xgradcam_weights) against its CPU twin on fresh random data, K = 2
 * targets tiled over N = 2 images where the kernel tiles: when CudaCamBackendTest fails on a model,
 * this says which kernel is wrong.
 */
@RequiresGpu
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CudaGraphOpsTest {
  static final Tolerance TWIN = Tolerance.CUDA_FP32;
  static final int N = 2;
  static final int K = 2;

  private final Random rng = new Random(RandomTensors.freshSeed("CudaGraphOpsTest"));
  private CudaContext ctx;
  private CudaGraphOps ops;

  @BeforeAll
  void open() {
    ctx = CudaContext.open(0);
    ops = new CudaGraphOps(ctx);
    System.out.println("[graph ops] " + ctx.describe());
  }

  @AfterAll
  void close() {
    if (ops != null) {
      ops.close();
    }
    if (ctx != null) {
      ctx.close();
    }
  }

  private float[] rnd(int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) rng.nextGaussian();
    }
    return a;
  }

  private DeviceBuffer up(float[] a) {
    return ctx.arena().upload(a);
  }

  private DeviceBuffer out(int n) {
    return ctx.arena().floats(n);
  }

  private static float[] down(DeviceBuffer b, int n) {
    return b.downloadFloats(n);
  }

  @Test
  void channelAffineAndScale() {
    int c = 7;
    int total = N * 5 * 6 * c;
    float[] x = rnd(total);
    float[] s = rnd(c);
    float[] o = rnd(c);
    float[] ref = new float[total];
    try (DeviceBuffer dx = up(x);
        DeviceBuffer ds = up(s);
        DeviceBuffer dof = up(o);
        DeviceBuffer dy = out(total)) {
      ActivationKernels.channel_affine(ref, x, s, o, total, c);
      ops.channel_affine(dy, dx, ds, dof, total, c);
      TWIN.assertClose("channel_affine", ref, down(dy, total));
      ActivationKernels.channel_affine(ref, x, null, o, total, c);
      ops.channel_affine(dy, dx, null, dof, total, c);
      TWIN.assertClose("channel_affine bias only", ref, down(dy, total));
      ActivationKernels.channel_scale_bwd(ref, x, s, total, c);
      ops.channel_scale_bwd(dy, dx, ds, total, c);
      TWIN.assertClose("channel_scale_bwd", ref, down(dy, total));
    }
  }

  @Test
  void expAndItsGradient() {
    int total = N * 3 * 4 * 5;
    float[] x = rnd(total);
    float[] dy = rnd(total * K);
    float[] y = new float[total];
    float[] dx = new float[total * K];
    ExpKernels.exp_fwd(y, x, total);
    ExpKernels.exp_bwd(dx, dy, y, total * K, total);
    try (DeviceBuffer dX = up(x);
        DeviceBuffer dY = out(total);
        DeviceBuffer dDy = up(dy);
        DeviceBuffer dDx = out(total * K)) {
      ops.launchIn("exp", "exp_fwd", total, dY, dX, total);
      TWIN.assertClose("exp_fwd", y, down(dY, total));
      ops.launchIn("exp", "exp_bwd", total * K, dDx, dDy, dY, total * K, total);
      TWIN.assertClose("exp_bwd", dx, down(dDx, total * K));
    }
  }

  /** batch_matmul: every transpose pair, equal batches and the K·N gradient batch over N values. */
  @Test
  void batchMatmul() {
    int m = 7;
    int n = 9;
    int k = 13;
    for (int ta = 0; ta < 2; ta++) {
      for (int tb = 0; tb < 2; tb++) {
        for (int[] ab : new int[][] {{N, N}, {K * N, N}, {N, K * N}}) {
          int total = Math.max(ab[0], ab[1]) * m * n;
          float[] a = rnd(ab[0] * m * k);
          float[] b = rnd(ab[1] * k * n);
          float[] c = new float[total];
          MatMulKernels.batch_matmul(
              c,
              new MatMulKernels.Operands<>(
                  a, b, ab[0], ab[1], new MatMulKernels.Call(true, m, n, k, ta, tb)));
          try (DeviceBuffer dA = up(a);
              DeviceBuffer dB = up(b);
              DeviceBuffer dC = out(total)) {
            ops.launchIn(
                "matmul", "batch_matmul", total, dC, dA, dB, total, m, n, k, ab[0], ab[1], ta, tb);
            TWIN.assertClose(
                "batch_matmul " + ta + tb + " " + Arrays.toString(ab), c, down(dC, total));
          }
        }
      }
    }
  }

  @Test
  void unaryKindsAndTheirGradients() {
    int total = N * 3 * 4 * 5;
    for (Op.UnaryKind k : Op.UnaryKind.values()) {
      float[] x = rnd(total);
      if (k == Op.UnaryKind.SQRT
          || k == Op.UnaryKind.RSQRT
          || k == Op.UnaryKind.LOG
          || k == Op.UnaryKind.POW) {
        for (int i = 0; i < total; i++) {
          x[i] = 0.05f + Math.abs(x[i]); // their domain
        }
      }
      float p = 2.5f;
      float[] y = new float[total];
      UnaryKernels.unary_fwd(y, x, total, k.code, p);
      float[] v = k.gradReads == Op.GradReads.OUTPUT ? y : x;
      float[] dy = rnd(total * K);
      float[] dx = new float[total * K];
      UnaryKernels.unary_bwd(dx, dy, v, total * K, total, k.code, p);
      try (DeviceBuffer dX = up(x);
          DeviceBuffer dY = out(total);
          DeviceBuffer dV = up(v);
          DeviceBuffer dDy = up(dy);
          DeviceBuffer dDx = out(total * K)) {
        ops.launchIn("unary", "unary_fwd", total, dY, dX, total, k.code, p);
        TWIN.assertClose("unary_fwd " + k, y, down(dY, total));
        ops.launchIn("unary", "unary_bwd", total * K, dDx, dDy, dV, total * K, total, k.code, p);
        TWIN.assertClose("unary_bwd " + k, dx, down(dDx, total * K));
      }
    }
  }

  @Test
  void activations() {
    int total = N * 4 * 5 * 3;
    float[] x = rnd(total);
    x[0] = 0f;
    x[1] = 6f;
    for (int i = 2; i < 12; i++) {
      x[i] *= 8f;
    }
    float[] dy = rnd(total * K);
    for (Op.ActivationKind k : Op.ActivationKind.values()) {
      int kind = k.code;
      float[] y = new float[total];
      float[] dx = new float[total * K];
      ActivationKernels.activation_fwd(y, x, total, kind, 0.15f);
      boolean readsInput = k.gradReads == Op.GradReads.INPUT;
      ActivationKernels.activation_bwd(dx, dy, readsInput ? x : y, total * K, total, kind, 0.15f);
      try (DeviceBuffer dX = up(x);
          DeviceBuffer dY = out(total);
          DeviceBuffer dDy = up(dy);
          DeviceBuffer dDx = out(total * K)) {
        ops.activation_fwd(dY, dX, total, kind, 0.15f);
        TWIN.assertClose("activation_fwd " + kind, y, down(dY, total));
        ops.activation_bwd(dDx, dDy, readsInput ? dX : dY, total * K, total, kind, 0.15f);
        TWIN.assertClose("activation_bwd " + kind, dx, down(dDx, total * K));
      }
    }
  }

  @Test
  void softmax() {
    int rows = N * 3 * 4;
    int c = 5;
    float[] x = rnd(rows * c);
    float[] dy = rnd(rows * c * K);
    float[] y = new float[rows * c];
    float[] dx = new float[rows * c * K];
    ActivationKernels.softmax_fwd(y, x, rows, c);
    ActivationKernels.softmax_bwd(dx, dy, y, rows * K, rows, c);
    try (DeviceBuffer dX = up(x);
        DeviceBuffer dY = out(y.length);
        DeviceBuffer dDy = up(dy);
        DeviceBuffer dDx = out(dx.length)) {
      ops.softmax_fwd(dY, dX, rows, c);
      TWIN.assertClose("softmax_fwd", y, down(dY, y.length));
      ops.softmax_bwd(dDx, dDy, dY, rows * K, rows, c);
      TWIN.assertClose("softmax_bwd", dx, down(dDx, dx.length));
    }
  }

  @Test
  void pooling() {
    int h = 7;
    int w = 9;
    int c = 3;
    float[] x = rnd(N * h * w * c);
    int[][] cfg = {{2, 2, 2, 2, 0, 0}, {3, 3, 2, 2, 1, 1}, {3, 2, 1, 2, 1, 0}, {2, 3, 3, 1, 0, 1}};
    for (int[] g : cfg) {
      int oh = (h + 2 * g[4] - g[0]) / g[2] + 1;
      int ow = (w + 2 * g[5] - g[1]) / g[3] + 1;
      for (boolean max : new boolean[] {true, false}) {
        float[] y = new float[N * oh * ow * c];
        PoolKernels.pool_fwd(
            y,
            x,
            new ConvGeometry(
                N, h, w, c, g[0], g[1], c, 1, g[2], g[3], 1, 1, g[4], g[5], 0, 0, oh, ow),
            max);
        float[] dy = rnd(y.length * K);
        float[] dx = new float[x.length * K];
        if (max) {
          PoolKernels.maxpool_bwd(
              dx,
              dy,
              x,
              N * K,
              new ConvGeometry(
                  N, h, w, c, g[0], g[1], c, 1, g[2], g[3], 1, 1, g[4], g[5], 0, 0, oh, ow));
        } else {
          PoolKernels.avgpool_bwd(
              dx,
              dy,
              new ConvGeometry(
                  N * K, h, w, c, g[0], g[1], c, 1, g[2], g[3], 1, 1, g[4], g[5], 0, 0, oh, ow));
        }
        String what = (max ? "max " : "avg ") + java.util.Arrays.toString(g);
        try (DeviceBuffer dX = up(x);
            DeviceBuffer dY = out(y.length);
            DeviceBuffer dDy = up(dy);
            DeviceBuffer dDx = out(dx.length)) {
          ConvGeometry geo =
              new ConvGeometry(
                  N, h, w, c, g[0], g[1], c, 1, g[2], g[3], 1, 1, g[4], g[5], g[4], g[5], oh, ow);
          ops.pool_fwd(dY, dX, geo, max);
          TWIN.assertClose("pool_fwd " + what, y, down(dY, y.length));
          if (max) {
            ops.maxpool_bwd(dDx, dDy, dX, N * K, geo);
          } else {
            ops.avgpool_bwd(dDx, dDy, geo.withBatch(N * K));
          }
          TWIN.assertClose("pool_bwd " + what, dx, down(dDx, dx.length));
        }
      }
    }
  }

  @Test
  void spatialMeanNearestResizeConcatPad() {
    int b = N * K;
    float[] dy = rnd(b * 4);
    float[] dx = new float[b * 15 * 4];
    PoolKernels.spatial_mean_bwd(dx, dy, b, 15, 4);
    try (DeviceBuffer dDy = up(dy);
        DeviceBuffer dDx = out(dx.length)) {
      ops.spatial_mean_bwd(dDx, dDy, b, 15, 4);
      TWIN.assertClose("spatial_mean_bwd", dx, down(dDx, dx.length));
    }
    float[] x = rnd(N * 5 * 7 * 2);
    for (boolean[] f : new boolean[][] {{false, false}, {true, false}, {false, true}}) {
      for (int[] s : new int[][] {{10, 14}, {3, 4}, {11, 5}}) {
        float[] y = new float[N * s[0] * s[1] * 2];
        ResizeKernels.resize_nearest_fwd(y, x, new ResizeDims(N, 5, 7, 2, s[0], s[1], f[0], f[1]));
        float[] g = rnd(y.length * K);
        float[] gx = new float[x.length * K];
        ResizeKernels.resize_nearest_bwd(
            gx, g, new ResizeDims(N * K, 5, 7, 2, s[0], s[1], f[0], f[1]));
        try (DeviceBuffer dX = up(x);
            DeviceBuffer dY = out(y.length);
            DeviceBuffer dG = up(g);
            DeviceBuffer dGx = out(gx.length)) {
          ops.resize_nearest_fwd(dY, dX, new ResizeDims(N, 5, 7, 2, s[0], s[1], f[0], f[1]));
          TWIN.assertClose("resize_nearest_fwd", y, down(dY, y.length));
          ops.resize_nearest_bwd(dGx, dG, new ResizeDims(N * K, 5, 7, 2, s[0], s[1], f[0], f[1]));
          TWIN.assertClose("resize_nearest_bwd", gx, down(dGx, gx.length));
        }
      }
    }
    // concat of (6,2,5) and (6,3,5) along the middle axis, and back
    float[] a = rnd(6 * 2 * 5);
    float[] c = rnd(6 * 3 * 5);
    float[] big = new float[6 * 5 * 5];
    LayoutKernels.concat_copy(big, a, new ConcatDims(6, 2, 5, 5, 0), false);
    LayoutKernels.concat_copy(big, c, new ConcatDims(6, 3, 5, 5, 2), false);
    float[] back = new float[c.length];
    LayoutKernels.concat_copy(big, back, new ConcatDims(6, 3, 5, 5, 2), true);
    try (DeviceBuffer dA = up(a);
        DeviceBuffer dC = up(c);
        DeviceBuffer dBig = out(big.length);
        DeviceBuffer dBack = out(back.length)) {
      ops.concat_copy(dBig, dA, new ConcatDims(6, 2, 5, 5, 0), false);
      ops.concat_copy(dBig, dC, new ConcatDims(6, 3, 5, 5, 2), false);
      TWIN.assertClose("concat_copy", big, down(dBig, big.length));
      ops.concat_copy(dBig, dBack, new ConcatDims(6, 3, 5, 5, 2), true);
      TWIN.assertClose("concat_copy backward", back, down(dBack, back.length));
    }
    int[] xd = {N, 4, 5, 3};
    int[] od = {N, 7, 8, 4};
    int[] p = {0, 1, 3, 0};
    float[] px = rnd(N * 4 * 5 * 3);
    float[] py = new float[N * 7 * 8 * 4];
    LayoutKernels.pad_fwd(py, px, 0.5f, od, xd, p);
    int[] xdk = {N * K, 4, 5, 3};
    int[] odk = {N * K, 7, 8, 4};
    float[] pg = rnd(N * K * 7 * 8 * 4);
    float[] pgx = new float[N * K * 4 * 5 * 3];
    LayoutKernels.pad_bwd(pgx, pg, xdk, odk, p);
    try (DeviceBuffer dX = up(px);
        DeviceBuffer dY = out(py.length);
        DeviceBuffer dG = up(pg);
        DeviceBuffer dGx = out(pgx.length)) {
      ops.pad_fwd(dY, dX, 0.5f, od, xd, p);
      TWIN.assertClose("pad_fwd", py, down(dY, py.length));
      ops.pad_bwd(dGx, dG, xdk, odk, p);
      TWIN.assertClose("pad_bwd", pgx, down(dGx, pgx.length));
    }
  }

  @Test
  void broadcastBinary() {
    int[][][] cases = {
      {{N, 4, 5, 3}, {N, 4, 5, 3}},
      {{N, 4, 5, 3}, {N, 1, 1, 3}},
      {{N, 4, 5, 3}, {1, 1, 1, 3}},
      {{1, 1, N, 6}, {1, 1, N, 6}},
    };
    for (Op.BinaryKind bk : Op.BinaryKind.values()) {
      int kind = bk.code;
      for (int[][] cs : cases) {
        int[] ad = cs[0];
        int[] bd = cs[1];
        int[] od = ad.clone();
        float[] a = rnd(ad[0] * ad[1] * ad[2] * ad[3]);
        float[] b = new float[bd[0] * bd[1] * bd[2] * bd[3]];
        for (int i = 0; i < b.length; i++) {
          b[i] = 0.5f + 1.5f * rng.nextFloat();
        }
        float[] y = new float[a.length];
        LayoutKernels.binary_fwd(y, a, b, kind, od, ad, bd);
        // the gradient has the targets' batch where the operand has the images' batch
        int[] yd = od.clone();
        yd[0] *= K;
        if (ad[0] == 1) {
          yd[0] = 1; // rank-2 case padded to rank 4: no batch axis in dim 0
        }
        float[] dy = rnd(yd[0] * yd[1] * yd[2] * yd[3]);
        String what = "binary " + kind + " " + java.util.Arrays.deepToString(cs);
        try (DeviceBuffer dA = up(a);
            DeviceBuffer dB = up(b);
            DeviceBuffer dY = out(y.length);
            DeviceBuffer dDy = up(dy)) {
          ops.binary_fwd(dY, dA, dB, kind, od, ad, bd);
          TWIN.assertClose(what, y, down(dY, y.length));
          for (boolean wrtA : new boolean[] {true, false}) {
            int[] v = wrtA ? ad : bd;
            int[] gd = v.clone();
            if (v[0] == ad[0] && v[0] != 1) {
              gd[0] = yd[0];
            }
            float[] g = new float[gd[0] * gd[1] * gd[2] * gd[3]];
            LayoutKernels.binary_bwd(g, dy, a, b, kind, wrtA, gd, yd, ad, bd);
            try (DeviceBuffer dG = out(g.length)) {
              ops.binary_bwd(dG, dDy, dA, dB, kind, wrtA, new int[][] {yd, gd, ad, bd});
              TWIN.assertClose(what + (wrtA ? " da" : " db"), g, down(dG, g.length));
            }
          }
        }
      }
    }
  }

  @Test
  void addInPlaceAndXGradCam() {
    float[] a = rnd(1000);
    float[] b = rnd(1000);
    float[] ref = a.clone();
    LayoutKernels.add_inplace(ref, b, 1000);
    try (DeviceBuffer dA = up(a);
        DeviceBuffer dB = up(b)) {
      ops.add_inplace(dA, dB, 1000);
      TWIN.assertClose("add_inplace", ref, down(dA, 1000));
    }
    int h = 6;
    int w = 5;
    int c = 40;
    float[] acts = new float[N * h * w * c];
    for (int i = 0; i < acts.length; i++) {
      acts[i] = rng.nextFloat();
    }
    float[] grads = rnd(acts.length);
    float[] alpha = new float[N * c];
    CpuKernels.xgradcam_weights(alpha, acts, grads, N, h, w, c, 1e-7f);
    try (DeviceBuffer dA = up(acts);
        DeviceBuffer dG = up(grads);
        DeviceBuffer dAl = out(alpha.length)) {
      ctx.kernels().xgradcam_weights(dAl, dA, dG, new MapDims(N, h, w, c), 1e-7f);
      TWIN.assertClose("xgradcam_weights", alpha, down(dAl, alpha.length));
    }
  }

  @Test
  void directConvolution() {
    // {H, W, C, F, kh, kw, sh, sw, dh, dw, pt, pl, groups}
    int[][] cfg = {
      {9, 11, 4, 6, 3, 3, 2, 2, 1, 1, 0, 1, 1},
      {10, 12, 3, 5, 3, 5, 2, 2, 1, 2, 1, 4, 1},
      {8, 9, 4, 8, 3, 3, 1, 1, 1, 1, 1, 1, 4},
    };
    for (int[] c : cfg) {
      int oh = (c[0] + 2 * c[10] - ((c[4] - 1) * c[8] + 1)) / c[6] + 1;
      int ow = (c[1] + 2 * c[11] - ((c[5] - 1) * c[9] + 1)) / c[7] + 1;
      float[] x = rnd(N * c[0] * c[1] * c[2]);
      float[] wt = rnd(c[3] * c[4] * c[5] * (c[2] / c[12]));
      float[] y = new float[N * oh * ow * c[3]];
      ConvGeometry geo =
          new ConvGeometry(
              N, c[0], c[1], c[2], c[4], c[5], c[3], c[12], c[6], c[7], c[8], c[9], c[10], c[11],
              c[10], c[11], oh, ow);
      ConvKernels.conv2d_direct_fwd(y, x, wt, geo);
      float[] dy = rnd(y.length * K);
      float[] dx = new float[x.length * K];
      ConvKernels.conv2d_direct_bwd_data(dx, dy, wt, geo.withBatch(N * K));
      String what = java.util.Arrays.toString(c);
      Tolerance sums = new Tolerance(1e-5, 1e-5); // float sums of up to 60 terms, same order
      try (DeviceBuffer dX = up(x);
          DeviceBuffer dW = up(wt);
          DeviceBuffer dY = out(y.length);
          DeviceBuffer dDy = up(dy);
          DeviceBuffer dDx = out(dx.length)) {
        ops.conv2d_direct_fwd(dY, dX, dW, geo);
        sums.assertClose("conv2d_direct_fwd " + what, y, down(dY, y.length));
        ops.conv2d_direct_bwd_data(dDx, dDy, dW, geo.withBatch(N * K));
        sums.assertClose("conv2d_direct_bwd_data " + what, dx, down(dDx, dx.length));
      }
    }
  }
}
