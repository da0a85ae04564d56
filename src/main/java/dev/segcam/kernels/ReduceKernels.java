package dev.segcam.kernels;

/**
 * Java twins of kernels/reduce.cu (same names and order; the kernels' five dims x0..x4 and flags
 * m0..m4 travel as the arrays xd and m): Sum and Mean over the axes flagged in m (rank-5 padded),
 * and their gradients. The CPU engine runs the range variants in parallel.
 */
public final class ReduceKernels {
  private ReduceKernels() {}

  /** RED_SUM in kernels/reduce.cu ({@code Op.ReduceKind.SUM.code}). */
  public static final int RED_SUM = 0;

  /** RED_MEAN in kernels/reduce.cu ({@code Op.ReduceKind.MEAN.code}). */
  public static final int RED_MEAN = 1;

  /** RED_MAX in kernels/reduce.cu ({@code Op.ReduceKind.MAX.code}). */
  public static final int RED_MAX = 2;

  /** RED_MIN in kernels/reduce.cu ({@code Op.ReduceKind.MIN.code}). */
  public static final int RED_MIN = 3;

  private static final int RANK = StridedSliceKernels.RANK;

  /** {@code // x (x0..x4) -> y (x with the flagged axes at 1) = Σ or mean over them}. */
  public static void reduce_fwd(float[] y, float[] x, int kind, int[] xd, int[] m) {
    reduceFwdRange(y, x, kind, xd, m, 0, outTotal(xd, m));
  }

  /** The number of output elements of a reduction of xd over m. */
  public static int outTotal(int[] xd, int[] m) {
    int total = 1;
    for (int d = 0; d < RANK; d++) {
      total *= m[d] != 0 ? 1 : xd[d];
    }
    return total;
  }

  private static int count(int[] xd, int[] m) {
    int count = 1;
    for (int d = 0; d < RANK; d++) {
      count *= m[d] != 0 ? xd[d] : 1;
    }
    return count;
  }

  /** {@link #reduce_fwd} on output elements [lo, hi). */
  public static void reduceFwdRange(
      float[] y, float[] x, int kind, int[] xd, int[] m, int lo, int hi) {
    int count = count(xd, m);
    int[] c = new int[RANK];
    for (int i = lo; i < hi; i++) {
      int r = i;
      for (int d = RANK - 1; d >= 0; d--) {
        int od = m[d] != 0 ? 1 : xd[d];
        c[d] = r % od;
        r /= od;
      }
      double acc = 0;
      float ext = kind == RED_MAX ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY;
      for (int k = 0; k < count; k++) {
        float v = x[groupElement(c, k, xd, m)];
        acc += v;
        if (kind == RED_MAX ? v > ext : v < ext) {
          ext = v;
        }
      }
      y[i] = kind == RED_MEAN ? (float) (acc / count) : kind == RED_SUM ? (float) acc : ext;
    }
  }

  /** {@code // dy (x with the flagged axes at 1) -> dx (x0..x4)}: dy, or dy / count for Mean. */
  public static void reduce_bwd(float[] dx, float[] dy, int kind, int[] xd, int[] m) {
    reduceBwdRange(dx, dy, kind, xd, m, 0, StridedSliceKernels.total(xd));
  }

  /** {@link #reduce_bwd} on gradient elements [lo, hi). */
  public static void reduceBwdRange(
      float[] dx, float[] dy, int kind, int[] xd, int[] m, int lo, int hi) {
    float count = count(xd, m);
    for (int i = lo; i < hi; i++) {
      int r = i;
      int o = 0;
      int stride = 1;
      for (int d = RANK - 1; d >= 0; d--) {
        int at = r % xd[d];
        r /= xd[d];
        if (m[d] == 0) {
          o += at * stride;
          stride *= xd[d];
        }
      }
      dx[i] = kind == RED_MEAN ? dy[o] / count : dy[o];
    }
  }

  /**
   * {@code // dy (x with the flagged axes at 1), x (xValueTotal, tiled), y (its Max/Min, tiled) ->
   * dx (x0..x4)}: (1 / n)·dy where x equals the group's extreme (n such elements), else 0.
   */
  public static void reduce_extreme_bwd(
      float[] dx, float[] dy, float[] x, float[] y, int xValueTotal, int[] xd, int[] m) {
    reduceExtremeBwdRange(dx, dy, x, y, xValueTotal, xd, m, 0, StridedSliceKernels.total(xd));
  }

  /** {@link #reduce_extreme_bwd} on gradient elements [lo, hi). */
  public static void reduceExtremeBwdRange(
      float[] dx,
      float[] dy,
      float[] x,
      float[] y,
      int xValueTotal,
      int[] xd,
      int[] m,
      int lo,
      int hi) {
    int count = count(xd, m);
    int yValueTotal = xValueTotal / count;
    int[] c = new int[RANK];
    for (int i = lo; i < hi; i++) {
      int r = i;
      int o = 0;
      int stride = 1;
      for (int d = RANK - 1; d >= 0; d--) {
        c[d] = r % xd[d];
        r /= xd[d];
        if (m[d] == 0) {
          o += c[d] * stride;
          stride *= xd[d];
        }
      }
      float e = y[o % yValueTotal];
      if (x[i % xValueTotal] != e) {
        dx[i] = 0f;
        continue;
      }
      int n = 0;
      for (int k = 0; k < count; k++) {
        n += x[groupElement(c, k, xd, m) % xValueTotal] == e ? 1 : 0;
      }
      dx[i] = (1f / n) * dy[o];
    }
  }

  /**
   * The flat index of the k-th element (row-major over the reduced axes) of the group whose
   * unreduced coordinates are c (group_element in reduce.cu).
   */
  private static int groupElement(int[] c, int k, int[] xd, int[] m) {
    int src = 0;
    int stride = 1;
    for (int d = RANK - 1; d >= 0; d--) {
      int at = c[d];
      if (m[d] != 0) {
        at = k % xd[d];
        k /= xd[d];
      }
      src += at * stride;
      stride *= xd[d];
    }
    return src;
  }

  /** The rank-5 reduced-axis flags of an axes bit mask on a rank-r input. */
  public static int[] flags(int axesMask, int rank) {
    int[] bits = new int[rank];
    for (int d = 0; d < rank; d++) {
      bits[d] = (axesMask >> d) & 1;
    }
    return StridedSliceKernels.pad5(bits, 0);
  }
}
