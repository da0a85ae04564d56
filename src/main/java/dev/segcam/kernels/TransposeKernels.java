package dev.segcam.kernels;

import java.util.List;

/**
 * Java twin of kernels/transpose.cu (same name and argument order): y (o, rank-5 padded) read from
 * x at the permuted input strides p. The CPU engine runs the range variant in parallel.
 */
public final class TransposeKernels {
  private TransposeKernels() {}

  private static final int RANK = StridedSliceKernels.RANK;

  /** {@code // y (o0..o4) = x at Σ c_d·p_d}. */
  public static void transpose_copy(
      float[] y,
      float[] x,
      int o0,
      int o1,
      int o2,
      int o3,
      int o4,
      int p0,
      int p1,
      int p2,
      int p3,
      int p4) {
    transposeRange(
        y,
        x,
        new int[] {o0, o1, o2, o3, o4},
        new int[] {p0, p1, p2, p3, p4},
        0,
        o0 * o1 * o2 * o3 * o4);
  }

  /** {@link #transpose_copy} on output elements [lo, hi). */
  public static void transposeRange(float[] y, float[] x, int[] o, int[] p, int lo, int hi) {
    for (int i = lo; i < hi; i++) {
      int r = i;
      int src = 0;
      for (int d = RANK - 1; d >= 0; d--) {
        src += (r % o[d]) * p[d];
        r /= o[d];
      }
      y[i] = x[src];
    }
  }

  /**
   * The rank-5 permuted input strides for the transpose of an input of dims xd by perm (output axis
   * d = input axis perm[d]).
   */
  public static int[] permutedStrides(int[] xd, List<Integer> perm) {
    int r = xd.length;
    int[] stride = new int[r];
    int s = 1;
    for (int d = r - 1; d >= 0; d--) {
      stride[d] = s;
      s *= xd[d];
    }
    int[] p = new int[r];
    for (int d = 0; d < r; d++) {
      p[d] = stride[perm.get(d)];
    }
    return StridedSliceKernels.pad5(p, 0);
  }

  /** The inverse permutation (the gradient's). */
  public static List<Integer> inverse(List<Integer> perm) {
    Integer[] inv = new Integer[perm.size()];
    for (int d = 0; d < inv.length; d++) {
      inv[perm.get(d)] = d;
    }
    return List.of(inv);
  }
}
