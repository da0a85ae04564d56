package dev.segcam.backend.cuda;

import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.ir.Slicing;
import dev.segcam.kernels.ReduceKernels;
import dev.segcam.kernels.StridedSliceKernels;
import dev.segcam.kernels.TransposeKernels;
import java.util.List;

/**
 * The CUDA rules of the ops that move activations around (StridedSlice/Slice) or reduce them
 * (Sum/Mean/Max/Min), over the one-op kernel files; registered in {@link CudaOpTable}.
 */
final class CudaShapeOps {
  private CudaShapeOps() {}

  static CudaTensor stridedSlice(CudaStep.Fwd s, Op.StridedSlice op) {
    Slicing.Geometry g = Slicing.geometry(op, s.xs());
    s.ops.launchIn(
        "strided_slice",
        "strided_slice_fwd",
        s.total(),
        args(
            s.y().buffer(),
            s.x(),
            StridedSliceKernels.pad5(g.count(), 1),
            StridedSliceKernels.pad5(s.xs().dims(), 1),
            g));
    return s.y;
  }

  static void stridedSliceGrad(CudaStep.Bwd s, Op.StridedSlice op) {
    Shape xs = s.gradShape(0);
    Slicing.Geometry g = Slicing.geometry(op, xs);
    s.ops.launchIn(
        "strided_slice",
        "strided_slice_bwd",
        xs.size(),
        args(
            s.alloc(0, xs),
            s.dy.buffer(),
            StridedSliceKernels.pad5(xs.dims(), 1),
            StridedSliceKernels.pad5(g.count(), 1),
            g));
  }

  /** out, in, the two rank-5 shapes, then start and step (the kernels' argument order). */
  private static Object[] args(
      DeviceBuffer out, DeviceBuffer in, int[] d1, int[] d2, Slicing.Geometry g) {
    int r = StridedSliceKernels.RANK;
    int[] b = StridedSliceKernels.pad5(g.start(), 0);
    int[] st = StridedSliceKernels.pad5(g.step(), 1);
    Object[] a = new Object[2 + 4 * r];
    a[0] = out;
    a[1] = in;
    for (int d = 0; d < r; d++) {
      a[2 + d] = d1[d];
      a[2 + r + d] = d2[d];
      a[2 + 2 * r + d] = b[d];
      a[2 + 3 * r + d] = st[d];
    }
    return a;
  }

  static CudaTensor reduce(CudaStep.Fwd s, Op.Reduce op) {
    s.ops.launchIn(
        "reduce", "reduce_fwd", s.total(), reduceArgs(s.y().buffer(), s.x(), op, s.xs()));
    return s.y;
  }

  static void reduceGrad(CudaStep.Bwd s, Op.Reduce op) {
    Shape xs = s.gradShape(0);
    if (op.kind().extreme()) {
      CudaTensor x = s.value(s.in0);
      CudaTensor y = s.value(s.node.name());
      Object[] a = reduceArgs(s.alloc(0, xs), s.dy.buffer(), op, xs);
      Object[] e = new Object[a.length + 2];
      e[0] = a[0];
      e[1] = a[1];
      e[2] = x.buffer();
      e[3] = y.buffer();
      e[4] = x.size();
      System.arraycopy(a, 3, e, 5, a.length - 3);
      s.ops.launchIn("reduce", "reduce_extreme_bwd", xs.size(), e);
      return;
    }
    s.ops.launchIn(
        "reduce", "reduce_bwd", xs.size(), reduceArgs(s.alloc(0, xs), s.dy.buffer(), op, xs));
  }

  /** out, in, kind, the rank-5 input (or gradient) shape, the reduced-axis flags. */
  private static Object[] reduceArgs(DeviceBuffer out, DeviceBuffer in, Op.Reduce op, Shape xs) {
    int r = StridedSliceKernels.RANK;
    int[] xd = StridedSliceKernels.pad5(xs.dims(), 1);
    int[] m = ReduceKernels.flags(op.axesMask(), xs.rank());
    Object[] a = new Object[3 + 2 * r];
    a[0] = out;
    a[1] = in;
    a[2] = op.kind().code;
    for (int d = 0; d < r; d++) {
      a[3 + d] = xd[d];
      a[3 + r + d] = m[d];
    }
    return a;
  }

  static CudaTensor transpose(CudaStep.Fwd s, Op.Transpose op) {
    launchTranspose(s.ops, s.y().buffer(), s.x(), s.xs(), op.perm(), s.out);
    return s.y;
  }

  static void transposeGrad(CudaStep.Bwd s, Op.Transpose op) {
    Shape xs = s.gradShape(0);
    launchTranspose(
        s.ops, s.alloc(0, xs), s.dy.buffer(), s.ds, TransposeKernels.inverse(op.perm()), xs);
  }

  private static void launchTranspose(
      CudaGraphOps ops, DeviceBuffer y, DeviceBuffer x, Shape xs, List<Integer> perm, Shape out) {
    int[] o = StridedSliceKernels.pad5(out.dims(), 1);
    int[] p = TransposeKernels.permutedStrides(xs.dims(), perm);
    ops.launchIn(
        "transpose",
        "transpose_copy",
        out.size(),
        y,
        x,
        o[0],
        o[1],
        o[2],
        o[3],
        o[4],
        p[0],
        p[1],
        p[2],
        p[3],
        p[4]);
  }
}
