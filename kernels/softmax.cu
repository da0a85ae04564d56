// softmax.cu — softmax over the last axis and its data gradient.
//
//   softmax_fwd   m = max_q x[r,q];  e_q = (float)exp((double)(x[r,q] − m));  s = Σ_q e_q (double);
//                 y[r,q] = e_q · (float)(1/s)
//   softmax_bwd   dx[r,q] = (dy[r,q] − s)·y[r % valueRows, q],  s = Σ_q dy[r,q]·y[...,q] (float)
//
// Shapes: x, y (rows,C); dy, dx (rows = K·valueRows, C), y (valueRows,C) (tiled over K targets).
//
// Launch: one thread per row (C is a class count: small), block 256, grid-stride over rows,
// grid = min(ceil(rows/256), 65535) (CudaGraphOps).
// Summation order: the row sums run q = 0..C−1 sequentially, as the twins do (forward in double,
// backward in float), so the results equal the twins' up to exp's last bit.
// Twins: dev.segcam.kernels.CpuKernels.softmax_fwd / softmax_bwd.
#include "common.cuh"

// Softmax over the last axis, one thread per row (C is a class count: small). Max-subtracted,
// exponentials in double rounded to float, their sum in double, then one float reciprocal, as the
// CPU engine does.
extern "C" __global__ void softmax_fwd(float* y, const float* x, int rows, int C) {
  GRID_STRIDE(r, rows) {
    const float* xr = x + (size_t)r * C;
    float* yr = y + (size_t)r * C;
    float mx = row_max(xr, C);
    double sum = 0.0;
    for (int q = 0; q < C; q++) {
      float e = (float)exp((double)(xr[q] - mx));
      yr[q] = e;
      sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int q = 0; q < C; q++) yr[q] = yr[q] * inv;
  }
}

// dx = (dy - Σ dy·y) · y per row; y has valueRows rows (tiled). The row sum is in float, in
// order, as the CPU engine's.
extern "C" __global__ void softmax_bwd(float* dx, const float* dy, const float* y, int rows,
                                       int valueRows, int C) {
  GRID_STRIDE(r, rows) {
    const float* g = dy + (size_t)r * C;
    const float* yr = y + (size_t)(r % valueRows) * C;
    float s = 0.f;
    for (int q = 0; q < C; q++) s += g[q] * yr[q];
    for (int q = 0; q < C; q++) dx[(size_t)r * C + q] = (g[q] - s) * yr[q];
  }
}
