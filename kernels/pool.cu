// pool.cu — max/average pooling with TensorFlow's geometry, their data gradients, and the
// gradient of the spatial mean (global average pooling).
//
//   pool_fwd          window (oy,ox) covers rows [oy·sh−pt, oy·sh−pt+kh) ∩ [0,H), columns likewise;
//                     MAX: the largest in-bounds value; AVG: their float sum (row-major order) ·
//                     (1/count), count = in-bounds pixels (padding never counts)
//   maxpool_bwd       dx[iy,ix] = Σ dy over the windows whose first maximum (row-major, strict <)
//                     is (iy,ix) — TensorFlow's rule for ties
//   avgpool_bwd       dx[iy,ix] = Σ over the windows covering it of (float)(dy / count)
//   spatial_mean_bwd  dx[b,p,c] = dy[b,c] / HW
//
// Shapes: pool_fwd x (N,H,W,C) -> y (N,OH,OW,C); maxpool_bwd dy (B,OH,OW,C), x (N,H,W,C) (image
// b % N: B = K·N targets tiled) -> dx (B,H,W,C); avgpool_bwd dy (B,OH,OW,C) -> dx (B,H,W,C);
// spatial_mean_bwd dy (B,C) -> dx (B,HW,C). pt/pl: padding before, from the host (SAME/VALID).
//
// Launch: one thread per output element (forward) or per input element (backward: a gather over
// the windows that cover it, so no atomics and a fixed order), block 256, grid-stride,
// grid = min(ceil(total/256), 65535) (CudaGraphOps).
// Summation order: windows in (oy, ox) order, sums in double for the backward, as the twins.
// Twins: dev.segcam.kernels.PoolKernels.pool_fwd / maxpool_bwd / avgpool_bwd / spatial_mean_bwd.
#include "common.cuh"

// Max/avg pooling with TensorFlow's SAME/VALID geometry (pt/pl: padding before, from the host).
// MAX ignores padded pixels, AVG divides by the in-bounds count. x (N,H,W,C) -> y (N,OH,OW,C).
extern "C" __global__ void pool_fwd(float* y, const float* x, int N, int H, int W, int C, int OH,
                                    int OW, int kh, int kw, int sh, int sw, int pt, int pl,
                                    int isMax) {
  int total = N * OH * OW * C;
  GRID_STRIDE(i, total) {
    int c = i % C;
    int r = i / C;
    int ox = r % OW;
    r /= OW;
    int oy = r % OH;
    int n = r / OH;
    int y0 = max(0, oy * sh - pt), y1 = min(H, oy * sh - pt + kh);
    int x0 = max(0, ox * sw - pl), x1 = min(W, ox * sw - pl + kw);
    float acc = isMax ? -INFINITY : 0.f;
    for (int iy = y0; iy < y1; iy++) {
      for (int ix = x0; ix < x1; ix++) {
        float v = x[(((size_t)n * H + iy) * W + ix) * C + c];
        acc = isMax ? fmaxf(acc, v) : acc + v;
      }
    }
    if (!isMax) acc = acc * (1.f / (float)((y1 - y0) * (x1 - x0)));
    y[i] = acc;
  }
}

// The output windows (oy range) whose rows cover input row iy.
__device__ __forceinline__ void pool_windows(int iy, int k, int s, int p, int O, int* lo,
                                             int* hi) {
  // oy·s − p <= iy < oy·s − p + k  <=>  (iy + p − k + 1)/s <= oy <= (iy + p)/s
  int a = iy + p - k + 1;
  *lo = a <= 0 ? 0 : (a + s - 1) / s;
  *hi = min((iy + p) / s, O - 1);
}

// Data gradient of max pooling: each window's gradient goes to its first maximum in row-major
// order (TensorFlow's rule); a gather per input element over the windows that cover it, so no
// atomics. dy (B,OH,OW,C), x (N,H,W,C) forward input (tiled: image b % N) -> dx (B,H,W,C).
extern "C" __global__ void maxpool_bwd(float* dx, const float* dy, const float* x, int B, int N,
                                       int H, int W, int C, int OH, int OW, int kh, int kw, int sh,
                                       int sw, int pt, int pl) {
  int total = B * H * W * C;
  GRID_STRIDE(i, total) {
    int c = i % C;
    int r = i / C;
    int ix = r % W;
    r /= W;
    int iy = r % H;
    int b = r / H;
    int n = b % N;
    int oy0, oy1, ox0, ox1;
    pool_windows(iy, kh, sh, pt, OH, &oy0, &oy1);
    pool_windows(ix, kw, sw, pl, OW, &ox0, &ox1);
    const float* xn = x + (size_t)n * H * W * C + c;
    double acc = 0.0;
    for (int oy = oy0; oy <= oy1; oy++) {
      int y0 = max(0, oy * sh - pt), y1 = min(H, oy * sh - pt + kh);
      for (int ox = ox0; ox <= ox1; ox++) {
        int x0 = max(0, ox * sw - pl), x1 = min(W, ox * sw - pl + kw);
        float best = xn[((size_t)y0 * W + x0) * C];
        int by = y0, bx = x0;
        for (int yy = y0; yy < y1; yy++) {
          for (int xx = x0; xx < x1; xx++) {
            float v = xn[((size_t)yy * W + xx) * C];
            if (best < v) {
              best = v;
              by = yy;
              bx = xx;
            }
          }
        }
        if (by == iy && bx == ix) acc += dy[(((size_t)b * OH + oy) * OW + ox) * C + c];
      }
    }
    dx[i] = (float)acc;
  }
}

// Data gradient of average pooling: each window spreads dy/count over its in-bounds pixels.
// dy (B,OH,OW,C) -> dx (B,H,W,C).
extern "C" __global__ void avgpool_bwd(float* dx, const float* dy, int B, int H, int W, int C,
                                       int OH, int OW, int kh, int kw, int sh, int sw, int pt,
                                       int pl) {
  int total = B * H * W * C;
  GRID_STRIDE(i, total) {
    int c = i % C;
    int r = i / C;
    int ix = r % W;
    r /= W;
    int iy = r % H;
    int b = r / H;
    int oy0, oy1, ox0, ox1;
    pool_windows(iy, kh, sh, pt, OH, &oy0, &oy1);
    pool_windows(ix, kw, sw, pl, OW, &ox0, &ox1);
    double acc = 0.0;
    for (int oy = oy0; oy <= oy1; oy++) {
      int ny = min(H, oy * sh - pt + kh) - max(0, oy * sh - pt);
      for (int ox = ox0; ox <= ox1; ox++) {
        int nx = min(W, ox * sw - pl + kw) - max(0, ox * sw - pl);
        float g = dy[(((size_t)b * OH + oy) * OW + ox) * C + c];
        acc += (double)(g / (float)(ny * nx));
      }
    }
    dx[i] = (float)acc;
  }
}

// Data gradient of the spatial mean: dy (B,C) -> dx (B,H·W,C) = dy / (H·W).
extern "C" __global__ void spatial_mean_bwd(float* dx, const float* dy, int B, int HW, int C) {
  int total = B * HW * C;
  GRID_STRIDE(i, total) {
    int c = i % C;
    int b = i / (HW * C);
    dx[i] = (float)((double)dy[b * C + c] / HW);
  }
}
