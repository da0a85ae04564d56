// channel_mean.cu — pooling the gradients of a feature layer into one weight per channel.
//
//   channel_mean      (Grad-CAM)   alpha[n,k] = (1/(H·W)) Σ_{h,w} g[n,h,w,k]
//   gradcampp_weights (Grad-CAM++) S = Σ_{h,w} A[n,h,w,k]
//                                  alpha[n,k] = Σ_{h,w} ReLU(g) · g² / (2g² + S·g³ + 1e-6)
//                                  (closed form from first-order gradients, Chattopadhyay et al.
//                                  eq. 19 as pytorch-grad-cam uses it; pixels with g <= 0 add
//                                  nothing, which is also the 0/0 guard; a denominator of exactly
//                                  0 adds 0)
//   xgradcam_weights  (XGrad-CAM)  alpha[n,k] = Σ_{h,w} g·A / (Σ_{h,w} A + eps)   (eps from the host)
//
// Shapes: acts (N,H,W,K), grads (N,H,W,K) -> alpha (N,K). NHWC, so channels are contiguous.
//
// Launch: grid (ceil(K/32), min(N, 65535)), block (32, 8). threadIdx.x picks the channel
// (coalesced loads of 32 consecutive channels), threadIdx.y strides over the H·W pixels; the 8
// partial sums of a channel are added in a fixed order. Sums in double. A block loops over the
// samples n = blockIdx.y, + gridDim.y, … (grid.y is at most 65535, the batch may be larger).
// Twins: dev.segcam.kernels.CpuKernels.channel_mean / gradcampp_weights / xgradcam_weights.

#define CM_ROWS 8

extern "C" __global__ void channel_mean(float* alpha, const float* grads, int N, int H, int W,
                                        int K) {
  __shared__ double part[CM_ROWS][32];
  int k = blockIdx.x * 32 + threadIdx.x;
  int hw = H * W;
  for (int n = blockIdx.y; n < N; n += gridDim.y) {
    double acc = 0.0;
    if (k < K) {
      for (int p = threadIdx.y; p < hw; p += CM_ROWS) acc += grads[((size_t)n * hw + p) * K + k];
    }
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && k < K) {
      double s = 0.0;
      for (int r = 0; r < CM_ROWS; r++) s += part[r][threadIdx.x];
      alpha[(size_t)n * K + k] = (float)(s / hw);
    }
    __syncthreads();  // part is rewritten by the next sample
  }
}

// One pixel's a_ij · ReLU(g_ij); the same expression as CpuKernels.gradcamppTerm.
__device__ __forceinline__ double gradcampp_term(float gf, double sumA) {
  double g = gf;
  if (!(g > 0.0)) return 0.0;
  double g2 = g * g;
  double g3 = g2 * g;
  double den = 2.0 * g2 + sumA * g3 + 1e-6;
  if (den == 0.0) return 0.0;
  return g2 / den * g;
}

extern "C" __global__ void gradcampp_weights(float* alpha, const float* acts, const float* grads,
                                             int N, int H, int W, int K) {
  __shared__ double part[CM_ROWS][32];
  __shared__ double sumA[32];
  int k = blockIdx.x * 32 + threadIdx.x;
  int hw = H * W;
  for (int n = blockIdx.y; n < N; n += gridDim.y) {
    double acc = 0.0;
    if (k < K) {
      for (int p = threadIdx.y; p < hw; p += CM_ROWS) acc += acts[((size_t)n * hw + p) * K + k];
    }
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0) {
      double s = 0.0;
      for (int r = 0; r < CM_ROWS; r++) s += part[r][threadIdx.x];
      sumA[threadIdx.x] = s;
    }
    __syncthreads();
    double sa = sumA[threadIdx.x];
    acc = 0.0;
    if (k < K) {
      for (int p = threadIdx.y; p < hw; p += CM_ROWS) {
        acc += gradcampp_term(grads[((size_t)n * hw + p) * K + k], sa);
      }
    }
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && k < K) {
      double s = 0.0;
      for (int r = 0; r < CM_ROWS; r++) s += part[r][threadIdx.x];
      alpha[(size_t)n * K + k] = (float)s;
    }
    __syncthreads();  // part and sumA are rewritten by the next sample
  }
}

extern "C" __global__ void xgradcam_weights(float* alpha, const float* acts, const float* grads,
                                            int N, int H, int W, int K, float eps) {
  __shared__ double partA[CM_ROWS][32];
  __shared__ double partGA[CM_ROWS][32];
  int k = blockIdx.x * 32 + threadIdx.x;
  int hw = H * W;
  for (int n = blockIdx.y; n < N; n += gridDim.y) {
    double sa = 0.0, sga = 0.0;
    if (k < K) {
      for (int p = threadIdx.y; p < hw; p += CM_ROWS) {
        size_t j = ((size_t)n * hw + p) * K + k;
        double a = acts[j];
        sa += a;
        sga += (double)grads[j] * a;
      }
    }
    partA[threadIdx.y][threadIdx.x] = sa;
    partGA[threadIdx.y][threadIdx.x] = sga;
    __syncthreads();
    if (threadIdx.y == 0 && k < K) {
      double s = 0.0, t = 0.0;
      for (int r = 0; r < CM_ROWS; r++) {
        s += partA[r][threadIdx.x];
        t += partGA[r][threadIdx.x];
      }
      alpha[(size_t)n * K + k] = (float)(t / (s + (double)eps));
    }
    __syncthreads();  // partA and partGA are rewritten by the next sample
  }
}
