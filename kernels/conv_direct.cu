// conv_direct.cu — direct 2-D convolution and its data gradient: the fallback where cuDNN has no
// algorithm for a configuration, and a check of cuDNN.
//
//   conv2d_direct_fwd       y[n,oy,ox,f] = Σ_{ky,kx,ci} x[n, oy·sh−pt+ky·dh, ox·sw−pl+kx·dw,
//                           g·cg+ci] · w[f,ky,kx,ci],  g = f / (F/groups), cg = C/groups
//                           (taps outside the image are skipped: zero padding)
//   conv2d_direct_bwd_data  dx[n,iy,ix,c] = Σ over (ky,kx) whose tap lands on (iy,ix) at a whole
//                           output position, and f in c's group, of dy[n,oy,ox,f]·w[f,ky,kx,c%cg]
//
// Shapes: x (N,H,W,C), w cuDNN's KRSC (F,KH,KW,C/groups), y/dy (N,OH,OW,F), dx (N,H,W,C).
// Depthwise is groups == C. pt/pl: padding before; the padding after follows from OH/OW.
//
// Launch: one thread per output element (forward) or input element (backward: a gather, no
// atomics), block 256, grid-stride, grid = min(ceil(total/256), 65535) (CudaGraphOps).
// Summation order: float sums in (ky, kx, ci) order forward and (ky, kx, f) backward, as the
// twins, so the results are bit-exact against them.
// Twins: dev.segcam.kernels.CpuKernels.conv2d_direct_fwd / conv2d_direct_bwd_data.
#include "common.cuh"

// Direct convolution, the fallback where cuDNN has no algorithm for a configuration (and a check
// of cuDNN): NHWC input, cuDNN's KRSC filter w (F,KH,KW,C/groups), groups (depthwise: groups ==
// C, output f in group f / (F/groups)), stride, dilation, padding before (pt, pl; the padding
// after is implied by the output size). Float sums in a fixed order. One thread per output.
// x (N,H,W,C) -> y (N,OH,OW,F).
extern "C" __global__ void conv2d_direct_fwd(float* y, const float* x, const float* w, int N,
                                             int H, int W, int C, int F, int OH, int OW, int kh,
                                             int kw, int sh, int sw, int dh, int dw, int pt,
                                             int pl, int groups) {
  int total = N * OH * OW * F;
  int cg = C / groups;
  int fg = F / groups;
  GRID_STRIDE(i, total) {
    int f = i % F;
    int r = i / F;
    int ox = r % OW;
    r /= OW;
    int oy = r % OH;
    int n = r / OH;
    int c0 = (f / fg) * cg;
    float acc = 0.f;
    for (int ky = 0; ky < kh; ky++) {
      int iy = oy * sh - pt + ky * dh;
      if (iy < 0 || iy >= H) continue;
      for (int kx = 0; kx < kw; kx++) {
        int ix = ox * sw - pl + kx * dw;
        if (ix < 0 || ix >= W) continue;
        const float* xp = x + (((size_t)n * H + iy) * W + ix) * C + c0;
        const float* wp = w + (((size_t)f * kh + ky) * kw + kx) * cg;
        for (int ci = 0; ci < cg; ci++) acc += xp[ci] * wp[ci];
      }
    }
    y[i] = acc;
  }
}

// Its data gradient, a gather per input element: dy (N,OH,OW,F) -> dx (N,H,W,C).
extern "C" __global__ void conv2d_direct_bwd_data(float* dx, const float* dy, const float* w,
                                                  int N, int H, int W, int C, int F, int OH,
                                                  int OW, int kh, int kw, int sh, int sw, int dh,
                                                  int dw, int pt, int pl, int groups) {
  int total = N * H * W * C;
  int cg = C / groups;
  int fg = F / groups;
  GRID_STRIDE(i, total) {
    int c = i % C;
    int r = i / C;
    int ix = r % W;
    r /= W;
    int iy = r % H;
    int n = r / H;
    int g = c / cg;
    int ci = c % cg;
    float acc = 0.f;
    for (int ky = 0; ky < kh; ky++) {
      int ty = iy + pt - ky * dh;
      if (ty < 0 || ty % sh != 0) continue;
      int oy = ty / sh;
      if (oy >= OH) continue;
      for (int kx = 0; kx < kw; kx++) {
        int tx = ix + pl - kx * dw;
        if (tx < 0 || tx % sw != 0) continue;
        int ox = tx / sw;
        if (ox >= OW) continue;
        const float* gp = dy + (((size_t)n * OH + oy) * OW + ox) * F;
        for (int f = g * fg; f < (g + 1) * fg; f++) {
          acc += gp[f] * w[(((size_t)f * kh + ky) * kw + kx) * cg + ci];
        }
      }
    }
    dx[i] = acc;
  }
}
