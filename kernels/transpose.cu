// transpose.cu — TensorFlow's Transpose of an activation; its data gradient is the transpose by
// the inverse permutation (the same kernel).
//
//   y[c0..c4] = x[Σ_d c_d · p_d]      p_d = the input stride of axis perm[d]
//
// Shapes: rank-5 padded (left with 1, stride of the padding axes 0): y (o0..o4), the permuted
// input strides (p0..p4) from the host (CudaShapeOps.transpose). In the backward o0 is the
// gradient batch K·N (the batch axis never moves).
//
// Launch: one thread per element of y, block 256, grid-stride loop,
// grid = min(ceil(total/256), 65535) (CudaGraphOps.launchIn); int indexing (the host refuses 2^31
// elements). Copies only: results are bit-exact.
// Summation order: none (no reductions).
// Twins: dev.segcam.kernels.TransposeKernels.transpose_copy.
#include "common.cuh"

extern "C" __global__ void transpose_copy(float* y, const float* x, int o0, int o1, int o2, int o3,
                                     int o4, int p0, int p1, int p2, int p3, int p4) {
  const int o[5] = {o0, o1, o2, o3, o4};
  const int p[5] = {p0, p1, p2, p3, p4};
  int total = o0 * o1 * o2 * o3 * o4;
  GRID_STRIDE(i, total) {
    int r = i;
    int src = 0;
#pragma unroll
    for (int d = 4; d >= 0; d--) {
      src += (r % o[d]) * p[d];
      r /= o[d];
    }
    y[i] = x[src];
  }
}
