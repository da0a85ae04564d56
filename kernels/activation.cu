// activation.cu — the pointwise activations of the IR and their data gradients (TensorFlow's rules).
//
//   activation_fwd   y = act(x):  Relu max(x,0) · Relu6 min(max(x,0),6) · LeakyRelu x>0 ? x : α·x ·
//                                 Elu x>0 ? x : expm1(x) · Sigmoid 1/(1+exp(−x)) · Tanh tanh(x)
//                                 (Elu, Sigmoid, Tanh evaluated in double, rounded once to float)
//   activation_bwd   dx = dy·act'(v), v the forward input x (Relu: 0 at x == 0; Relu6: 0 at x == 0
//                    and x == 6; LeakyRelu) or the output y (Elu: dy·(y+1) for y < 0; Sigmoid
//                    dy·y(1−y); Tanh dy·(1−y²)), float arithmetic in this order.
//   guided_relu_bwd  guided backpropagation (Springenberg et al.): the ReLU passes the gradient only
//                    where both its input x > 0 and the incoming gradient dy > 0 (Relu6: also x < 6):
//                    dx = (dy > 0 && 0 < x [< 6]) ? dy : 0. Only for ACT_RELU and ACT_RELU6.
//
// Shapes: x, y (total); dy, dx (total = K·valueTotal), v (valueTotal): gradient element i reads
// v[i % valueTotal] (the K targets of the backward are tiled over the forward batch).
// Kind codes: ACT_* below, = dev.segcam.ir.Op.ActivationKind.code.
//
// Launch: one thread per element, block 256, grid-stride, grid = min(ceil(total/256), 65535)
// (CudaGraphOps). No reductions.
// Twins: dev.segcam.kernels.ActivationKernels.activation_fwd / activation_bwd / guided_relu_bwd.
#include "common.cuh"

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

// Guided ReLU gradient: x is the forward input (valueTotal, tiled over the K targets), kind
// ACT_RELU or ACT_RELU6. A negative incoming gradient is cut as well as a closed unit, so the
// input-space map keeps only what raises the score through every ReLU (Springenberg et al.).
extern "C" __global__ void guided_relu_bwd(float* dx, const float* dy, const float* x, int total,
                                           int valueTotal, int kind) {
  GRID_STRIDE(i, total) {
    float g = dy[i];
    float a = x[i % valueTotal];
    bool open = kind == ACT_RELU6 ? (a > 0.f && a < 6.f) : a > 0.f;
    dx[i] = (open && g > 0.f) ? g : 0.f;
  }
}
