package dev.segcam.backend.cpu;

import dev.segcam.ir.Contraction;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.MatMulKernels;
import java.util.List;

/**
 * The CPU rules of {@link Op.BatchMatMul} (the product of two activations) over its kernel twin
 * {@link MatMulKernels}; registered in {@link CpuOpTable}.
 */
final class CpuMatMulOps {
  private CpuMatMulOps() {}

  /** Multiply-adds per parallel task. */
  private static final int CHUNK_WORK = 1 << 16;

  static FloatTensor forward(CpuEngine e, Op.BatchMatMul op, List<FloatTensor> in, Shape out) {
    FloatTensor a = in.get(0);
    FloatTensor b = in.get(1);
    Contraction.Geometry g = Contraction.geometry(op, a.shape(), b.shape());
    float[] c = Arena.zeros(g.total());
    product(e.parallel(), c, MatMulKernels.forward(op, g, a.data(), b.data()));
    return new FloatTensor(out, c);
  }

  static void backward(CpuBackward.Step s, Op.BatchMatMul op) {
    String[] names = {s.node.inputs().get(0), s.node.inputs().get(1)};
    FloatTensor a = s.value(names[0]);
    FloatTensor b = s.value(names[1]);
    FloatTensor[] values = {a, b};
    for (int side = 0; side < 2; side++) {
      if (s.want[side]) {
        Shape gs = s.gradShape(names[side]);
        float[] dx = Arena.zeros(gs.size());
        float[] other = values[1 - side].data();
        product(
            s.pool(), dx, MatMulKernels.gradient(op, side, a.shape(), b.shape(), s.b, s.dy, other));
        s.dx[side] = new FloatTensor(gs, dx);
      }
    }
  }

  /** c (batch·m rows of n) = batch_matmul of o, parallel over rows. */
  private static void product(Parallel par, float[] c, MatMulKernels.Operands<float[]> o) {
    int rows = c.length / o.call().n();
    int rowWork = Math.max(1, o.call().n() * o.call().k());
    par.parallelFor(
        rows,
        Math.max(1, CHUNK_WORK / rowWork),
        (lo, hi) -> MatMulKernels.batch_matmul_rows(c, o, lo, hi));
  }
}
