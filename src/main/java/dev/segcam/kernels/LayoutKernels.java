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
  public static void concat_copy(
      float[] big,
      float[] part,
      int outer,
      int inAxis,
      int inner,
      int outAxis,
      int offset,
      boolean backward) {
    concatCopyRows(big, part, 0, outer, inAxis, inner, outAxis, offset, backward);
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

  private static int bcastIndex(int[] c, int[] d) {
    return ((c[0] % d[0] * d[1] + c[1] % d[1]) * d[2] + c[2] % d[2]) * d[3] + c[3] % d[3];
  }

  private static void coords(int i, int[] d, int[] c) {
    c[3] = i % d[3];
    int r = i / d[3];
    c[2] = r % d[2];
    r /= d[2];
    c[1] = r % d[1];
    c[0] = r / d[1];
  }

  /**
   * {@code // a (a dims), b (b dims) -> out (o dims)}, rank-4, broadcasting by modulo; kind is
   * {@link Op.BinaryKind#code} (BIN_* in the .cu sources).
   */
  public static void binary_fwd(
      float[] out, float[] a, float[] b, int kind, int[] o, int[] ad, int[] bd) {
    Op.BinaryKind k = Op.BinaryKind.ofCode(kind);
    int[] c = new int[4];
    for (int i = 0; i < o[0] * o[1] * o[2] * o[3]; i++) {
      coords(i, o, c);
      float x = a[bcastIndex(c, ad)];
      float y = b[bcastIndex(c, bd)];
      out[i] = binaryOp(k, x, y);
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
    Op.BinaryKind k = Op.BinaryKind.ofCode(kind);
    int[] red = new int[4];
    for (int d = 0; d < 4; d++) {
      red[d] = gd[d] == yd[d] ? 1 : yd[d];
    }
    int[] c = new int[4];
    int[] e = new int[4];
    int[] dc = new int[4];
    int span = red[0] * red[1] * red[2] * red[3];
    for (int i = 0; i < gd[0] * gd[1] * gd[2] * gd[3]; i++) {
      coords(i, gd, c);
      double acc = 0;
      for (int j = 0; j < span; j++) {
        coords(j, red, e);
        for (int d = 0; d < 4; d++) {
          dc[d] = red[d] == 1 ? c[d] : e[d];
        }
        float gy = dy[((dc[0] * yd[1] + dc[1]) * yd[2] + dc[2]) * yd[3] + dc[3]];
        float av = k.gradReadsValues ? a[bcastIndex(dc, ad)] : 0f;
        float bv = k.gradReadsValues ? b[bcastIndex(dc, bd)] : 0f;
        acc += binaryPartial(k, wrtA, gy, av, bv);
      }
      g[i] = (float) acc;
    }
  }

  /** {@code // x (x dims) -> out (o dims)}, x placed at p, the rest = value. */
  public static void pad_fwd(float[] out, float[] x, float value, int[] o, int[] xd, int[] p) {
    int[] c = new int[4];
    for (int i = 0; i < o[0] * o[1] * o[2] * o[3]; i++) {
      coords(i, o, c);
      boolean in = true;
      for (int d = 0; d < 4; d++) {
        c[d] -= p[d];
        in &= c[d] >= 0 && c[d] < xd[d];
      }
      out[i] = in ? x[((c[0] * xd[1] + c[1]) * xd[2] + c[2]) * xd[3] + c[3]] : value;
    }
  }

  /** {@code // dy (y dims) -> dx (x dims)}, the window of dy at p. */
  public static void pad_bwd(float[] dx, float[] dy, int[] xd, int[] yd, int[] p) {
    int[] c = new int[4];
    for (int i = 0; i < xd[0] * xd[1] * xd[2] * xd[3]; i++) {
      coords(i, xd, c);
      dx[i] =
          dy[(((c[0] + p[0]) * yd[1] + c[1] + p[1]) * yd[2] + c[2] + p[2]) * yd[3] + c[3] + p[3]];
    }
  }

  /** {@code // acc (total) += x (total)} */
  public static void add_inplace(float[] acc, float[] x, int total) {
    for (int i = 0; i < total; i++) {
      acc[i] = acc[i] + x[i];
    }
  }
}
