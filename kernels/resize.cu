// resize.cu — bilinear and nearest-neighbour resize (TensorFlow ResizeBilinear /
// ResizeNearestNeighbor semantics) and their adjoints.
//
//   scale = align_corners && out > 1 ? (in−1)/(out−1) : in/out              (float)
//   bilinear:
//   src   = half_pixel_centers ? (o + 0.5)·scale − 0.5 : o·scale             (float)
//   lower = max(floor(src), 0)   upper = min(ceil(src), in−1)   lerp = src − floor(src)
//   fwd:  top = tl + (tr−tl)·lx, bottom = bl + (br−bl)·lx, out = top + (bottom−top)·ly   (float,
//         in this order; PTX is built with -fmad=false so no FMA changes a rounding)
//   bwd:  gradIn[iy,ix] = Σ over outputs and their four taps that land on (iy,ix) of
//         g · wy · wx, wy ∈ {1−ly, ly}, wx ∈ {1−lx, lx} (float weights, products and sum in double)
//   nearest:
//   src   = half_pixel_centers ? (o + 0.5)·scale : o·scale; s = align ? round(src) : floor(src);
//         s = min(s, in−1) (and max(s, 0) with half_pixel_centers)
//   fwd:  out = in[s_y, s_x];  bwd: gradIn[iy,ix] = Σ gradOut over the outputs sourced there (float)
//
// Shapes: bilinear fwd in (N,H,W,C) -> out (N,OH,OW,C); bwd gradOut (N,OH,OW,C) -> gradIn
// (N,H,W,C). nearest fwd x (N,H,W,C) -> y (N,OH,OW,C); bwd dy (B,OH,OW,C) -> dx (B,H,W,C).
// align_corners and half_pixel_centers are never both set (the host rejects it, as TF does).
//
// Launch: fwd one thread per output element, bwd one thread per input element (a gather over
// the outputs whose taps can reach it, so no atomics and a deterministic result); block 256,
// grid-stride loop, grid = min(ceil(total/256), 65535) chosen by the host (CudaKernels for
// bilinear, CudaGraphOps for nearest). The bilinear kernels index in 64 bits, the nearest ones in
// int (GRID_STRIDE, common.cuh).
// Summation order: outputs in (oy, ox) order, as the twins' gather, so the sums match them.
// Twins: dev.segcam.kernels.ResizeKernels.resize_bilinear_fwd / resize_bilinear_bwd /
// resize_nearest_fwd / resize_nearest_bwd.
#include "common.cuh"

__device__ __forceinline__ float resize_scale(int in, int out, int align_corners) {
  return (align_corners && out > 1) ? (in - 1) / (float)(out - 1) : in / (float)out;
}

__device__ __forceinline__ void resize_tap(int o, int in, float scale, int half_pixel, int* lower,
                                           int* upper, float* lerp) {
  float src = half_pixel ? ((float)o + 0.5f) * scale - 0.5f : (float)o * scale;
  float fl = floorf(src);
  *lower = max((int)fl, 0);
  *upper = min((int)ceilf(src), in - 1);
  *lerp = src - fl;
}

extern "C" __global__ void resize_bilinear_fwd(float* out, const float* in, int N, int H, int W,
                                               int C, int OH, int OW, int align_corners,
                                               int half_pixel_centers) {
  float sy = resize_scale(H, OH, align_corners);
  float sx = resize_scale(W, OW, align_corners);
  size_t total = (size_t)N * OH * OW * C;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
       i += (size_t)gridDim.x * blockDim.x) {
    int c = (int)(i % C);
    size_t r = i / C;
    int ox = (int)(r % OW);
    r /= OW;
    int oy = (int)(r % OH);
    int n = (int)(r / OH);
    int t, b, l, rr;
    float ly, lx;
    resize_tap(oy, H, sy, half_pixel_centers, &t, &b, &ly);
    resize_tap(ox, W, sx, half_pixel_centers, &l, &rr, &lx);
    size_t top = ((size_t)n * H + t) * W;
    size_t bot = ((size_t)n * H + b) * W;
    float tl = in[(top + l) * C + c];
    float tr = in[(top + rr) * C + c];
    float bl = in[(bot + l) * C + c];
    float br = in[(bot + rr) * C + c];
    float tv = tl + (tr - tl) * lx;
    float bv = bl + (br - bl) * lx;
    out[i] = tv + (bv - tv) * ly;
  }
}

// Output indices [*first, *last] whose taps may reach input index i (a safe superset: the caller
// checks each tap exactly). src(o) is increasing in o, and a tap reaches i only when
// src ∈ (i−1, i+1), or src < 0 for i == 0, or src > in−1 for i == in−1.
__device__ __forceinline__ void resize_candidates(int i, int in, int out, float scale,
                                                  int half_pixel, int* first, int* last) {
  if (!(scale > 0.f) || in == 1) {
    *first = 0;
    *last = out - 1;
    return;
  }
  float off = half_pixel ? 0.5f : 0.f;
  int lo = (int)floorf((i - 1 + off) / scale - off) - 1;
  int hi = (int)ceilf((i + 1 + off) / scale - off) + 1;
  if (i == 0) lo = 0;
  if (i == in - 1) hi = out - 1;
  *first = max(lo, 0);
  *last = min(hi, out - 1);
}

extern "C" __global__ void resize_bilinear_bwd(float* gradIn, const float* gradOut, int N, int H,
                                               int W, int C, int OH, int OW, int align_corners,
                                               int half_pixel_centers) {
  float sy = resize_scale(H, OH, align_corners);
  float sx = resize_scale(W, OW, align_corners);
  size_t total = (size_t)N * H * W * C;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
       i += (size_t)gridDim.x * blockDim.x) {
    int c = (int)(i % C);
    size_t r = i / C;
    int ix = (int)(r % W);
    r /= W;
    int iy = (int)(r % H);
    int n = (int)(r / H);
    int oy0, oy1, ox0, ox1;
    resize_candidates(iy, H, OH, sy, half_pixel_centers, &oy0, &oy1);
    resize_candidates(ix, W, OW, sx, half_pixel_centers, &ox0, &ox1);
    double acc = 0.0;
    for (int oy = oy0; oy <= oy1; oy++) {
      int t, b;
      float ly;
      resize_tap(oy, H, sy, half_pixel_centers, &t, &b, &ly);
      if (t != iy && b != iy) continue;
      double wt = (t == iy) ? (double)(1.f - ly) : 0.0;
      double wb = (b == iy) ? (double)ly : 0.0;
      const float* row = gradOut + (((size_t)n * OH + oy) * OW) * C + c;
      for (int ox = ox0; ox <= ox1; ox++) {
        int l, rr;
        float lx;
        resize_tap(ox, W, sx, half_pixel_centers, &l, &rr, &lx);
        if (l != ix && rr != ix) continue;
        double g = row[(size_t)ox * C];
        double wl = (double)(1.f - lx);
        double wr = (double)lx;
        if (t == iy && l == ix) acc += g * wt * wl;
        if (t == iy && rr == ix) acc += g * wt * wr;
        if (b == iy && l == ix) acc += g * wb * wl;
        if (b == iy && rr == ix) acc += g * wb * wr;
      }
    }
    gradIn[i] = (float)acc;
  }
}

// TensorFlow's nearest-neighbour source index along one axis (ResizeKernels.nearestTap).
__device__ __forceinline__ int nearest_tap(int o, int in, float scale, int align, int half) {
  float src = half ? ((float)o + 0.5f) * scale : (float)o * scale;
  int s = align ? (int)roundf(src) : (int)floorf(src);
  s = min(s, in - 1);
  return half ? max(0, s) : s;
}

// x (N,H,W,C) -> y (N,OH,OW,C), ResizeNearestNeighbor.
extern "C" __global__ void resize_nearest_fwd(float* y, const float* x, int N, int H, int W,
                                              int C, int OH, int OW, int align, int half) {
  float sy = resize_scale(H, OH, align);
  float sx = resize_scale(W, OW, align);
  int total = N * OH * OW * C;
  GRID_STRIDE(i, total) {
    int c = i % C;
    int r = i / C;
    int ox = r % OW;
    r /= OW;
    int oy = r % OH;
    int n = r / OH;
    int iy = nearest_tap(oy, H, sy, align, half);
    int ix = nearest_tap(ox, W, sx, align, half);
    y[i] = x[(((size_t)n * H + iy) * W + ix) * C + c];
  }
}

// Its adjoint: dx[iy,ix] = Σ dy over the outputs whose source is (iy,ix). A gather that scans
// the output rows and columns (O(OH + OW·hits) per element; OH, OW are image sizes).
// dy (B,OH,OW,C) -> dx (B,H,W,C).
extern "C" __global__ void resize_nearest_bwd(float* dx, const float* dy, int B, int H, int W,
                                              int C, int OH, int OW, int align, int half) {
  float sy = resize_scale(H, OH, align);
  float sx = resize_scale(W, OW, align);
  int total = B * H * W * C;
  GRID_STRIDE(i, total) {
    int c = i % C;
    int r = i / C;
    int ix = r % W;
    r /= W;
    int iy = r % H;
    int b = r / H;
    float acc = 0.f;
    for (int oy = 0; oy < OH; oy++) {
      if (nearest_tap(oy, H, sy, align, half) != iy) continue;
      for (int ox = 0; ox < OW; ox++) {
        if (nearest_tap(ox, W, sx, align, half) != ix) continue;
        acc += dy[(((size_t)b * OH + oy) * OW + ox) * C + c];
      }
    }
    dx[i] = acc;
  }
}
