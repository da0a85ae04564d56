// Helpers shared by the segcam kernels (included, never compiled on its own).
//
// Reductions are done in double with a fixed tree (warp shuffles, then one warp over the per-warp
// partials), so a launch is deterministic and agrees with the sequential double sums of
// dev.segcam.kernels.CpuKernels to well under one float rounding.
#pragma once

#define SEGCAM_FULL_MASK 0xffffffffu

__device__ __forceinline__ double warp_sum(double v) {
  for (int off = 16; off > 0; off >>= 1) {
    v += __shfl_down_sync(SEGCAM_FULL_MASK, v, off);
  }
  return v;
}

// Sum of v over a 1-D block whose size is a multiple of 32 (<= 1024). scratch: 32 doubles of shared
// memory. The result is valid in thread 0 only. All threads must call it.
__device__ __forceinline__ double block_sum(double v, double* scratch) {
  int lane = threadIdx.x & 31;
  int warp = threadIdx.x >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  int warps = blockDim.x >> 5;
  v = (warp == 0 && lane < warps) ? scratch[lane] : 0.0;
  if (warp == 0) v = warp_sum(v);
  __syncthreads();  // scratch may be reused right after
  return v;
}

// A grid-stride loop over [0, total) with an int index, for the graph-op kernels (activation,
// softmax, pool, resize nearest, concat_pad, binary, conv_direct). The host (CudaGraphOps) keeps
// total <= INT_MAX − 65535·256, so the step cannot overflow.
#define GRID_STRIDE(i, total)                                                              \
  for (int i = (int)(blockIdx.x * blockDim.x + threadIdx.x); i < (total);                 \
       i += (int)(gridDim.x * blockDim.x))

// The largest of x[0 .. C) (−inf for C = 0): the row max of softmax.cu and log_softmax.cu (twin:
// ActivationKernels.rowMax).
__device__ __forceinline__ float row_max(const float* x, int C) {
  float mx = -INFINITY;
  for (int q = 0; q < C; q++) mx = fmaxf(mx, x[q]);
  return mx;
}
