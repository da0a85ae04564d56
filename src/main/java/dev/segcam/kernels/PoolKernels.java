package dev.segcam.kernels;

/**
 * Java twins of the window ops of the CUDA backend (max/average pooling, spatial mean gradient),
 * same names and argument order, the window (H, W, C, OH, OW, kh, kw, sh, sw, pt, pl, and N where
 * the kernel takes it) as one {@link ConvGeometry} as their CUDA launchers take it (F = C).
 *
 * <p>Graph-op twins (see {@link CpuKernels} for the conventions): flat row-major float arrays,
 * NHWC; backward kernels read forward values "tiled" (gradient element i reads value element i %
 * valueTotal, rows target-major over the K targets).
 */
public final class PoolKernels {
  private PoolKernels() {}

  /** {@code // x (N,H,W,C) -> y (N,OH,OW,C)}; pt/pl: padding before (TF SAME/VALID). */
  public static void pool_fwd(float[] y, float[] x, ConvGeometry g, boolean max) {
    pool_fwd_rows(y, x, g, max, 0, g.n() * g.oh());
  }

  /**
   * {@link #pool_fwd} on output rows [rowLo, rowHi) of the N·OH rows, for the CPU engine's parallel
   * split; each output element sums its window in the same order as the kernel.
   */
  public static void pool_fwd_rows(
      float[] y, float[] x, ConvGeometry g, boolean max, int rowLo, int rowHi) {
    for (int row = rowLo; row < rowHi; row++) {
      int n = row / g.oh();
      int oy = row - n * g.oh();
      int y0 = Math.max(0, oy * g.sh() - g.padT());
      int y1 = Math.min(g.h(), oy * g.sh() - g.padT() + g.kh());
      for (int ox = 0; ox < g.ow(); ox++) {
        int x0 = Math.max(0, ox * g.sw() - g.padL());
        int x1 = Math.min(g.w(), ox * g.sw() - g.padL() + g.kw());
        int o = ((n * g.oh() + oy) * g.ow() + ox) * g.c();
        java.util.Arrays.fill(y, o, o + g.c(), max ? Float.NEGATIVE_INFINITY : 0f);
        for (int iy = y0; iy < y1; iy++) {
          for (int ix = x0; ix < x1; ix++) {
            int src = ((n * g.h() + iy) * g.w() + ix) * g.c();
            if (max) {
              for (int q = 0; q < g.c(); q++) {
                y[o + q] = Math.max(y[o + q], x[src + q]);
              }
            } else {
              for (int q = 0; q < g.c(); q++) {
                y[o + q] += x[src + q];
              }
            }
          }
        }
        if (!max) {
          float inv = 1f / ((y1 - y0) * (x1 - x0));
          for (int q = 0; q < g.c(); q++) {
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
  public static void maxpool_bwd(float[] dx, float[] dy, float[] x, int B, ConvGeometry g) {
    poolBwdRows(dx, dy, x, B, g, 0, B * g.h());
  }

  /** {@code // dy (B,OH,OW,C) -> dx (B,H,W,C)}, dy/count spread over each window. */
  public static void avgpool_bwd(float[] dx, float[] dy, ConvGeometry g) {
    poolBwdRows(dx, dy, null, g.n(), g, 0, g.n() * g.h());
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
      float[] dx, float[] dy, float[] x, int B, ConvGeometry g, int rowLo, int rowHi) {
    double[] acc = new double[g.c()];
    float[] best = x == null ? null : new float[g.c()];
    int[] winner = x == null ? null : new int[g.c()];
    for (int row = rowLo; row < rowHi; row++) {
      int b = row / g.h();
      int iy = row - b * g.h();
      int xn = (b % g.n()) * g.h() * g.w() * g.c();
      for (int ix = 0; ix < g.w(); ix++) {
        java.util.Arrays.fill(acc, 0.0);
        for (int oy = windowLo(iy, g.kh(), g.sh(), g.padT());
            oy <= windowHi(iy, g.sh(), g.padT(), g.oh());
            oy++) {
          int y0 = Math.max(0, oy * g.sh() - g.padT());
          int y1 = Math.min(g.h(), oy * g.sh() - g.padT() + g.kh());
          for (int ox = windowLo(ix, g.kw(), g.sw(), g.padL());
              ox <= windowHi(ix, g.sw(), g.padL(), g.ow());
              ox++) {
            int x0 = Math.max(0, ox * g.sw() - g.padL());
            int x1 = Math.min(g.w(), ox * g.sw() - g.padL() + g.kw());
            int gi = ((b * g.oh() + oy) * g.ow() + ox) * g.c();
            if (x == null) {
              float count = (float) ((y1 - y0) * (x1 - x0));
              for (int c = 0; c < g.c(); c++) {
                acc[c] += dy[gi + c] / count;
              }
              continue;
            }
            firstMaxima(x, xn, g.w(), g.c(), y0, y1, x0, x1, best, winner);
            for (int c = 0; c < g.c(); c++) {
              if (winner[c] == iy * g.w() + ix) {
                acc[c] += dy[gi + c];
              }
            }
          }
        }
        int o = (row * g.w() + ix) * g.c();
        for (int c = 0; c < g.c(); c++) {
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
