package dev.segcam.backend.cuda;

import dev.segcam.ir.Contraction;
import dev.segcam.ir.Op;
import dev.segcam.kernels.MatMulKernels;

/**
 * The CUDA rules of {@link Op.BatchMatMul} (the product of two activations) over kernels/matmul.cu;
 * registered in {@link CudaOpTable}. The semantics are those of the CPU engine's CpuMatMulOps.
 */
final class CudaMatMulOps {
  private CudaMatMulOps() {}

  static CudaTensor forward(CudaStep.Fwd s, Op.BatchMatMul op) {
    Contraction.Geometry g = Contraction.geometry(op, s.xs(), s.in.get(1).shape());
    launch(s.ops, s.y().buffer(), MatMulKernels.forward(op, g, s.x(), s.in.get(1).buffer()));
    return s.y;
  }

  static void backward(CudaStep.Bwd s, Op.BatchMatMul op) {
    CudaTensor a = s.value(s.node.inputs().get(0));
    CudaTensor b = s.value(s.node.inputs().get(1));
    CudaTensor[] values = {a, b};
    for (int side = 0; side < 2; side++) {
      if (!s.want[side]) {
        continue;
      }
      DeviceBuffer dx = s.alloc(side, s.gradShape(side));
      DeviceBuffer other = values[1 - side].buffer();
      launch(
          s.ops,
          dx,
          MatMulKernels.gradient(op, side, a.shape(), b.shape(), s.b, s.dy.buffer(), other));
    }
  }

  /** c = batch_matmul of o: kernels/matmul.cu's flat arguments. */
  private static void launch(
      CudaGraphOps ops, DeviceBuffer c, MatMulKernels.Operands<DeviceBuffer> o) {
    MatMulKernels.Call call = o.call();
    int batch = Math.max(o.leftBatch(), o.rightBatch());
    int total = Math.multiplyExact(Math.multiplyExact(batch, call.m()), call.n());
    ops.launchIn(
        "matmul",
        "batch_matmul",
        total,
        c,
        o.left(),
        o.right(),
        total,
        call.m(),
        call.n(),
        call.k(),
        o.leftBatch(),
        o.rightBatch(),
        call.transA(),
        call.transB());
  }
}
