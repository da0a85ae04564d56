package dev.segcam.kernels;

/**
 * Java twins of kernels/strided_slice.cu (same names and order; each group of five dims, c0..c4,
 * x0..x4, b0..b4, s0..s4, travels as one array of length {@link #RANK}): the slice c (rank-5
 * padded) of x taken from start b with step s, and its gradient. The CPU engine runs the range
 * variants in parallel.
 */
public final class StridedSliceKernels {
  private StridedSliceKernels() {}

  /** The kernels' rank: shapes are padded on the left to it. */
  public static final int RANK = 5;

  /** {@code // y (c0..c4) = x (x0..x4) at b + q·s}. */
  public static void strided_slice_fwd(float[] y, float[] x, int[] c, int[] xd, int[] b, int[] s) {
    stridedSliceFwdRange(y, x, c, xd, b, s, 0, total(c));
  }

  /**
   * {@link #strided_slice_fwd} on output elements [lo, hi); c, xd, b, s of length {@link #RANK}.
   */
  public static void stridedSliceFwdRange(
      float[] y, float[] x, int[] c, int[] xd, int[] b, int[] s, int lo, int hi) {
    for (int i = lo; i < hi; i++) {
      int r = i;
      int src = 0;
      int stride = 1;
      for (int d = RANK - 1; d >= 0; d--) {
        int q = r % c[d];
        r /= c[d];
        src += (b[d] + q * s[d]) * stride;
        stride *= xd[d];
      }
      y[i] = x[src];
    }
  }

  /** {@code // dx (x0..x4) = dy (c0..c4) where x = b + q·s, else 0}. */
  public static void strided_slice_bwd(
      float[] dx, float[] dy, int[] xd, int[] c, int[] b, int[] s) {
    stridedSliceBwdRange(dx, dy, xd, c, b, s, 0, total(xd));
  }

  /** {@link #strided_slice_bwd} on gradient elements [lo, hi). */
  public static void stridedSliceBwdRange(
      float[] dx, float[] dy, int[] xd, int[] c, int[] b, int[] s, int lo, int hi) {
    for (int i = lo; i < hi; i++) {
      int r = i;
      int src = 0;
      int stride = 1;
      boolean hit = true;
      for (int d = RANK - 1; d >= 0; d--) {
        int j = r % xd[d] - b[d];
        r /= xd[d];
        int q = j / s[d];
        hit = hit && j % s[d] == 0 && q >= 0 && q < c[d];
        src += q * stride;
        stride *= c[d];
      }
      dx[i] = hit ? dy[src] : 0f;
    }
  }

  /** The number of elements of dims d. */
  static int total(int[] d) {
    int t = 1;
    for (int v : d) {
      t *= v;
    }
    return t;
  }

  /** The rank-5 padding of per-axis values v (left-filled with fill). */
  public static int[] pad5(int[] v, int fill) {
    if (v.length > RANK) {
      throw new KernelArgumentException("strided slice of rank " + v.length + " > " + RANK);
    }
    int[] o = new int[RANK];
    int off = RANK - v.length;
    for (int d = 0; d < RANK; d++) {
      o[d] = d < off ? fill : v[d - off];
    }
    return o;
  }
}
