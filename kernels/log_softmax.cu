// log_softmax.cu — TensorFlow's LogSoftmax over the last axis and its data gradient.
//
//   log_softmax_fwd   m = max_q x[r,q];  s = Σ_q (float)exp((double)(x[r,q] − m)) (in double);
//                     y[r,q] = (x[r,q] − m) − (float)log(s)
//   log_softmax_bwd   dx[r,q] = dy[r,q] − (float)exp((double)y[r % valueRows, q])·t,
//                     t = Σ_q dy[r,q] (float)                  (TF's LogSoftmaxGrad: dy − softmax·Σdy)
//
// Shapes: x, y (rows,C); dy, dx (rows = K·valueRows, C), y (valueRows,C) (tiled over K targets).
//
// Launch: one thread per row (C is a class or token count: small), block 256, grid-stride over
// rows, grid = min(ceil(rows/256), 65535) (CudaGraphOps.launchIn).
// Summation order: the row sums run q = 0..C−1 sequentially, as the twins do (forward in double,
// backward in float), so the results equal the twins' up to exp's and log's last bit.
// Twins: dev.segcam.kernels.LogSoftmaxKernels.log_softmax_fwd / log_softmax_bwd.
#include "common.cuh"

extern "C" __global__ void log_softmax_fwd(float* y, const float* x, int rows, int C) {
  GRID_STRIDE(r, rows) {
    const float* xr = x + (size_t)r * C;
    float* yr = y + (size_t)r * C;
    float mx = row_max(xr, C);
    double sum = 0.0;
    for (int q = 0; q < C; q++) sum += (float)exp((double)(xr[q] - mx));
    float ls = (float)log(sum);
    for (int q = 0; q < C; q++) yr[q] = (xr[q] - mx) - ls;
  }
}

extern "C" __global__ void log_softmax_bwd(float* dx, const float* dy, const float* y, int rows,
                                           int valueRows, int C) {
  GRID_STRIDE(r, rows) {
    const float* g = dy + (size_t)r * C;
    const float* yr = y + (size_t)(r % valueRows) * C;
    float t = 0.f;
    for (int q = 0; q < C; q++) t += g[q];
    for (int q = 0; q < C; q++) dx[(size_t)r * C + q] = g[q] - (float)exp((double)yr[q]) * t;
  }
}
