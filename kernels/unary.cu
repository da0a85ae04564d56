// unary.cu — element-wise math on one activation (the IR's Unary: Neg, Abs, Square, Sqrt, Rsqrt,
// Log, Pow with a constant exponent, Selu, Softplus, Erf) and their data gradients. One file with
// kind codes (as activation.cu) rather than one file per op: adding a unary op is one case here,
// one in the twin and one UnaryKind constant.
//
//   fwd  y = f(x)                  transcendental functions in double, rounded once to float
//   bwd  dx = dy · f'(v)           v is x or y, as TensorFlow's gradient reads it (UnaryKind):
//     NEG      -x                 dx = -dy
//     ABS      |x|                dx = dy · sign(x)                 (sign(0) = 0)
//     SQUARE   x·x                dx = dy · (2·x)                   (SquareGrad)
//     SQRT     sqrt(x)            dx = (0.5·dy) / y                 (SqrtGrad, reads y)
//     RSQRT    1/sqrt(x)          dx = (-0.5·(dy·y))·(y·y)          (RsqrtGrad, reads y)
//     LOG      log(x)             dx = dy · (1/x)
//     POW      x^p                dx = dy · (p · x^(p-1))           (PowGrad, p constant)
//     SELU     s·x | s·a·expm1(x) dx = y < 0 ? dy·(y + s·a) : dy·s  (SeluGrad, reads y)
//     SOFTPLUS log(1+e^x)         dx = dy / (1 + e^-x)              (SoftplusGrad)
//     ERF      erf(x)             dx = dy · (2/sqrt(pi) · e^(-x²))
//
// Shapes: fwd x (total) -> y (total); bwd dy (total), v (valueTotal) -> dx (total), v tiled over
// the K targets of a batched backward: gradient element i reads v[i % valueTotal] (NEG reads
// nothing; the host passes any valid buffer).
//
// Launch: one thread per element, block 256, grid-stride loop, grid = min(ceil(total/256), 65535)
// chosen by the host (CudaGraphOps.launchIn); int indexing (the host refuses 2^31 elements).
// Summation order: none (no reductions).
// Twins: dev.segcam.kernels.UnaryKernels.unary_fwd / unary_bwd.
#include "common.cuh"

#define UN_NEG 0
#define UN_ABS 1
#define UN_SQUARE 2
#define UN_SQRT 3
#define UN_RSQRT 4
#define UN_LOG 5
#define UN_POW 6
#define UN_SELU 7
#define UN_SOFTPLUS 8
#define UN_ERF 9

// SELU's constants (Klambauer et al.), as TensorFlow's Selu kernel.
#define SELU_SCALE 1.0507009873554804934193349852946
#define SELU_SCALE_ALPHA (1.0507009873554804934193349852946 * 1.6732632423543772848170429916717)
#define TWO_OVER_SQRT_PI 1.1283791670955125738961589031215

extern "C" __global__ void unary_fwd(float* y, const float* x, int total, int kind, float p) {
  GRID_STRIDE(i, total) {
    float v = x[i];
    double d = (double)v;
    float r;
    switch (kind) {
      case UN_NEG: r = -v; break;
      case UN_ABS: r = fabsf(v); break;
      case UN_SQUARE: r = v * v; break;
      case UN_SQRT: r = (float)sqrt(d); break;
      case UN_RSQRT: r = (float)(1.0 / sqrt(d)); break;
      case UN_LOG: r = (float)log(d); break;
      case UN_POW: r = (float)pow(d, (double)p); break;
      case UN_SELU: r = v > 0.0f ? (float)(SELU_SCALE * d) : (float)(SELU_SCALE_ALPHA * expm1(d)); break;
      case UN_SOFTPLUS: r = (float)(d > 0.0 ? d + log1p(exp(-d)) : log1p(exp(d))); break;
      default: r = (float)erf(d); break;
    }
    y[i] = r;
  }
}

extern "C" __global__ void unary_bwd(float* dx, const float* dy, const float* v, int total,
                                     int valueTotal, int kind, float p) {
  GRID_STRIDE(i, total) {
    float g = dy[i];
    float r;
    if (kind == UN_NEG) {
      r = -g;
    } else {
      float u = v[i % valueTotal];
      double d = (double)u;
      switch (kind) {
        case UN_ABS: r = u > 0.0f ? g : (u < 0.0f ? -g : 0.0f); break;
        case UN_SQUARE: r = g * (2.0f * u); break;
        case UN_SQRT: r = (0.5f * g) / u; break;
        case UN_RSQRT: r = (-0.5f * (g * u)) * (u * u); break;
        case UN_LOG: r = g * (1.0f / u); break;
        case UN_POW: r = g * (p * (float)pow(d, (double)p - 1.0)); break;
        case UN_SELU: r = u < 0.0f ? g * (u + (float)SELU_SCALE_ALPHA) : g * (float)SELU_SCALE; break;
        case UN_SOFTPLUS: r = (float)((double)g / (1.0 + exp(-d))); break;
        default: r = g * (float)(TWO_OVER_SQRT_PI * exp(-d * d)); break;
      }
    }
    dx[i] = r;
  }
}
