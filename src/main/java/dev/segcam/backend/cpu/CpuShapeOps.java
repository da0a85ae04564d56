package dev.segcam.backend.cpu;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.ir.Slicing;
import dev.segcam.kernels.ReduceKernels;
import dev.segcam.kernels.StridedSliceKernels;
import dev.segcam.kernels.TransposeKernels;
import java.util.List;

/**
 * The CPU rules of the ops that move activations around (StridedSlice/Slice) or reduce them
 * (Sum/Mean/Max/Min), over their kernel twins; registered in {@link CpuOpTable}.
 */
final class CpuShapeOps {
  private CpuShapeOps() {}

  /** Elements per parallel task of a copy kernel. */
  private static final int CHUNK = 1 << 14;

  /** The rank-5 views of a strided slice of x: {count, x dims, start, step}. */
  private static int[][] sliceViews(Op.StridedSlice op, Shape x) {
    Slicing.Geometry g = Slicing.geometry(op, x);
    return new int[][] {
      StridedSliceKernels.pad5(g.count(), 1),
      StridedSliceKernels.pad5(x.dims(), 1),
      StridedSliceKernels.pad5(g.start(), 0),
      StridedSliceKernels.pad5(g.step(), 1)
    };
  }

  static FloatTensor stridedSlice(
      CpuEngine e, Op.StridedSlice op, List<FloatTensor> in, Shape out) {
    FloatTensor x = in.get(0);
    int[][] v = sliceViews(op, x.shape());
    float[] y = Arena.zeros(out.size());
    e.parallel()
        .parallelFor(
            y.length,
            CHUNK,
            (lo, hi) ->
                StridedSliceKernels.stridedSliceFwdRange(
                    y, x.data(), v[0], v[1], v[2], v[3], lo, hi));
    return new FloatTensor(out, y);
  }

  static void stridedSliceGrad(CpuBackward.Step s, Op.StridedSlice op) {
    Shape xs = s.gradShape(s.in0);
    int[][] v = sliceViews(op, xs);
    float[] dx = Arena.zeros(xs.size());
    s.pool()
        .parallelFor(
            dx.length,
            CHUNK,
            (lo, hi) ->
                StridedSliceKernels.stridedSliceBwdRange(dx, s.dy, v[1], v[0], v[2], v[3], lo, hi));
    s.dx[0] = new FloatTensor(xs, dx);
  }

  static FloatTensor reduce(CpuEngine e, Op.Reduce op, List<FloatTensor> in, Shape out) {
    FloatTensor x = in.get(0);
    int[] xd = StridedSliceKernels.pad5(x.shape().dims(), 1);
    int[] m = ReduceKernels.flags(op.axesMask(), x.shape().rank());
    float[] y = Arena.zeros(out.size());
    e.parallel()
        .parallelFor(
            y.length,
            1,
            (lo, hi) -> ReduceKernels.reduceFwdRange(y, x.data(), op.kind().code, xd, m, lo, hi));
    return new FloatTensor(out, y);
  }

  static void reduceGrad(CpuBackward.Step s, Op.Reduce op) {
    Shape xs = s.gradShape(s.in0);
    int[] xd = StridedSliceKernels.pad5(xs.dims(), 1);
    int[] m = ReduceKernels.flags(op.axesMask(), xs.rank());
    float[] dx = Arena.zeros(xs.size());
    if (op.kind().extreme()) {
      float[] x = s.value(s.in0).data();
      float[] y = s.value(s.node.name()).data();
      s.pool()
          .parallelFor(
              dx.length,
              CHUNK,
              (lo, hi) ->
                  ReduceKernels.reduceExtremeBwdRange(dx, s.dy, x, y, x.length, xd, m, lo, hi));
    } else {
      s.pool()
          .parallelFor(
              dx.length,
              CHUNK,
              (lo, hi) -> ReduceKernels.reduceBwdRange(dx, s.dy, op.kind().code, xd, m, lo, hi));
    }
    s.dx[0] = new FloatTensor(xs, dx);
  }

  static FloatTensor transpose(CpuEngine e, Op.Transpose op, List<FloatTensor> in, Shape out) {
    return new FloatTensor(
        out, transposeData(e.parallel(), in.get(0).data(), in.get(0).shape(), op.perm(), out));
  }

  static void transposeGrad(CpuBackward.Step s, Op.Transpose op) {
    Shape xs = s.gradShape(s.in0);
    s.dx[0] =
        new FloatTensor(
            xs, transposeData(s.pool(), s.dy, s.ds, TransposeKernels.inverse(op.perm()), xs));
  }

  private static float[] transposeData(
      Parallel pool, float[] x, Shape xs, List<Integer> perm, Shape out) {
    int[] o = StridedSliceKernels.pad5(out.dims(), 1);
    int[] p = TransposeKernels.permutedStrides(xs.dims(), perm);
    float[] y = Arena.zeros(out.size());
    pool.parallelFor(
        y.length, CHUNK, (lo, hi) -> TransposeKernels.transposeRange(y, x, o, p, lo, hi));
    return y;
  }
}
