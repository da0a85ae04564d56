// binary.cu — element-wise arithmetic: per-channel affine (BiasAdd, folded BatchNorm, bias),
// broadcast binary ops (Add, Sub, Mul, Div, Maximum, Minimum, SquaredDifference) with their data
// gradients, and gradient accumulation.
//
//   channel_affine     y[r,c] = x[r,c]·scale[c] + offset[c] (either may be null); y may be x
//   channel_scale_bwd  dx[r,c] = dy[r,c]·scale[c]
//   binary_fwd         out = a (op) b, NumPy broadcasting
//   binary_bwd         g = Σ over the dims where g has 1 and dy more of dy·∂(a op b)/∂side, with
//                      TensorFlow's forms: MUL da = dy·b, db = dy·a; DIV da = dy/b,
//                      db = dy·((−a/b)/b); ADD/SUB ±dy; MAXIMUM (MINIMUM) dy to a where
//                      a >= b (a <= b), else to b; SQUARED_DIFFERENCE da = dy·(2·(a−b)), db = −da
//   add_inplace        acc += x
//
// Shapes: rank-4 padded (left with 1); a coordinate c along a dim of size d of an operand reads
// c % d, which is both broadcasting (d == 1) and the tiling of the K-target backward (d == N,
// c < K·N). binary_bwd's dy (y0..y3) has K times the forward's rows and may exceed 2^31 elements
// (the host bounds only g, the loop's range): dy and the operands are indexed in 64 bits.
// Kind codes: BIN_* below, = dev.segcam.ir.Op.BinaryKind.code.
//
// Launch: one thread per output element, block 256, grid-stride, grid = min(ceil(total/256),
// 65535) (CudaGraphOps).
// Summation order: binary_bwd sums in double over the reduced dims in row-major order (e0..e3),
// as the twin; everything else is one float operation per element.
// Twins: dev.segcam.kernels.ActivationKernels.channel_affine / channel_scale_bwd and
// LayoutKernels.binary_fwd / binary_bwd / add_inplace.
#include "common.cuh"

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

#define BIN_ADD 0
#define BIN_SUB 1
#define BIN_MUL 2
#define BIN_DIV 3
#define BIN_MAXIMUM 4
#define BIN_MINIMUM 5
#define BIN_SQUARED_DIFFERENCE 6

// Row-major index of coordinates (c0..c3) in a tensor of dims (d0..d3), each coordinate taken
// modulo its dim (broadcasting and batch tiling at once).
__device__ __forceinline__ size_t bcast_index(int c0, int c1, int c2, int c3, int d0, int d1,
                                              int d2, int d3) {
  return (((size_t)(c0 % d0) * d1 + c1 % d1) * d2 + c2 % d2) * d3 + c3 % d3;
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
      case BIN_DIV: v = x / y; break;
      case BIN_MAXIMUM: v = x >= y ? x : y; break;
      case BIN_MINIMUM: v = x <= y ? x : y; break;
      default: v = (x - y) * (x - y); break;
    }
    out[i] = v;
  }
}

// Data gradient of a broadcast binary op with respect to one side (wrtA 1: a, 0: b): the
// gradient g (g0..g3) is dy (y0..y3) times the partial derivative, summed (in double) over the
// dims where g has 1 and dy more. a/b values (needed by every kind but ADD and SUB; may be null
// for those) are read with the modulo rule, so they can have the forward batch N while dy has K·N.
// TensorFlow's forms: MUL da = dy·b, db = dy·a; DIV da = dy/b, db = dy·((−a/b)/b); MAXIMUM
// (MINIMUM) dy to a where a >= b (a <= b), else to b; SQUARED_DIFFERENCE da = dy·(2·(a−b)), db = −da.
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
            // dy (K·N rows) may exceed 2^31 elements (the host bounds only g): 64-bit index
            float gy = dy[(((size_t)d0 * y1 + d1) * y2 + d2) * y3 + d3];
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
              } else if (kind == BIN_DIV) {
                v = wrtA ? gy / bv : gy * ((-av / bv) / bv);
              } else if (kind == BIN_MAXIMUM) {
                v = ((av >= bv) == (wrtA != 0)) ? gy : 0.0f;
              } else if (kind == BIN_MINIMUM) {
                v = ((av <= bv) == (wrtA != 0)) ? gy : 0.0f;
              } else {
                float t = gy * (2.0f * (av - bv));
                v = wrtA ? t : -t;
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

// acc += x (gradients of a value read by several consumers).
extern "C" __global__ void add_inplace(float* acc, const float* x, int total) {
  GRID_STRIDE(i, total) { acc[i] = acc[i] + x[i]; }
}
