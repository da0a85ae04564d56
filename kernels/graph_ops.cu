// graph_ops.cu — the IR ops cuDNN/cuBLAS do not cover (or cover without the K-target batch
// tiling the backward needs), forward and data-gradient backward, for CudaCamBackend.
//
// Conventions (all NHWC float32, row-major, int indexing: the host rejects tensors of 2^31
// elements or more):
//   * "tiled" backward: the gradient has B = K·N rows while the forward value it reads has N, so
//     gradient element i reads value element i % valueTotal (rows are target-major, b = k·N + n).
//   * broadcast ops take every shape padded on the left to rank 4; a coordinate c along a dim of
//     size d of an operand reads c % d, which is both NumPy broadcasting (d == 1) and the tiling
//     above (d == N, c < K·N).
//   * grid-stride loops, block 256, grid = min(ceil(total/256), 65535) chosen by the host.
//   * sums that a CPU twin does in double are done in double here too.
// Twins (same names and argument order): dev.segcam.kernels.CpuKernels.

#define GRID_STRIDE(i, total)                                                              \
  for (int i = (int)(blockIdx.x * blockDim.x + threadIdx.x); i < (total);                 \
       i += (int)(gridDim.x * blockDim.x))

// y[r,c] = x[r,c] * scale[c] + offset[c] (scale or offset may be null). y may equal x.
// Covers BiasAdd, the folded BatchNorm and the conv/dense bias.
extern "C" __global__ void channel_affine(float* y, const float* x, const float* scale,
                                          const float* offset, int total, int C) {
  GRID_STRIDE(i, total) {
    int c = i % C;
    float v = x[i];
    if (scale != 0) v = v * scale[c];
    if (offset != 0) v = v + offset[c];
    y[i] = v;
  }
}

// dx = dy * scale[c]: the data gradient of a folded BatchNorm.
extern "C" __global__ void channel_scale_bwd(float* dx, const float* dy, const float* scale,
                                             int total, int C) {
  GRID_STRIDE(i, total) { dx[i] = dy[i] * scale[i % C]; }
}

// Activation kinds, in the order of dev.segcam.ir.Op.ActivationKind.
#define ACT_RELU 0
#define ACT_RELU6 1
#define ACT_LEAKY 2
#define ACT_ELU 3
#define ACT_SIGMOID 4
#define ACT_TANH 5

// y = act(x). Sigmoid is computed in double as the CPU engine does (1/(1+exp(-x))).
extern "C" __global__ void activation_fwd(float* y, const float* x, int total, int kind,
                                          float alpha) {
  GRID_STRIDE(i, total) {
    float v = x[i];
    float o;
    switch (kind) {
      case ACT_RELU: o = fmaxf(v, 0.f); break;
      case ACT_RELU6: o = fminf(fmaxf(v, 0.f), 6.f); break;
      case ACT_LEAKY: o = v > 0.f ? v : alpha * v; break;
      case ACT_ELU: o = v > 0.f ? v : (float)expm1((double)v); break;
      case ACT_SIGMOID: o = (float)(1.0 / (1.0 + exp(-(double)v))); break;
      default: o = (float)tanh((double)v); break;
    }
    y[i] = o;
  }
}

// dx = dy * act'(.), TensorFlow's gradient rules: Relu/Relu6/LeakyRelu read the input x (0 at
// x == 0, Relu6 also 0 at x == 6), Elu/Sigmoid/Tanh the output y. v is x or y, valueTotal its
// size (tiled over the K targets).
extern "C" __global__ void activation_bwd(float* dx, const float* dy, const float* v, int total,
                                          int valueTotal, int kind, float alpha) {
  GRID_STRIDE(i, total) {
    float g = dy[i];
    float a = v[i % valueTotal];
    float d;
    switch (kind) {
      case ACT_RELU: d = a > 0.f ? g : 0.f; break;
      case ACT_RELU6: d = (a > 0.f && a < 6.f) ? g : 0.f; break;
      case ACT_LEAKY: d = a > 0.f ? g : alpha * g; break;
      case ACT_ELU: d = a < 0.f ? g * (a + 1.f) : g; break;
      case ACT_SIGMOID: d = g * (a * (1.f - a)); break;
      default: d = g * (1.f - a * a); break;
    }
    dx[i] = d;
  }
}

// Softmax over the last axis, one thread per row (C is a class count: small). Max-subtracted,
// exponentials in double rounded to float, their sum in double, then one float reciprocal, as the
// CPU engine does.
extern "C" __global__ void softmax_fwd(float* y, const float* x, int rows, int C) {
  GRID_STRIDE(r, rows) {
    const float* xr = x + (size_t)r * C;
    float* yr = y + (size_t)r * C;
    float mx = -INFINITY;
    for (int q = 0; q < C; q++) mx = fmaxf(mx, xr[q]);
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

// Max/avg pooling with TensorFlow's SAME/VALID geometry (pt/pl: padding before, from the host).
// MAX ignores padded pixels, AVG divides by the in-bounds count. x (N,H,W,C) -> y (N,OH,OW,C).
extern "C" __global__ void pool_fwd(float* y, const float* x, int N, int H, int W, int C, int OH,
                                    int OW, int kh, int kw, int sh, int sw, int pt, int pl,
                                    int isMax) {
  int total = N * OH * OW * C;
  GRID_STRIDE(i, total) {
    int c = i % C;
    int r = i / C;
    int ox = r % OW;
    r /= OW;
    int oy = r % OH;
    int n = r / OH;
    int y0 = max(0, oy * sh - pt), y1 = min(H, oy * sh - pt + kh);
    int x0 = max(0, ox * sw - pl), x1 = min(W, ox * sw - pl + kw);
    float acc = isMax ? -INFINITY : 0.f;
    for (int iy = y0; iy < y1; iy++) {
      for (int ix = x0; ix < x1; ix++) {
        float v = x[(((size_t)n * H + iy) * W + ix) * C + c];
        acc = isMax ? fmaxf(acc, v) : acc + v;
      }
    }
    if (!isMax) acc = acc * (1.f / (float)((y1 - y0) * (x1 - x0)));
    y[i] = acc;
  }
}

// The output windows (oy range) whose rows cover input row iy.
__device__ __forceinline__ void pool_windows(int iy, int k, int s, int p, int O, int* lo,
                                             int* hi) {
  // oy·s − p <= iy < oy·s − p + k  <=>  (iy + p − k + 1)/s <= oy <= (iy + p)/s
  int a = iy + p - k + 1;
  *lo = a <= 0 ? 0 : (a + s - 1) / s;
  *hi = min((iy + p) / s, O - 1);
}

// Data gradient of max pooling: each window's gradient goes to its first maximum in row-major
// order (TensorFlow's rule); a gather per input element over the windows that cover it, so no
// atomics. dy (B,OH,OW,C), x (N,H,W,C) forward input (tiled: image b % N) -> dx (B,H,W,C).
extern "C" __global__ void maxpool_bwd(float* dx, const float* dy, const float* x, int B, int N,
                                       int H, int W, int C, int OH, int OW, int kh, int kw, int sh,
                                       int sw, int pt, int pl) {
  int total = B * H * W * C;
  GRID_STRIDE(i, total) {
    int c = i % C;
    int r = i / C;
    int ix = r % W;
    r /= W;
    int iy = r % H;
    int b = r / H;
    int n = b % N;
    int oy0, oy1, ox0, ox1;
    pool_windows(iy, kh, sh, pt, OH, &oy0, &oy1);
    pool_windows(ix, kw, sw, pl, OW, &ox0, &ox1);
    const float* xn = x + (size_t)n * H * W * C + c;
    double acc = 0.0;
    for (int oy = oy0; oy <= oy1; oy++) {
      int y0 = max(0, oy * sh - pt), y1 = min(H, oy * sh - pt + kh);
      for (int ox = ox0; ox <= ox1; ox++) {
        int x0 = max(0, ox * sw - pl), x1 = min(W, ox * sw - pl + kw);
        float best = xn[((size_t)y0 * W + x0) * C];
        int by = y0, bx = x0;
        for (int yy = y0; yy < y1; yy++) {
          for (int xx = x0; xx < x1; xx++) {
            float v = xn[((size_t)yy * W + xx) * C];
            if (best < v) {
              best = v;
              by = yy;
              bx = xx;
            }
          }
        }
        if (by == iy && bx == ix) acc += dy[(((size_t)b * OH + oy) * OW + ox) * C + c];
      }
    }
    dx[i] = (float)acc;
  }
}

// Data gradient of average pooling: each window spreads dy/count over its in-bounds pixels.
// dy (B,OH,OW,C) -> dx (B,H,W,C).
extern "C" __global__ void avgpool_bwd(float* dx, const float* dy, int B, int H, int W, int C,
                                       int OH, int OW, int kh, int kw, int sh, int sw, int pt,
                                       int pl) {
  int total = B * H * W * C;
  GRID_STRIDE(i, total) {
    int c = i % C;
    int r = i / C;
    int ix = r % W;
    r /= W;
    int iy = r % H;
    int b = r / H;
    int oy0, oy1, ox0, ox1;
    pool_windows(iy, kh, sh, pt, OH, &oy0, &oy1);
    pool_windows(ix, kw, sw, pl, OW, &ox0, &ox1);
    double acc = 0.0;
    for (int oy = oy0; oy <= oy1; oy++) {
      int ny = min(H, oy * sh - pt + kh) - max(0, oy * sh - pt);
      for (int ox = ox0; ox <= ox1; ox++) {
        int nx = min(W, ox * sw - pl + kw) - max(0, ox * sw - pl);
        float g = dy[(((size_t)b * OH + oy) * OW + ox) * C + c];
        acc += (double)(g / (float)(ny * nx));
      }
    }
    dx[i] = (float)acc;
  }
}

// Data gradient of the spatial mean: dy (B,C) -> dx (B,H·W,C) = dy / (H·W).
extern "C" __global__ void spatial_mean_bwd(float* dx, const float* dy, int B, int HW, int C) {
  int total = B * HW * C;
  GRID_STRIDE(i, total) {
    int c = i % C;
    int b = i / (HW * C);
    dx[i] = (float)((double)dy[b * C + c] / HW);
  }
}

// TensorFlow's nearest-neighbour source index along one axis (CpuOps.nearestTap).
__device__ __forceinline__ int nearest_tap(int o, int in, float scale, int align, int half) {
  float src = half ? ((float)o + 0.5f) * scale : (float)o * scale;
  int s = align ? (int)roundf(src) : (int)floorf(src);
  s = min(s, in - 1);
  return half ? max(0, s) : s;
}

__device__ __forceinline__ float resize_scale_n(int in, int out, int align) {
  return (align && out > 1) ? (in - 1) / (float)(out - 1) : in / (float)out;
}

// x (N,H,W,C) -> y (N,OH,OW,C), ResizeNearestNeighbor.
extern "C" __global__ void resize_nearest_fwd(float* y, const float* x, int N, int H, int W,
                                              int C, int OH, int OW, int align, int half) {
  float sy = resize_scale_n(H, OH, align);
  float sx = resize_scale_n(W, OW, align);
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
  float sy = resize_scale_n(H, OH, align);
  float sx = resize_scale_n(W, OW, align);
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

// Concatenation as strided block copies: the tensor viewed as (outer, axis, inner); input k of
// axis length inAxis sits at [offset, offset+inAxis) of the output's outAxis. backward == 0:
// big[...] = part[...] (forward); backward == 1: part[...] = big[...] (the gradient slice).
extern "C" __global__ void concat_copy(float* big, float* part, int outer, int inAxis, int inner,
                                       int outAxis, int offset, int backward) {
  int total = outer * inAxis * inner;
  GRID_STRIDE(i, total) {
    int in = i % inner;
    int r = i / inner;
    int a = r % inAxis;
    int o = r / inAxis;
    size_t j = ((size_t)o * outAxis + offset + a) * inner + in;
    if (backward) {
      part[i] = big[j];
    } else {
      big[j] = part[i];
    }
  }
}

#define BIN_ADD 0
#define BIN_SUB 1
#define BIN_MUL 2
#define BIN_DIV 3

// Row-major index of coordinates (c0..c3) in a tensor of dims (d0..d3), each coordinate taken
// modulo its dim (broadcasting and batch tiling at once).
__device__ __forceinline__ int bcast_index(int c0, int c1, int c2, int c3, int d0, int d1, int d2,
                                           int d3) {
  return ((c0 % d0 * d1 + c1 % d1) * d2 + c2 % d2) * d3 + c3 % d3;
}

// out = a (op) b with NumPy broadcasting; out (o0..o3), a (a0..a3), b (b0..b3), rank-4 padded.
extern "C" __global__ void binary_fwd(float* out, const float* a, const float* b, int kind,
                                      int o0, int o1, int o2, int o3, int a0, int a1, int a2,
                                      int a3, int b0, int b1, int b2, int b3) {
  int total = o0 * o1 * o2 * o3;
  GRID_STRIDE(i, total) {
    int c3 = i % o3;
    int r = i / o3;
    int c2 = r % o2;
    r /= o2;
    int c1 = r % o1;
    int c0 = r / o1;
    float x = a[bcast_index(c0, c1, c2, c3, a0, a1, a2, a3)];
    float y = b[bcast_index(c0, c1, c2, c3, b0, b1, b2, b3)];
    float v;
    switch (kind) {
      case BIN_ADD: v = x + y; break;
      case BIN_SUB: v = x - y; break;
      case BIN_MUL: v = x * y; break;
      default: v = x / y; break;
    }
    out[i] = v;
  }
}

// Data gradient of a broadcast binary op with respect to one side (wrtA 1: a, 0: b): the
// gradient g (g0..g3) is dy (y0..y3) times the partial derivative, summed (in double) over the
// dims where g has 1 and dy more. a/b values (needed by MUL and DIV; may be null otherwise) are
// read with the modulo rule, so they can have the forward batch N while dy has K·N.
// TensorFlow's forms: MUL da = dy·b, db = dy·a; DIV da = dy/b, db = dy·((−a/b)/b).
extern "C" __global__ void binary_bwd(float* g, const float* dy, const float* a, const float* b,
                                      int kind, int wrtA, int g0, int g1, int g2, int g3, int y0,
                                      int y1, int y2, int y3, int a0, int a1, int a2, int a3,
                                      int b0, int b1, int b2, int b3) {
  int total = g0 * g1 * g2 * g3;
  int r0 = (g0 == y0) ? 1 : y0;
  int r1 = (g1 == y1) ? 1 : y1;
  int r2 = (g2 == y2) ? 1 : y2;
  int r3 = (g3 == y3) ? 1 : y3;
  GRID_STRIDE(i, total) {
    int c3 = i % g3;
    int r = i / g3;
    int c2 = r % g2;
    r /= g2;
    int c1 = r % g1;
    int c0 = r / g1;
    double acc = 0.0;
    for (int e0 = 0; e0 < r0; e0++) {
      int d0 = r0 == 1 ? c0 : e0;
      for (int e1 = 0; e1 < r1; e1++) {
        int d1 = r1 == 1 ? c1 : e1;
        for (int e2 = 0; e2 < r2; e2++) {
          int d2 = r2 == 1 ? c2 : e2;
          for (int e3 = 0; e3 < r3; e3++) {
            int d3 = r3 == 1 ? c3 : e3;
            float gy = dy[((d0 * y1 + d1) * y2 + d2) * y3 + d3];
            float v;
            if (kind == BIN_ADD) {
              v = gy;
            } else if (kind == BIN_SUB) {
              v = wrtA ? gy : -gy;
            } else {
              float av = a[bcast_index(d0, d1, d2, d3, a0, a1, a2, a3)];
              float bv = b[bcast_index(d0, d1, d2, d3, b0, b1, b2, b3)];
              if (kind == BIN_MUL) {
                v = gy * (wrtA ? bv : av);
              } else {
                v = wrtA ? gy / bv : gy * ((-av / bv) / bv);
              }
            }
            acc += v;
          }
        }
      }
    }
    g[i] = (float)acc;
  }
}

// Constant padding, rank-4 padded: out (o0..o3) from x (x0..x3) placed at before (p0..p3).
extern "C" __global__ void pad_fwd(float* out, const float* x, float value, int o0, int o1,
                                   int o2, int o3, int x0, int x1, int x2, int x3, int p0, int p1,
                                   int p2, int p3) {
  int total = o0 * o1 * o2 * o3;
  GRID_STRIDE(i, total) {
    int c3 = i % o3 - p3;
    int r = i / o3;
    int c2 = r % o2 - p2;
    r /= o2;
    int c1 = r % o1 - p1;
    int c0 = r / o1 - p0;
    bool in = c0 >= 0 && c0 < x0 && c1 >= 0 && c1 < x1 && c2 >= 0 && c2 < x2 && c3 >= 0 && c3 < x3;
    out[i] = in ? x[((c0 * x1 + c1) * x2 + c2) * x3 + c3] : value;
  }
}

// Its data gradient (also the crop after an asymmetric-padded convolution): dx (x0..x3) =
// the window of dy (y0..y3) starting at before (p0..p3).
extern "C" __global__ void pad_bwd(float* dx, const float* dy, int x0, int x1, int x2, int x3,
                                   int y0, int y1, int y2, int y3, int p0, int p1, int p2,
                                   int p3) {
  int total = x0 * x1 * x2 * x3;
  GRID_STRIDE(i, total) {
    int c3 = i % x3;
    int r = i / x3;
    int c2 = r % x2;
    r /= x2;
    int c1 = r % x1;
    int c0 = r / x1;
    dx[i] = dy[(((c0 + p0) * y1 + c1 + p1) * y2 + c2 + p2) * y3 + c3 + p3];
  }
}

// acc += x (gradients of a value read by several consumers).
extern "C" __global__ void add_inplace(float* acc, const float* x, int total) {
  GRID_STRIDE(i, total) { acc[i] = acc[i] + x[i]; }
}

// Direct convolution, the fallback where cuDNN has no algorithm for a configuration (and a check
// of cuDNN): NHWC input, cuDNN's KRSC filter w (F,KH,KW,C/groups), groups (depthwise: groups ==
// C, output f in group f / (F/groups)), stride, dilation, padding before (pt, pl; the padding
// after is implied by the output size). Float sums in a fixed order. One thread per output.
// x (N,H,W,C) -> y (N,OH,OW,F).
extern "C" __global__ void conv2d_direct_fwd(float* y, const float* x, const float* w, int N,
                                             int H, int W, int C, int F, int OH, int OW, int kh,
                                             int kw, int sh, int sw, int dh, int dw, int pt,
                                             int pl, int groups) {
  int total = N * OH * OW * F;
  int cg = C / groups;
  int fg = F / groups;
  GRID_STRIDE(i, total) {
    int f = i % F;
    int r = i / F;
    int ox = r % OW;
    r /= OW;
    int oy = r % OH;
    int n = r / OH;
    int c0 = (f / fg) * cg;
    float acc = 0.f;
    for (int ky = 0; ky < kh; ky++) {
      int iy = oy * sh - pt + ky * dh;
      if (iy < 0 || iy >= H) continue;
      for (int kx = 0; kx < kw; kx++) {
        int ix = ox * sw - pl + kx * dw;
        if (ix < 0 || ix >= W) continue;
        const float* xp = x + (((size_t)n * H + iy) * W + ix) * C + c0;
        const float* wp = w + (((size_t)f * kh + ky) * kw + kx) * cg;
        for (int ci = 0; ci < cg; ci++) acc += xp[ci] * wp[ci];
      }
    }
    y[i] = acc;
  }
}

// Its data gradient, a gather per input element: dy (N,OH,OW,F) -> dx (N,H,W,C).
extern "C" __global__ void conv2d_direct_bwd_data(float* dx, const float* dy, const float* w,
                                                  int N, int H, int W, int C, int F, int OH,
                                                  int OW, int kh, int kw, int sh, int sw, int dh,
                                                  int dw, int pt, int pl, int groups) {
  int total = N * H * W * C;
  int cg = C / groups;
  int fg = F / groups;
  GRID_STRIDE(i, total) {
    int c = i % C;
    int r = i / C;
    int ix = r % W;
    r /= W;
    int iy = r % H;
    int n = r / H;
    int g = c / cg;
    int ci = c % cg;
    float acc = 0.f;
    for (int ky = 0; ky < kh; ky++) {
      int ty = iy + pt - ky * dh;
      if (ty < 0 || ty % sh != 0) continue;
      int oy = ty / sh;
      if (oy >= OH) continue;
      for (int kx = 0; kx < kw; kx++) {
        int tx = ix + pl - kx * dw;
        if (tx < 0 || tx % sw != 0) continue;
        int ox = tx / sw;
        if (ox >= OW) continue;
        const float* gp = dy + (((size_t)n * OH + oy) * OW + ox) * F;
        for (int f = g * fg; f < (g + 1) * fg; f++) {
          acc += gp[f] * w[(((size_t)f * kh + ky) * kw + kx) * cg + ci];
        }
      }
    }
    dx[i] = acc;
  }
}
