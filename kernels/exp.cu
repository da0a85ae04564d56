// exp.cu — the element-wise exponential (TensorFlow's Exp) and its data gradient.
//
//   fwd:  y = (float) exp((double) x)        (in double, rounded once, as the Java twin)
//   bwd:  dx = dy · y                        (TF's ExpGrad reads the output y)
//
// Shapes: fwd x (total) -> y (total); bwd dy (total), y (valueTotal) -> dx (total), y tiled over
// the K targets of a batched backward: gradient element i reads y[i % valueTotal].
//
// Launch: one thread per element, block 256, grid-stride loop, grid = min(ceil(total/256), 65535)
// chosen by the host (CudaGraphOps.launchIn); int indexing (the host refuses 2^31 elements).
// Summation order: none (no reductions).
// Twins: dev.segcam.kernels.ExpKernels.exp_fwd / exp_bwd.

extern "C" __global__ void exp_fwd(float* y, const float* x, int total) {
  for (int i = (int)(blockIdx.x * blockDim.x + threadIdx.x); i < total;
       i += (int)(gridDim.x * blockDim.x)) {
    y[i] = (float)exp((double)x[i]);
  }
}

extern "C" __global__ void exp_bwd(float* dx, const float* dy, const float* y, int total,
                                   int valueTotal) {
  for (int i = (int)(blockIdx.x * blockDim.x + threadIdx.x); i < total;
       i += (int)(gridDim.x * blockDim.x)) {
    dx[i] = dy[i] * y[i % valueTotal];
  }
}
