package dev.segcam.kernels;

import dev.segcam.ir.ShapeException;
import java.util.Arrays;

/**
 * Tensors of any rank seen as the rank-4 tensors that the layout kernels (binary.cu, concat_pad.cu)
 * take: dims right-aligned with leading 1s, and above rank 4 adjacent axes folded into one wherever
 * that leaves every index the same. A shape that cannot be folded to rank 4 is a {@link
 * ShapeException} naming the shapes.
 */
public final class Dims4 {
  private Dims4() {}

  /** The rank every view has. */
  public static final int RANK = 4;

  /**
   * Rank-4 views of a broadcast op's output and operands. An operand is read by modulo (an axis of
   * size 1 broadcasts; a batch N against K·N tiles); a {@code strict} operand must have each axis 1
   * or equal to the output's, and stays so after folding (a reduced gradient: the binary_bwd kernel
   * sums over the axes where it is 1).
   *
   * @return the output's view, then each operand's, each of length 4
   */
  public static int[][] broadcast(int[] out, int[][] operands, boolean[] strict) {
    int r = out.length;
    int[][] all = new int[operands.length + 1][];
    all[0] = out.clone();
    for (int k = 0; k < operands.length; k++) {
      if (operands[k].length > r) {
        throw new ShapeException(
            "operand " + Arrays.toString(operands[k]) + " has a higher rank than " + dimsOf(out));
      }
      all[k + 1] = new int[r];
      Arrays.fill(all[k + 1], 1);
      System.arraycopy(operands[k], 0, all[k + 1], r - operands[k].length, operands[k].length);
    }
    while (all[0].length > RANK) {
      int d = foldableAxis(all, strict);
      if (d < 0) {
        throw new ShapeException(
            "broadcast of "
                + Arrays.deepToString(operands)
                + " to "
                + dimsOf(out)
                + " does not fold to rank "
                + RANK);
      }
      for (int k = 0; k < all.length; k++) {
        all[k] = fold(all[k], d, all[k][d] * all[k][d + 1]);
      }
    }
    for (int k = 0; k < all.length; k++) {
      all[k] = aligned(all[k], 1);
    }
    return all;
  }

  /** The first axis d that can merge with d+1 in every view (d = -1 when none). */
  private static int foldableAxis(int[][] all, boolean[] strict) {
    int[] out = all[0];
    for (int d = 0; d + 1 < out.length; d++) {
      boolean ok = true;
      for (int k = 1; k < all.length && ok; k++) {
        int[] v = all[k];
        boolean ones = v[d] == 1 && v[d + 1] == 1;
        boolean tail = v[d + 1] == out[d + 1] && (!strict[k - 1] || v[d] == out[d]);
        ok = ones || tail;
      }
      if (ok) {
        return d;
      }
    }
    return -1;
  }

  /**
   * Rank-4 views of a constant pad: {x, out, before}. Above rank 4, an axis without padding folds
   * into the axis before it (its leading pad scaled by the folded length).
   */
  public static int[][] pad(int[] x, int[] before, int[] after) {
    int[] xd = x.clone();
    int[] b = before.clone();
    int[] a = after.clone();
    while (xd.length > RANK) {
      int d = 1;
      while (d < xd.length && (b[d] != 0 || a[d] != 0)) {
        d++;
      }
      if (d == xd.length) {
        throw new ShapeException(
            "pad of "
                + dimsOf(x)
                + " with "
                + Arrays.toString(before)
                + "/"
                + Arrays.toString(after)
                + " does not fold to rank "
                + RANK
                + " (an unpadded axis folds only into the axis before it)");
      }
      int len = xd[d];
      b = fold(b, d - 1, b[d - 1] * len);
      a = fold(a, d - 1, a[d - 1] * len);
      xd = fold(xd, d - 1, xd[d - 1] * len);
    }
    int[] x4 = aligned(xd, 1);
    int[] p4 = aligned(b, 0);
    int[] a4 = aligned(a, 0);
    int[] o4 = new int[RANK];
    for (int d = 0; d < RANK; d++) {
      o4[d] = x4[d] + p4[d] + a4[d];
    }
    return new int[][] {x4, o4, p4};
  }

  /** dims with axes d and d+1 replaced by one axis of size merged. */
  private static int[] fold(int[] dims, int d, int merged) {
    int[] out = new int[dims.length - 1];
    System.arraycopy(dims, 0, out, 0, d);
    out[d] = merged;
    System.arraycopy(dims, d + 2, out, d + 1, dims.length - d - 2);
    return out;
  }

  /** dims (rank <= 4) right-aligned to rank 4, led by fill. */
  private static int[] aligned(int[] dims, int fill) {
    int[] out = new int[RANK];
    Arrays.fill(out, fill);
    System.arraycopy(dims, 0, out, RANK - dims.length, dims.length);
    return out;
  }

  private static String dimsOf(int[] dims) {
    return Arrays.toString(dims);
  }
}
