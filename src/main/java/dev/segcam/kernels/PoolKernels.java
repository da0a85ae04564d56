package dev.segcam.kernels;

/**
 * Java twins of the window ops of the CUDA backend (max/average pooling, spatial mean gradient),
 * same names and argument order.
 *
 * <p>Graph-op twins (see {@link CpuKernels} for the conventions): flat row-major float arrays,
 * NHWC; backward kernels read forward values "tiled" (gradient element i reads value element i %
 * valueTotal, rows target-major over the K targets).
 */
public final class PoolKernels {
  private PoolKernels() {}

  /** {@code // x (N,H,W,C) -> y (N,OH,OW,C)}; pt/pl: padding before (TF SAME/VALID). */
  public static void pool_fwd(
      float[] y,
      float[] x,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int pt,
      int pl,
      boolean max) {
    pool_fwd_rows(y, x, N, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl, max, 0, N * OH);
  }

  /**
   * {@link #pool_fwd} on output rows [rowLo, rowHi) of the N·OH rows, for the CPU engine's parallel
   * split; each output element sums its window in the same order as the kernel.
   */
  public static void pool_fwd_rows(
      float[] y,
      float[] x,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int pt,
      int pl,
      boolean max,
      int rowLo,
      int rowHi) {
    for (int row = rowLo; row < rowHi; row++) {
      int n = row / OH;
      int oy = row - n * OH;
      int y0 = Math.max(0, oy * sh - pt);
      int y1 = Math.min(H, oy * sh - pt + kh);
      for (int ox = 0; ox < OW; ox++) {
        int x0 = Math.max(0, ox * sw - pl);
        int x1 = Math.min(W, ox * sw - pl + kw);
        int o = ((n * OH + oy) * OW + ox) * C;
        java.util.Arrays.fill(y, o, o + C, max ? Float.NEGATIVE_INFINITY : 0f);
        for (int iy = y0; iy < y1; iy++) {
          for (int ix = x0; ix < x1; ix++) {
            int src = ((n * H + iy) * W + ix) * C;
            if (max) {
              for (int q = 0; q < C; q++) {
                y[o + q] = Math.max(y[o + q], x[src + q]);
              }
            } else {
              for (int q = 0; q < C; q++) {
                y[o + q] += x[src + q];
              }
            }
          }
        }
        if (!max) {
          float inv = 1f / ((y1 - y0) * (x1 - x0));
          for (int q = 0; q < C; q++) {
            y[o + q] = y[o + q] * inv;
          }
        }
      }
    }
  }

  private static int windowLo(int i, int k, int s, int p) {
    int a = i + p - k + 1;
    return a <= 0 ? 0 : (a + s - 1) / s;
  }

  private static int windowHi(int i, int s, int p, int o) {
    return Math.min((i + p) / s, o - 1);
  }

  /** {@code // dy (B,OH,OW,C), x (N,H,W,C) tiled -> dx (B,H,W,C)}, first maximum wins. */
  public static void maxpool_bwd(
      float[] dx,
      float[] dy,
      float[] x,
      int B,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int pt,
      int pl) {
    poolBwdRows(dx, dy, x, B, N, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl, 0, B * H);
  }

  /** {@code // dy (B,OH,OW,C) -> dx (B,H,W,C)}, dy/count spread over each window. */
  public static void avgpool_bwd(
      float[] dx,
      float[] dy,
      int B,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int pt,
      int pl) {
    poolBwdRows(dx, dy, null, B, 1, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl, 0, B * H);
  }

  /**
   * {@link #maxpool_bwd} (x given) or {@link #avgpool_bwd} (x null) on input rows [rowLo, rowHi) of
   * the B·H rows of dx, for the CPU engine's parallel split. As pool.cu, each element gathers the
   * windows that cover it in (oy, ox) order and sums in double: max pooling takes a window's
   * gradient where the element is the window's first maximum in row-major order (strict '&lt;', so
   * later equal values lose), average pooling takes dy/count in float. The channels run innermost
   * here; per element the arithmetic is the kernel's.
   */
  public static void poolBwdRows(
      float[] dx,
      float[] dy,
      float[] x,
      int B,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int pt,
      int pl,
      int rowLo,
      int rowHi) {
    double[] acc = new double[C];
    float[] best = x == null ? null : new float[C];
    int[] winner = x == null ? null : new int[C];
    for (int row = rowLo; row < rowHi; row++) {
      int b = row / H;
      int iy = row - b * H;
      int xn = (b % N) * H * W * C;
      for (int ix = 0; ix < W; ix++) {
        java.util.Arrays.fill(acc, 0.0);
        for (int oy = windowLo(iy, kh, sh, pt); oy <= windowHi(iy, sh, pt, OH); oy++) {
          int y0 = Math.max(0, oy * sh - pt);
          int y1 = Math.min(H, oy * sh - pt + kh);
          for (int ox = windowLo(ix, kw, sw, pl); ox <= windowHi(ix, sw, pl, OW); ox++) {
            int x0 = Math.max(0, ox * sw - pl);
            int x1 = Math.min(W, ox * sw - pl + kw);
            int g = ((b * OH + oy) * OW + ox) * C;
            if (x == null) {
              float count = (float) ((y1 - y0) * (x1 - x0));
              for (int c = 0; c < C; c++) {
                acc[c] += dy[g + c] / count;
              }
              continue;
            }
            firstMaxima(x, xn, W, C, y0, y1, x0, x1, best, winner);
            for (int c = 0; c < C; c++) {
              if (winner[c] == iy * W + ix) {
                acc[c] += dy[g + c];
              }
            }
          }
        }
        int o = (row * W + ix) * C;
        for (int c = 0; c < C; c++) {
          dx[o + c] = (float) acc[c];
        }
      }
    }
  }

  /** Per channel, the pixel (y·W+x) of the first maximum of x's window [y0,y1)×[x0,x1). */
  private static void firstMaxima(
      float[] x, int xn, int W, int C, int y0, int y1, int x0, int x1, float[] best, int[] at) {
    int first = xn + (y0 * W + x0) * C;
    for (int c = 0; c < C; c++) {
      best[c] = x[first + c];
      at[c] = y0 * W + x0;
    }
    for (int yy = y0; yy < y1; yy++) {
      for (int xx = x0; xx < x1; xx++) {
        int src = xn + (yy * W + xx) * C;
        for (int c = 0; c < C; c++) {
          float v = x[src + c];
          if (best[c] < v) {
            best[c] = v;
            at[c] = yy * W + xx;
          }
        }
      }
    }
  }

  /** {@code // dy (B,C) -> dx (B,HW,C) = dy/HW} */
  public static void spatial_mean_bwd(float[] dx, float[] dy, int B, int HW, int C) {
    spatialMeanBwdRows(dx, dy, 0, B * HW, HW, C);
  }

  /** {@link #spatial_mean_bwd} on pixel rows [lo, hi) of the B·HW rows of dx. */
  public static void spatialMeanBwdRows(float[] dx, float[] dy, int lo, int hi, int HW, int C) {
    for (int r = lo; r < hi; r++) {
      int g = (r / HW) * C;
      for (int c = 0, i = r * C; c < C; c++, i++) {
        dx[i] = (float) ((double) dy[g + c] / HW);
      }
    }
  }
}
