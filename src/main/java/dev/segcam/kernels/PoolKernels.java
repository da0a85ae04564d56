package dev.segcam.kernels;

/**
 * Java twins of the window ops of the CUDA backend (max/average pooling, spatial mean gradient,
 * nearest-neighbour resize), same names and argument order.
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
    for (int i = 0; i < B * H * W * C; i++) {
      int c = i % C;
      int r = i / C;
      int ix = r % W;
      r /= W;
      int iy = r % H;
      int b = r / H;
      int xn = (b % N) * H * W * C + c;
      double acc = 0;
      for (int oy = windowLo(iy, kh, sh, pt); oy <= windowHi(iy, sh, pt, OH); oy++) {
        int y0 = Math.max(0, oy * sh - pt);
        int y1 = Math.min(H, oy * sh - pt + kh);
        for (int ox = windowLo(ix, kw, sw, pl); ox <= windowHi(ix, sw, pl, OW); ox++) {
          int x0 = Math.max(0, ox * sw - pl);
          int x1 = Math.min(W, ox * sw - pl + kw);
          float best = x[xn + (y0 * W + x0) * C];
          int by = y0;
          int bx = x0;
          for (int yy = y0; yy < y1; yy++) {
            for (int xx = x0; xx < x1; xx++) {
              float v = x[xn + (yy * W + xx) * C];
              if (best < v) {
                best = v;
                by = yy;
                bx = xx;
              }
            }
          }
          if (by == iy && bx == ix) {
            acc += dy[((b * OH + oy) * OW + ox) * C + c];
          }
        }
      }
      dx[i] = (float) acc;
    }
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
    for (int i = 0; i < B * H * W * C; i++) {
      int c = i % C;
      int r = i / C;
      int ix = r % W;
      r /= W;
      int iy = r % H;
      int b = r / H;
      double acc = 0;
      for (int oy = windowLo(iy, kh, sh, pt); oy <= windowHi(iy, sh, pt, OH); oy++) {
        int ny = Math.min(H, oy * sh - pt + kh) - Math.max(0, oy * sh - pt);
        for (int ox = windowLo(ix, kw, sw, pl); ox <= windowHi(ix, sw, pl, OW); ox++) {
          int nx = Math.min(W, ox * sw - pl + kw) - Math.max(0, ox * sw - pl);
          float g = dy[((b * OH + oy) * OW + ox) * C + c];
          acc += g / (float) (ny * nx);
        }
      }
      dx[i] = (float) acc;
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

  /** Source index of output index o of a nearest-neighbour resize along one axis, TF's rule. */
  public static int nearestTap(int o, int in, float scale, boolean align, boolean half) {
    float src = half ? ((float) o + 0.5f) * scale : (float) o * scale;
    int s = align ? Math.round(src) : (int) Math.floor(src);
    s = Math.min(s, in - 1);
    return half ? Math.max(0, s) : s;
  }

  /** {@code // x (N,H,W,C) -> y (N,OH,OW,C)}, TF ResizeNearestNeighbor. */
  public static void resize_nearest_fwd(
      float[] y,
      float[] x,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      boolean align,
      boolean half) {
    resize_nearest_fwd_rows(y, x, N, H, W, C, OH, OW, align, half, 0, N * OH);
  }

  /** {@link #resize_nearest_fwd} on output rows [rowLo, rowHi) of the N·OH rows. */
  public static void resize_nearest_fwd_rows(
      float[] y,
      float[] x,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      boolean align,
      boolean half,
      int rowLo,
      int rowHi) {
    float sy = CpuKernels.resizeScale(H, OH, align);
    float sx = CpuKernels.resizeScale(W, OW, align);
    int[] xi = new int[OW];
    for (int ox = 0; ox < OW; ox++) {
      xi[ox] = nearestTap(ox, W, sx, align, half);
    }
    for (int row = rowLo; row < rowHi; row++) {
      int n = row / OH;
      int oy = row - n * OH;
      int iy = nearestTap(oy, H, sy, align, half);
      for (int ox = 0; ox < OW; ox++) {
        System.arraycopy(x, ((n * H + iy) * W + xi[ox]) * C, y, ((n * OH + oy) * OW + ox) * C, C);
      }
    }
  }

  /** {@code // dy (B,OH,OW,C) -> dx (B,H,W,C)}, the adjoint (sum over outputs sourced here). */
  public static void resize_nearest_bwd(
      float[] dx,
      float[] dy,
      int B,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      boolean align,
      boolean half) {
    float sy = CpuKernels.resizeScale(H, OH, align);
    float sx = CpuKernels.resizeScale(W, OW, align);
    for (int i = 0; i < B * H * W * C; i++) {
      int c = i % C;
      int r = i / C;
      int ix = r % W;
      r /= W;
      int iy = r % H;
      int b = r / H;
      float acc = 0f;
      for (int oy = 0; oy < OH; oy++) {
        if (nearestTap(oy, H, sy, align, half) != iy) {
          continue;
        }
        for (int ox = 0; ox < OW; ox++) {
          if (nearestTap(ox, W, sx, align, half) == ix) {
            acc += dy[((b * OH + oy) * OW + ox) * C + c];
          }
        }
      }
      dx[i] = acc;
    }
  }
}
