package dev.segcam.backend.cuda;

import dev.segcam.ir.Contraction;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.MatMulKernels;

/**
 * The CUDA rules of {@link Op.BatchMatMul} (the product of two activations) over kernels/matmul.cu;
 * registered in {@link CudaOpTable}. The semantics are those of the CPU engine's CpuMatMulOps.
 */
final class CudaMatMulOps {
  private CudaMatMulOps() {}

  static CudaTensor forward(CudaStep.Fwd s, Op.BatchMatMul op) {
    Contraction.Geometry g = Contraction.geometry(op, s.xs(), s.in.get(1).shape());
    launch(
        s.ops,
        s.y().buffer(),
        s.x(),
        s.in.get(1).buffer(),
        g.batch(),
        g.batch(),
        new MatMulKernels.Call(true, g.m(), g.n(), g.k(), flag(op.adjA()), flag(op.adjB())));
    return s.y;
  }

  static void backward(CudaStep.Bwd s, Op.BatchMatMul op) {
    CudaTensor a = s.value(s.node.inputs().get(0));
    CudaTensor b = s.value(s.node.inputs().get(1));
    Contraction.Geometry g = Contraction.geometry(op, a.shape(), b.shape());
    int gradBatch = g.batch() / a.shape().dim(0) * s.b;
    CudaTensor[] values = {a, b};
    for (int side = 0; side < 2; side++) {
      if (!s.want[side]) {
        continue;
      }
      MatMulKernels.Call call =
          MatMulKernels.gradient(side, op.adjA(), op.adjB(), g.m(), g.n(), g.k());
      DeviceBuffer other = values[1 - side].buffer();
      Shape gs = s.gradShape(side);
      DeviceBuffer dx = s.alloc(side, gs);
      if (call.dyLeft()) {
        launch(s.ops, dx, s.dy.buffer(), other, gradBatch, g.batch(), call);
      } else {
        launch(s.ops, dx, other, s.dy.buffer(), g.batch(), gradBatch, call);
      }
    }
  }

  private static void launch(
      CudaGraphOps ops,
      DeviceBuffer c,
      DeviceBuffer left,
      DeviceBuffer right,
      int leftBatch,
      int rightBatch,
      MatMulKernels.Call call) {
    int batch = Math.max(leftBatch, rightBatch);
    int total = Math.multiplyExact(Math.multiplyExact(batch, call.m()), call.n());
    ops.launchIn(
        "matmul",
        "batch_matmul",
        total,
        c,
        left,
        right,
        total,
        call.m(),
        call.n(),
        call.k(),
        leftBatch,
        rightBatch,
        call.transA(),
        call.transB());
  }

  private static int flag(boolean b) {
    return b ? 1 : 0;
  }
}
