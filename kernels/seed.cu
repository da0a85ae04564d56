// seed.cu — the Seg-Grad-CAM objective and its gradient with respect to the network output.
//
//   score[n] = Σ_{h,w} mask[n,h,w] · f(y[n,h,w,:])[c_n]          c_n = cls[n]
//   seed     = d score / d y
//     mode 0 LOGITS : f = y                  seed = mask on channel c (one-hot)
//     mode 1 SOFTMAX: f = softmax over C     seed_k = mask · p_c · (δ_kc − p_k)
//     mode 2 SIGMOID: f = σ(y) per channel   seed_c = mask · σ(1−σ), other channels 0
//   C == 1 ("class 1 = foreground"): cls 1 scores channel 0; cls 0 scores the background 1 − f
//   (LOGITS: −y) and the seed is negated. The host validates cls; an invalid one gives NaN here.
//
// Shapes: logits (N,H,W,C), mask (N,H,W) float weights, cls (N) int
//         -> seed (N,H,W,C), partial (N,B) double, then score (N) float.
//
// Launch (two kernels, in this order, same stream):
//   masked_score_seed   grid (B, min(N, 65535)), block 256 (any multiple of 32): each thread walks
//                       pixels with stride B·256, writes their seed, and the block's partial
//                       score goes to partial[n·B + blockIdx.x]; a block loops over the samples
//                       n = blockIdx.y, + gridDim.y, … (grid.y is at most 65535).
//   masked_score_reduce grid N, block 256: score[n] = Σ_b partial[n·B + b] (fixed tree: the
//                       result does not depend on scheduling).
// Twin: dev.segcam.kernels.CpuKernels.masked_score_seed (same expressions, all math in double).
//
//   argmax_channels     the predicted label map, so that only (P) labels leave the device instead of
//                       the (P,C) logits: labels[p] = argmax_c logits[p,c] (lowest index on ties,
//                       as numpy/TF; a NaN never wins over channel 0), C == 1: logit > 0 ? 1 : 0.
//                       logits (P,C) -> labels (P) as float (exact below 2^24 classes).
//                       Launch: one thread per pixel, block 256, grid-stride, grid <= 65535.
//                       Twin: CpuKernels.argmax_channels.
//
//   region_mask         the region M of each target row, built where the label maps live so that
//                       only the rows' small specs travel: spec (R,6) int = {kind, cls, x0, y0, x1,
//                       y1} per row; row r reads image n = r % N (target-major rows).
//                       kind 0 ZERO: mask 0 (a row scored on another node); kind 1 PREDICTED:
//                       mask[r,p] = labels[n,p] == cls; kind 2 BOX: 1 where x0 <= x < x1 and
//                       y0 <= y < y1 (a pixel is a 1x1 box, the whole image the full box).
//                       labels (N,H,W) float, spec (R,6) -> mask (R,H,W) float.
//                       Launch: one thread per (r,p), block 256, grid-stride, grid <= 65535.
//                       Twin: CpuKernels.region_mask.
#include "common.cuh"

__device__ __forceinline__ double segcam_sigmoid(double y) {
  if (y >= 0.0) return 1.0 / (1.0 + exp(-y));
  double e = exp(y);
  return e / (1.0 + e);
}

extern "C" __global__ void masked_score_seed(double* partial, float* seed, const float* logits,
                                             const float* mask, const int* cls, int N, int H,
                                             int W, int C, int mode) {
  __shared__ double scratch[32];
  int hw = H * W;
  for (int n = blockIdx.y; n < N; n += gridDim.y) {
    int cl = cls[n];
    bool valid = (C == 1) ? (cl == 0 || cl == 1) : (cl >= 0 && cl < C);
    int c = (C == 1) ? 0 : cl;
    bool background = (C == 1 && cl == 0);
    double sign = background ? -1.0 : 1.0;
    double acc = 0.0;
    for (int p = blockIdx.x * blockDim.x + threadIdx.x; p < hw; p += gridDim.x * blockDim.x) {
      size_t base = ((size_t)n * hw + p) * C;
      double m = mask[(size_t)n * hw + p];
      for (int k = 0; k < C; k++) seed[base + k] = 0.f;
      if (!valid) {
        seed[base] = __int_as_float(0x7fc00000);
        acc = __longlong_as_double(0x7ff8000000000000LL);
        continue;
      }
      if (m == 0.0) continue;  // outside M: no score, no gradient
      if (mode == 0) {
        double y = logits[base + c];
        acc += m * (background ? -y : y);
        seed[base + c] = (float)(sign * m);
      } else if (mode == 2) {
        double s = segcam_sigmoid(logits[base + c]);
        acc += m * (background ? 1.0 - s : s);
        seed[base + c] = (float)(sign * m * s * (1.0 - s));
      } else {
        double mx = -INFINITY;
        for (int k = 0; k < C; k++) mx = fmax(mx, (double)logits[base + k]);
        double sum = 0.0;
        for (int k = 0; k < C; k++) sum += exp(logits[base + k] - mx);
        double pc = exp(logits[base + c] - mx) / sum;
        acc += m * (background ? 1.0 - pc : pc);
        for (int k = 0; k < C; k++) {
          double pk = exp(logits[base + k] - mx) / sum;
          double d = (k == c) ? pc * (1.0 - pk) : -pc * pk;
          seed[base + k] = (float)(sign * m * d);
        }
      }
    }
    double total = block_sum(acc, scratch);
    if (threadIdx.x == 0) partial[(size_t)n * gridDim.x + blockIdx.x] = total;
  }
}

extern "C" __global__ void masked_score_reduce(float* score, const double* partial, int N, int B) {
  __shared__ double scratch[32];
  int n = blockIdx.x;
  double acc = 0.0;
  for (int b = threadIdx.x; b < B; b += blockDim.x) acc += partial[(size_t)n * B + b];
  double total = block_sum(acc, scratch);
  if (threadIdx.x == 0) score[n] = (float)total;
}

extern "C" __global__ void argmax_channels(float* labels, const float* logits, int P, int C) {
  GRID_STRIDE(p, P) {
    const float* row = logits + (long long)p * C;
    int best = 0;
    if (C == 1) {
      best = row[0] > 0.f ? 1 : 0;
    } else {
      float bv = row[0];
      for (int c = 1; c < C; c++) {
        if (row[c] > bv) {
          bv = row[c];
          best = c;
        }
      }
    }
    labels[p] = (float)best;
  }
}

extern "C" __global__ void region_mask(float* mask, const float* labels, const int* spec, int R,
                                       int N, int H, int W) {
  int hw = H * W;
  GRID_STRIDE(i, R * hw) {
    int r = i / hw;
    int p = i - r * hw;
    const int* sp = spec + 6 * r;
    float v = 0.f;
    if (sp[0] == 1) {
      v = labels[(size_t)(r % N) * hw + p] == (float)sp[1] ? 1.f : 0.f;
    } else if (sp[0] == 2) {
      int y = p / W;
      int x = p - y * W;
      v = (x >= sp[2] && x < sp[4] && y >= sp[3] && y < sp[5]) ? 1.f : 0.f;
    }
    mask[i] = v;
  }
}
