package dev.segcam.kernels;

import dev.segcam.ir.Op;

/**
 * Java twins of the layout and broadcast ops of the CUDA backend (concat, broadcast binary ops,
 * pad, gradient accumulation), same names and argument order.
 *
 * <p>Graph-op twins (see {@link CpuKernels} for the conventions): flat row-major float arrays,
 * NHWC; backward kernels read forward values "tiled" (gradient element i reads value element i %
 * valueTotal, rows target-major over the K targets).
 */
public final class LayoutKernels {
  private LayoutKernels() {}

  /**
   * Concat as block copies: tensors viewed as (outer, axis, inner); part occupies [offset,
   * offset+inAxis) of big's outAxis. backward: part = that slice of big.
   *
   * <p>{@code // part (outer,inAxis,inner) <-> big (outer,outAxis,inner)}
   */
  public static void concat_copy(float[] big, float[] part, ConcatDims d, boolean backward) {
    concatCopyRows(
        big, part, 0, d.outer(), d.inAxis(), d.inner(), d.outAxis(), d.offset(), backward);
  }

  /** {@link #concat_copy} on outer rows [lo, hi): the CPU engine runs ranges in parallel. */
  public static void concatCopyRows(
      float[] big,
      float[] part,
      int lo,
      int hi,
      int inAxis,
      int inner,
      int outAxis,
      int offset,
      boolean backward) {
    int run = inAxis * inner;
    for (int o = lo; o < hi; o++) {
      int j = (o * outAxis + offset) * inner;
      if (backward) {
        System.arraycopy(big, j, part, o * run, run);
      } else {
        System.arraycopy(part, o * run, big, j, run);
      }
    }
  }

  /** Offset of coordinates (c0, c1, c2, 0) in a rank-4 tensor of dims d read by modulo. */
  private static int bcastBase(int c0, int c1, int c2, int[] d) {
    return ((c0 % d[0] * d[1] + c1 % d[1]) * d[2] + c2 % d[2]) * d[3];
  }

  /**
   * {@code // a (a dims), b (b dims) -> out (o dims)}, rank-4, broadcasting by modulo; kind is
   * {@link Op.BinaryKind#code} (BIN_* in the .cu sources).
   */
  public static void binary_fwd(
      float[] out, float[] a, float[] b, int kind, int[] o, int[] ad, int[] bd) {
    binary_fwd_rows(
        out, a, b, Op.BinaryKind.ofCode(kind), new int[][] {o, ad, bd}, 0, o[0] * o[1] * o[2]);
  }

  /**
   * {@link #binary_fwd} on rows [rowLo, rowHi) of the o0·o1·o2 rows (of o3) of out; views = {o, ad,
   * bd} as {@link Dims4#broadcast} gives them.
   */
  public static void binary_fwd_rows(
      float[] out, float[] a, float[] b, Op.BinaryKind k, int[][] views, int rowLo, int rowHi) {
    int[] o = views[0];
    int[] ad = views[1];
    int[] bd = views[2];
    for (int row = rowLo; row < rowHi; row++) {
      int c2 = row % o[2];
      int c1 = row / o[2] % o[1];
      int c0 = row / o[2] / o[1];
      int ia = bcastBase(c0, c1, c2, ad);
      int ib = bcastBase(c0, c1, c2, bd);
      for (int j = 0, i = row * o[3]; j < o[3]; j++, i++) {
        out[i] = binaryOp(k, a[ia + j % ad[3]], b[ib + j % bd[3]]);
      }
    }
  }

  /** a (op) b for one element: the forward of every {@link Op.BinaryKind}, as binary.cu. */
  public static float binaryOp(Op.BinaryKind k, float x, float y) {
    return switch (k) {
      case ADD -> x + y;
      case SUB -> x - y;
      case MUL -> x * y;
      case DIV -> x / y;
      case MAXIMUM -> x >= y ? x : y;
      case MINIMUM -> x <= y ? x : y;
      case SQUARED_DIFFERENCE -> (x - y) * (x - y);
    };
  }

  /**
   * dy times the partial of a (op) b with respect to one side, in TensorFlow's forms: MUL da =
   * dy·b, db = dy·a; DIV da = dy/b, db = dy·((−a/b)/b); MAXIMUM/MINIMUM route dy to a where a ≥ b
   * (a ≤ b), else to b; SQUARED_DIFFERENCE da = dy·(2·(a−b)), db = −da; ADD/SUB ±dy (a, b unread).
   */
  public static float binaryPartial(Op.BinaryKind k, boolean wrtA, float gy, float av, float bv) {
    return switch (k) {
      case ADD -> gy;
      case SUB -> wrtA ? gy : -gy;
      case MUL -> gy * (wrtA ? bv : av);
      case DIV -> wrtA ? gy / bv : gy * ((-av / bv) / bv);
      case MAXIMUM -> (av >= bv) == wrtA ? gy : 0f;
      case MINIMUM -> (av <= bv) == wrtA ? gy : 0f;
      case SQUARED_DIFFERENCE -> wrtA ? gy * (2f * (av - bv)) : -(gy * (2f * (av - bv)));
    };
  }

  /**
   * Gradient of a broadcast binary op for one side: dy times the partial, summed in double over the
   * dims where g is 1 and dy is not. a/b are read by modulo (tiled), null for ADD/SUB.
   *
   * <p>{@code // dy (y dims) -> g (g dims)}
   */
  public static void binary_bwd(
      float[] g,
      float[] dy,
      float[] a,
      float[] b,
      int kind,
      boolean wrtA,
      int[] gd,
      int[] yd,
      int[] ad,
      int[] bd) {
    int[][] views = {yd, gd, ad, bd};
    binary_bwd_rows(g, dy, a, b, Op.BinaryKind.ofCode(kind), wrtA, views, 0, gd[0] * gd[1] * gd[2]);
  }

  /**
   * {@link #binary_bwd} on rows [lo, hi) of the g0·g1·g2 rows (of g3) of g; v = {yd, gd, ad, bd} as
   * {@link Dims4#broadcast} gives them. Each element sums its reduced dims in row-major order, as
   * binary.cu.
   */
  public static void binary_bwd_rows(
      float[] g,
      float[] dy,
      float[] a,
      float[] b,
      Op.BinaryKind k,
      boolean wrtA,
      int[][] v,
      int lo,
      int hi) {
    int[] yd = v[0];
    int[] gd = v[1];
    int[] ad = v[2];
    int[] bd = v[3];
    int[] red = new int[4];
    for (int d = 0; d < 4; d++) {
      red[d] = gd[d] == yd[d] ? 1 : yd[d];
    }
    for (int row = lo; row < hi; row++) {
      int[] c = {row / gd[2] / gd[1], row / gd[2] % gd[1], row % gd[2], 0};
      for (int i = row * gd[3]; c[3] < gd[3]; c[3]++, i++) {
        double acc = 0;
        for (int e0 = 0; e0 < red[0]; e0++) {
          int d0 = red[0] == 1 ? c[0] : e0;
          for (int e1 = 0; e1 < red[1]; e1++) {
            int d1 = red[1] == 1 ? c[1] : e1;
            for (int e2 = 0; e2 < red[2]; e2++) {
              int d2 = red[2] == 1 ? c[2] : e2;
              int y = ((d0 * yd[1] + d1) * yd[2] + d2) * yd[3];
              int ia = k.gradReadsValues ? bcastBase(d0, d1, d2, ad) : 0;
              int ib = k.gradReadsValues ? bcastBase(d0, d1, d2, bd) : 0;
              for (int e3 = 0; e3 < red[3]; e3++) {
                int d3 = red[3] == 1 ? c[3] : e3;
                float av = k.gradReadsValues ? a[ia + d3 % ad[3]] : 0f;
                float bv = k.gradReadsValues ? b[ib + d3 % bd[3]] : 0f;
                acc += binaryPartial(k, wrtA, dy[y + d3], av, bv);
              }
            }
          }
        }
        g[i] = (float) acc;
      }
    }
  }

  /** {@code // x (x dims) -> out (o dims)}, x placed at p, the rest = value. */
  public static void pad_fwd(float[] out, float[] x, float value, int[] o, int[] xd, int[] p) {
    pad_fwd_rows(out, x, value, new int[][] {xd, o, p}, 0, o[0] * o[1] * o[2]);
  }

  /**
   * {@link #pad_fwd} on rows [rowLo, rowHi) of the o0·o1·o2 rows (of o3) of out; views = {xd, o, p}
   * as {@link Dims4#pad} gives them.
   */
  public static void pad_fwd_rows(
      float[] out, float[] x, float value, int[][] views, int rowLo, int rowHi) {
    int[] xd = views[0];
    int[] o = views[1];
    int[] p = views[2];
    for (int row = rowLo; row < rowHi; row++) {
      int c0 = row / o[2] / o[1] - p[0];
      int c1 = row / o[2] % o[1] - p[1];
      int c2 = row % o[2] - p[2];
      int at = row * o[3];
      boolean in = c0 >= 0 && c0 < xd[0] && c1 >= 0 && c1 < xd[1] && c2 >= 0 && c2 < xd[2];
      if (!in) {
        java.util.Arrays.fill(out, at, at + o[3], value);
        continue;
      }
      java.util.Arrays.fill(out, at, at + p[3], value);
      System.arraycopy(x, ((c0 * xd[1] + c1) * xd[2] + c2) * xd[3], out, at + p[3], xd[3]);
      java.util.Arrays.fill(out, at + p[3] + xd[3], at + o[3], value);
    }
  }

  /** {@code // dy (y dims) -> dx (x dims)}, the window of dy at p. */
  public static void pad_bwd(float[] dx, float[] dy, int[] xd, int[] yd, int[] p) {
    pad_bwd_rows(dx, dy, new int[][] {xd, yd, p}, 0, xd[0] * xd[1] * xd[2]);
  }

  /**
   * {@link #pad_bwd} on rows [rowLo, rowHi) of the x0·x1·x2 rows (of x3) of dx; views = {xd, yd, p}
   * as {@link Dims4#pad} gives them.
   */
  public static void pad_bwd_rows(float[] dx, float[] dy, int[][] views, int rowLo, int rowHi) {
    int[] xd = views[0];
    int[] yd = views[1];
    int[] p = views[2];
    for (int row = rowLo; row < rowHi; row++) {
      int c0 = row / xd[2] / xd[1] + p[0];
      int c1 = row / xd[2] % xd[1] + p[1];
      int c2 = row % xd[2] + p[2];
      int src = ((c0 * yd[1] + c1) * yd[2] + c2) * yd[3] + p[3];
      System.arraycopy(dy, src, dx, row * xd[3], xd[3]);
    }
  }

  /** {@code // acc (total) += x (total)} */
  public static void add_inplace(float[] acc, float[] x, int total) {
    for (int i = 0; i < total; i++) {
      acc[i] = acc[i] + x[i];
    }
  }
}
