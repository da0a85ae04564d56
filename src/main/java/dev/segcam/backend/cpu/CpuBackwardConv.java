package dev.segcam.backend.cpu;

import dev.segcam.backend.cpu.grad.ConvGrad;
import dev.segcam.kernels.ConvGeometry;

/**
 * Conv2D data gradient on the engine's GEMM core, channel-major like the forward conv: dxᵀ (C, P) =
 * tapsᵀ (C, KH·KW·F) · gᵀ (KH·KW·F, P) over the P = B·H·W input pixels, where g is the im2col of dy
 * seen from the input side (row (kh,kw,f) of pixel (ih,iw) is dy[ih+padTop-kh·dh, iw+padLeft-kw·dw,
 * f] where that lands on the output grid, else 0). Panels of gᵀ are built on the fly and never
 * materialized; pixels run along the vectorized inner loop, so layers with few channels vectorize
 * as well as wide ones. Stride 1 only: a strided gradient is {@link
 * ConvGrad#conv2dDataPixelMajor}'s (the one the engine runs for strides).
 */
public final class CpuBackwardConv {
  private CpuBackwardConv() {}

  // dy (B,OH,OW,F), filter (KH,KW,C,F) -> dx (B,H,W,C), the sizes from g (its pads before)
  public static float[] conv2dData(Parallel par, float[] dy, float[] filter, ConvGeometry g) {
    if (g.sh() != 1 || g.sw() != 1) {
      return ConvGrad.conv2dDataPixelMajor(dy, filter, g, par);
    }
    int f = g.f();
    int kw = g.kw();
    int k = g.kh() * kw * f;
    int kp = Gemm.padK(k);
    // filter (KH,KW,C,F) -> at (C, kp): at[c][(kh*KW+kw)*F + f], each (kh,kw,c) a run of F
    float[] at = Arena.zeros(g.c() * kp);
    for (int t = 0; t < g.kh() * kw; t++) {
      for (int ci = 0; ci < g.c(); ci++) {
        System.arraycopy(filter, (t * g.c() + ci) * f, at, ci * kp + t * f, f);
      }
    }
    // k -> offsets from an input pixel to the dy pixel it pairs with
    int[] kOffH = new int[k];
    int[] kOffW = new int[k];
    int[] kF = new int[k];
    for (int q = 0; q < k; q++) {
      int t = q / f;
      kOffH[q] = g.padT() - (t / kw) * g.dh();
      kOffW[q] = g.padL() - (t % kw) * g.dw();
      kF[q] = q % f;
    }
    int batch = g.n();
    int w = g.w();
    int hw = g.h() * w;
    int oh = g.oh();
    int ow = g.ow();
    int ohw = oh * ow;
    // dy channel-major (F, B*OH*OW) turns every panel row into contiguous runs
    float[] dyT = Arena.zeros(dy.length);
    int pixels = batch * ohw;
    par.parallelFor(
        pixels,
        4096,
        (lo, hi) -> {
          for (int q = lo; q < hi; q++) {
            int src = q * f;
            for (int fi = 0; fi < f; fi++) {
              dyT[fi * pixels + q] = dy[src + fi];
            }
          }
        });
    Gemm.PanelB panel =
        (pc, kc, jc, nc, bp) -> {
          for (int kk = 0; kk < kc; kk++) {
            float[] row = bp[kk];
            int offH = kOffH[pc + kk];
            int offW = kOffW[pc + kk];
            int chan = kF[pc + kk] * pixels;
            // walk the block's pixels one input-row run at a time
            int j = 0;
            while (j < nc) {
              int pix = jc + j;
              int b = pix / hw;
              int r = pix - b * hw;
              int ih = r / w;
              int iw0 = r - ih * w;
              int run = Math.min(nc - j, w - iw0);
              int th = ih + offH;
              if (th < 0 || th >= oh) {
                java.util.Arrays.fill(row, j, j + run, 0f);
              } else {
                // iw in [iw0, iw0+run) reads tw = iw + offW, valid in [0, ow)
                int lo = Math.max(iw0, -offW);
                int hi = Math.min(iw0 + run, ow - offW);
                if (hi <= lo) {
                  java.util.Arrays.fill(row, j, j + run, 0f);
                } else {
                  java.util.Arrays.fill(row, j, j + (lo - iw0), 0f);
                  System.arraycopy(
                      dyT, chan + b * ohw + th * ow + lo + offW, row, j + (lo - iw0), hi - lo);
                  java.util.Arrays.fill(row, j + (hi - iw0), j + run, 0f);
                }
              }
              j += run;
            }
          }
        };
    float[] dx = Arena.zeros(batch * hw * g.c());
    Gemm.core(par, g.c(), hw, batch, k, at, kp, panel, Gemm.intoPixels(dx, g.c()));
    return dx;
  }
}
