package dev.segcam.kernels;

/**
 * Java twins of the CUDA backend's direct convolution kernels (the fallback where cuDNN has no
 * algorithm), same names and argument order.
 *
 * <p>Graph-op twins (see {@link CpuKernels} for the conventions): flat row-major float arrays,
 * NHWC; backward kernels read forward values "tiled" (gradient element i reads value element i %
 * valueTotal, rows target-major over the K targets).
 */
public final class ConvKernels {
  private ConvKernels() {}

  /**
   * Direct convolution (the CUDA backend's fallback where cuDNN has no algorithm): cuDNN's KRSC
   * filter (F,KH,KW,C/groups), padding before (pt, pl), float sums in a fixed order.
   *
   * <p>{@code // x (N,H,W,C), w (F,KH,KW,C/groups) -> y (N,OH,OW,F)}
   */
  public static void conv2d_direct_fwd(
      float[] y,
      float[] x,
      float[] w,
      int N,
      int H,
      int W,
      int C,
      int F,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int dh,
      int dw,
      int pt,
      int pl,
      int groups) {
    int cg = C / groups;
    int fg = F / groups;
    for (int i = 0; i < N * OH * OW * F; i++) {
      int f = i % F;
      int r = i / F;
      int ox = r % OW;
      r /= OW;
      int oy = r % OH;
      int n = r / OH;
      int c0 = (f / fg) * cg;
      float acc = 0f;
      for (int ky = 0; ky < kh; ky++) {
        int iy = oy * sh - pt + ky * dh;
        if (iy < 0 || iy >= H) {
          continue;
        }
        for (int kx = 0; kx < kw; kx++) {
          int ix = ox * sw - pl + kx * dw;
          if (ix < 0 || ix >= W) {
            continue;
          }
          int xp = ((n * H + iy) * W + ix) * C + c0;
          int wp = ((f * kh + ky) * kw + kx) * cg;
          for (int ci = 0; ci < cg; ci++) {
            acc += x[xp + ci] * w[wp + ci];
          }
        }
      }
      y[i] = acc;
    }
  }

  /** {@code // dy (N,OH,OW,F), w (F,KH,KW,C/groups) -> dx (N,H,W,C)}, the adjoint of the above. */
  public static void conv2d_direct_bwd_data(
      float[] dx,
      float[] dy,
      float[] w,
      int N,
      int H,
      int W,
      int C,
      int F,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int dh,
      int dw,
      int pt,
      int pl,
      int groups) {
    int cg = C / groups;
    int fg = F / groups;
    for (int i = 0; i < N * H * W * C; i++) {
      int c = i % C;
      int r = i / C;
      int ix = r % W;
      r /= W;
      int iy = r % H;
      int n = r / H;
      int g = c / cg;
      int ci = c % cg;
      float acc = 0f;
      for (int ky = 0; ky < kh; ky++) {
        int ty = iy + pt - ky * dh;
        if (ty < 0 || ty % sh != 0 || ty / sh >= OH) {
          continue;
        }
        int oy = ty / sh;
        for (int kx = 0; kx < kw; kx++) {
          int tx = ix + pl - kx * dw;
          if (tx < 0 || tx % sw != 0 || tx / sw >= OW) {
            continue;
          }
          int gp = ((n * OH + oy) * OW + tx / sw) * F;
          for (int f = g * fg; f < (g + 1) * fg; f++) {
            acc += dy[gp + f] * w[((f * kh + ky) * kw + kx) * cg + ci];
          }
        }
      }
      dx[i] = acc;
    }
  }
}
