// reduce.cu — TensorFlow's Sum, Mean, Max and Min over any set of axes, and their data gradients.
//
//   fwd:  y[o] = Σ x over the reduced axes (RED_SUM), or that sum / count (RED_MEAN), the sum in
//         double in row-major order of the reduced axes, rounded once to float; the largest
//         (RED_MAX) or smallest (RED_MIN) of them (−inf / +inf over an empty set, as TF)
//   bwd:  dx[i] = dy[o(i)] (RED_SUM), dy[o(i)] / (float) count (RED_MEAN, TF's MeanGrad divides in
//         float)
//   reduce_extreme_bwd (RED_MAX, RED_MIN): dx[i] = (1 / (float) n) · dy[o(i)] where x[i] equals
//         y[o(i)] and n is the number of elements of its group equal to it, else 0 (TF's
//         MinOrMaxGrad: indicators / num_selected · dy); x, y are the forward values (batch N),
//         tiled over the K targets: x[i % xValueTotal], y[o % (xValueTotal / count)]
//
// Shapes: rank-5 padded (left with 1, not reduced): the input (x0..x4) and the reduced-axis flags
// (m0..m4, 1 = reduced); y has x's shape with the reduced axes at 1 (keep_dims or not, the element
// order is the same). In the backward x0 is the gradient batch K·N (axis 0 is never reduced).
//
// Launch: one thread per element of y / dx, block 256, grid-stride loop,
// grid = min(ceil(total/256), 65535) (CudaGraphOps.launchIn); int indexing (the host refuses 2^31
// elements).
// Summation order: fwd sequential per output element over the reduced elements in row-major
// order, in double (the twin's order: bit-exact).
// Twins: dev.segcam.kernels.ReduceKernels.reduce_fwd / reduce_bwd / reduce_extreme_bwd.
#include "common.cuh"

#define RED_SUM 0
#define RED_MEAN 1
#define RED_MAX 2
#define RED_MIN 3

// The flat index of the k-th element (row-major over the reduced axes) of the group whose
// unreduced coordinates are c.
__device__ __forceinline__ int group_element(const int c[5], int k, const int xd[5],
                                             const int m[5]) {
  int src = 0;
  int stride = 1;
#pragma unroll
  for (int d = 4; d >= 0; d--) {
    int at = c[d];
    if (m[d]) {
      at = k % xd[d];
      k /= xd[d];
    }
    src += at * stride;
    stride *= xd[d];
  }
  return src;
}

extern "C" __global__ void reduce_fwd(float* y, const float* x, int kind, int x0, int x1, int x2,
                                      int x3, int x4, int m0, int m1, int m2, int m3, int m4) {
  const int xd[5] = {x0, x1, x2, x3, x4};
  const int m[5] = {m0, m1, m2, m3, m4};
  int total = 1;
  int count = 1;
#pragma unroll
  for (int d = 0; d < 5; d++) {
    total *= m[d] ? 1 : xd[d];
    count *= m[d] ? xd[d] : 1;
  }
  GRID_STRIDE(i, total) {
    int c[5];
    int r = i;
#pragma unroll
    for (int d = 4; d >= 0; d--) {
      int od = m[d] ? 1 : xd[d];
      c[d] = r % od;
      r /= od;
    }
    double acc = 0.0;
    float ext = kind == RED_MAX ? -INFINITY : INFINITY;
    for (int k = 0; k < count; k++) {
      float v = x[group_element(c, k, xd, m)];
      acc += (double)v;
      if (kind == RED_MAX ? v > ext : v < ext) ext = v;
    }
    y[i] = kind == RED_MEAN ? (float)(acc / count) : kind == RED_SUM ? (float)acc : ext;
  }
}

extern "C" __global__ void reduce_bwd(float* dx, const float* dy, int kind, int x0, int x1, int x2,
                                      int x3, int x4, int m0, int m1, int m2, int m3, int m4) {
  const int xd[5] = {x0, x1, x2, x3, x4};
  const int m[5] = {m0, m1, m2, m3, m4};
  int total = 1;
  int count = 1;
#pragma unroll
  for (int d = 0; d < 5; d++) {
    total *= xd[d];
    count *= m[d] ? xd[d] : 1;
  }
  GRID_STRIDE(i, total) {
    int r = i;
    int o = 0;
    int stride = 1;
#pragma unroll
    for (int d = 4; d >= 0; d--) {
      int at = r % xd[d];
      r /= xd[d];
      if (!m[d]) {
        o += at * stride;
        stride *= xd[d];
      }
    }
    dx[i] = kind == RED_MEAN ? dy[o] / (float)count : dy[o];
  }
}

extern "C" __global__ void reduce_extreme_bwd(float* dx, const float* dy, const float* x,
                                              const float* y, int xValueTotal, int x0, int x1,
                                              int x2, int x3, int x4, int m0, int m1, int m2,
                                              int m3, int m4) {
  const int xd[5] = {x0, x1, x2, x3, x4};
  const int m[5] = {m0, m1, m2, m3, m4};
  int total = 1;
  int count = 1;
#pragma unroll
  for (int d = 0; d < 5; d++) {
    total *= xd[d];
    count *= m[d] ? xd[d] : 1;
  }
  const int yValueTotal = xValueTotal / count;
  GRID_STRIDE(i, total) {
    int c[5];
    int r = i;
    int o = 0;
    int stride = 1;
#pragma unroll
    for (int d = 4; d >= 0; d--) {
      c[d] = r % xd[d];
      r /= xd[d];
      if (!m[d]) {
        o += c[d] * stride;
        stride *= xd[d];
      }
    }
    const float e = y[o % yValueTotal];
    if (x[i % xValueTotal] != e) {
      dx[i] = 0.f;
      continue;
    }
    int n = 0;
    for (int k = 0; k < count; k++) {
      n += x[group_element(c, k, xd, m) % xValueTotal] == e ? 1 : 0;
    }
    dx[i] = (1.f / (float)n) * dy[o];
  }
}
