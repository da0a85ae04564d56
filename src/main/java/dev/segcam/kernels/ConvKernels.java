package dev.segcam.kernels;

/**
 * Java twins of the CUDA backend's direct convolution kernels (the fallback where cuDNN has no
 * algorithm), same names and argument order, the sizes (N, H, W, C, F, OH, OW, kh, kw, sh, sw, dh,
 * dw, pt, pl, groups) as one {@link ConvGeometry}.
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
  public static void conv2d_direct_fwd(float[] y, float[] x, float[] w, ConvGeometry g) {
    int cg = g.c() / g.groups();
    int fg = g.f() / g.groups();
    for (int i = 0; i < g.n() * g.oh() * g.ow() * g.f(); i++) {
      int f = i % g.f();
      int r = i / g.f();
      int ox = r % g.ow();
      r /= g.ow();
      int oy = r % g.oh();
      int n = r / g.oh();
      int c0 = (f / fg) * cg;
      float acc = 0f;
      for (int ky = 0; ky < g.kh(); ky++) {
        int iy = oy * g.sh() - g.padT() + ky * g.dh();
        if (iy < 0 || iy >= g.h()) {
          continue;
        }
        for (int kx = 0; kx < g.kw(); kx++) {
          int ix = ox * g.sw() - g.padL() + kx * g.dw();
          if (ix < 0 || ix >= g.w()) {
            continue;
          }
          int xp = ((n * g.h() + iy) * g.w() + ix) * g.c() + c0;
          int wp = ((f * g.kh() + ky) * g.kw() + kx) * cg;
          for (int ci = 0; ci < cg; ci++) {
            acc += x[xp + ci] * w[wp + ci];
          }
        }
      }
      y[i] = acc;
    }
  }

  /** {@code // dy (N,OH,OW,F), w (F,KH,KW,C/groups) -> dx (N,H,W,C)}, the adjoint of the above. */
  public static void conv2d_direct_bwd_data(float[] dx, float[] dy, float[] w, ConvGeometry g) {
    int cg = g.c() / g.groups();
    int fg = g.f() / g.groups();
    for (int i = 0; i < g.n() * g.h() * g.w() * g.c(); i++) {
      int c = i % g.c();
      int r = i / g.c();
      int ix = r % g.w();
      r /= g.w();
      int iy = r % g.h();
      int n = r / g.h();
      int grp = c / cg;
      int ci = c % cg;
      float acc = 0f;
      for (int ky = 0; ky < g.kh(); ky++) {
        int ty = iy + g.padT() - ky * g.dh();
        if (ty < 0 || ty % g.sh() != 0 || ty / g.sh() >= g.oh()) {
          continue;
        }
        int oy = ty / g.sh();
        for (int kx = 0; kx < g.kw(); kx++) {
          int tx = ix + g.padL() - kx * g.dw();
          if (tx < 0 || tx % g.sw() != 0 || tx / g.sw() >= g.ow()) {
            continue;
          }
          int gp = ((n * g.oh() + oy) * g.ow() + tx / g.sw()) * g.f();
          for (int f = grp * fg; f < (grp + 1) * fg; f++) {
            acc += dy[gp + f] * w[((f * g.kh() + ky) * g.kw() + kx) * cg + ci];
          }
        }
      }
      dx[i] = acc;
    }
  }
}
