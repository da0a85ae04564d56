// strided_slice.cu — TensorFlow's StridedSlice / Slice on an activation, and its data gradient.
//
//   fwd:  y[c0..c4] = x[b0 + c0·s0, .., b4 + c4·s4]          (a gather; steps may be negative)
//   bwd:  dx[x0..x4] = dy[q0..q4] where every axis has x_d = b_d + q_d·s_d with 0 <= q_d < c_d,
//         else 0                                             (StridedSliceGrad, as a gather)
//
// Shapes: rank-5 padded (left with 1, start 0, step 1): the slice (c0..c4) before shrinking and
// new axes (those only reshape, the element order is the same), the input (x0..x4), start (b0..b4)
// and step (s0..s4) from dev.segcam.ir.Slicing. fwd y (c) <- x (x); bwd dx (x) <- dy (c). In the
// backward axis 0 is the gradient batch K·N (the batch axis is never sliced).
//
// Launch: one thread per element of y / dx, block 256, grid-stride loop,
// grid = min(ceil(total/256), 65535) (CudaGraphOps.launchIn); int indexing (the host refuses 2^31
// elements). Copies only: results are bit-exact.
// Summation order: none (no reductions).
// Twins: dev.segcam.kernels.StridedSliceKernels.strided_slice_fwd / strided_slice_bwd.
#include "common.cuh"

extern "C" __global__ void strided_slice_fwd(float* y, const float* x, int c0, int c1, int c2,
                                             int c3, int c4, int x0, int x1, int x2, int x3,
                                             int x4, int b0, int b1, int b2, int b3, int b4,
                                             int s0, int s1, int s2, int s3, int s4) {
  const int c[5] = {c0, c1, c2, c3, c4};
  const int xd[5] = {x0, x1, x2, x3, x4};
  const int b[5] = {b0, b1, b2, b3, b4};
  const int s[5] = {s0, s1, s2, s3, s4};
  int total = c0 * c1 * c2 * c3 * c4;
  GRID_STRIDE(i, total) {
    int r = i;
    int src = 0;
    int stride = 1;
#pragma unroll
    for (int d = 4; d >= 0; d--) {
      int q = r % c[d];
      r /= c[d];
      src += (b[d] + q * s[d]) * stride;
      stride *= xd[d];
    }
    y[i] = x[src];
  }
}

extern "C" __global__ void strided_slice_bwd(float* dx, const float* dy, int x0, int x1, int x2,
                                             int x3, int x4, int c0, int c1, int c2, int c3,
                                             int c4, int b0, int b1, int b2, int b3, int b4,
                                             int s0, int s1, int s2, int s3, int s4) {
  const int c[5] = {c0, c1, c2, c3, c4};
  const int xd[5] = {x0, x1, x2, x3, x4};
  const int b[5] = {b0, b1, b2, b3, b4};
  const int s[5] = {s0, s1, s2, s3, s4};
  int total = x0 * x1 * x2 * x3 * x4;
  GRID_STRIDE(i, total) {
    int r = i;
    int src = 0;
    int stride = 1;
    bool hit = true;
#pragma unroll
    for (int d = 4; d >= 0; d--) {
      int j = r % xd[d] - b[d];
      r /= xd[d];
      int q = j / s[d];
      hit = hit && j % s[d] == 0 && q >= 0 && q < c[d];
      src += q * stride;
      stride *= c[d];
    }
    dx[i] = hit ? dy[src] : 0.0f;
  }
}
