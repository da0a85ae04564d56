package dev.segcam.ir;

/**
 * The geometry of {@link Op.StridedSlice} (and the shapes of {@link Op.Reduce} and {@link
 * Op.Transpose}) on an input of known shape, with TensorFlow's rules: a negative begin/end counts
 * from the end, begin and end are clamped to the axis ([0, d] for a positive stride, [-1, d-1] for
 * a negative one), a masked begin/end is the whole range in the stride's direction, and a shrunk
 * axis takes the single element at begin (which must lie in the axis).
 */
public final class Slicing {
  private Slicing() {}

  /**
   * Per input axis: the first index read, the step, and the number of elements taken (the slice
   * before shrinking and new axes; its element order is the output's).
   */
  public record Geometry(int[] start, int[] step, int[] count) {}

  /** The geometry on input x (every dim known). */
  public static Geometry geometry(Op.StridedSlice op, Shape x) {
    int r = checkRank(op, x);
    int[] start = new int[r];
    int[] count = new int[r];
    for (int d = 0; d < r; d++) {
      long sc = axis(op, d, x.dim(d), x);
      start[d] = (int) (sc >> 32);
      count[d] = (int) sc;
    }
    return new Geometry(start, op.strides().clone(), count);
  }

  // the spec's rank must be the input's; returns it
  private static int checkRank(Op.StridedSlice op, Shape x) {
    int r = x.rank();
    if (op.begin().length != r) {
      throw new ShapeException(
          "StridedSlice spec for rank " + op.begin().length + " on input of rank " + r);
    }
    return r;
  }

  /** The output shape on x; axes of unknown size stay unknown (-1). */
  public static Shape outputShape(Op.StridedSlice op, Shape x) {
    int r = checkRank(op, x);
    int[] count = new int[r];
    for (int d = 0; d < r; d++) {
      if (x.dim(d) == Shape.UNKNOWN) {
        count[d] = bit(op.shrinkMask(), d) ? 1 : Shape.UNKNOWN;
      } else {
        count[d] = (int) axis(op, d, x.dim(d), x);
      }
    }
    int[] kept = new int[r - Integer.bitCount(op.shrinkMask() & ((1 << r) - 1))];
    int k = 0;
    for (int d = 0; d < r; d++) {
      if (!bit(op.shrinkMask(), d)) {
        kept[k++] = count[d];
      }
    }
    int[] out = new int[kept.length + op.newAxes().length];
    int from = 0;
    int nextNew = 0;
    for (int i = 0; i < out.length; i++) {
      if (nextNew < op.newAxes().length && op.newAxes()[nextNew] == i) {
        out[i] = 1;
        nextNew++;
      } else {
        out[i] = kept[from++];
      }
    }
    return Shape.of(out);
  }

  /** Axis d of length n: (start << 32) | count. */
  private static long axis(Op.StridedSlice op, int d, int n, Shape x) {
    int s = op.strides()[d];
    if (s == 0) {
      throw new ShapeException("StridedSlice stride 0 on axis " + d);
    }
    if (bit(op.shrinkMask(), d)) {
      int b = op.begin()[d] < 0 ? op.begin()[d] + n : op.begin()[d];
      if (b < 0 || b >= n) {
        throw new ShapeException(
            "StridedSlice index " + op.begin()[d] + " out of range for axis " + d + " of " + x);
      }
      return ((long) b << 32) | 1;
    }
    int lo = s > 0 ? 0 : -1;
    int hi = s > 0 ? n : n - 1;
    int b = bit(op.beginMask(), d) ? (s > 0 ? lo : hi) : clamp(op.begin()[d], n, lo, hi);
    int e = bit(op.endMask(), d) ? (s > 0 ? hi : lo) : clamp(op.end()[d], n, lo, hi);
    int len = s > 0 ? e - b : b - e;
    int abs = Math.abs(s);
    int count = len <= 0 ? 0 : (len + abs - 1) / abs;
    return ((long) b << 32) | count;
  }

  /** The output shape of a reduction on x (unknown dims stay unknown). */
  public static Shape reduced(Op.Reduce op, Shape x) {
    if (op.axesMask() >>> x.rank() != 0) {
      throw new ShapeException(
          op.type() + " axes mask " + Integer.toBinaryString(op.axesMask()) + " on " + x);
    }
    int[] out = new int[op.keepDims() ? x.rank() : x.rank() - Integer.bitCount(op.axesMask())];
    int k = 0;
    for (int d = 0; d < x.rank(); d++) {
      if (!bit(op.axesMask(), d)) {
        out[k++] = x.dim(d);
      } else if (op.keepDims()) {
        out[k++] = 1;
      }
    }
    return Shape.of(out);
  }

  /** The output shape of a transpose on x. */
  public static Shape transposed(Op.Transpose op, Shape x) {
    int r = x.rank();
    if (op.perm().size() != r) {
      throw new ShapeException("Transpose permutation " + op.perm() + " on " + x);
    }
    int[] out = new int[r];
    boolean[] seen = new boolean[r];
    for (int d = 0; d < r; d++) {
      int p = op.perm().get(d);
      if (p < 0 || p >= r || seen[p]) {
        throw new ShapeException("Transpose permutation " + op.perm() + " on " + x);
      }
      seen[p] = true;
      out[d] = x.dim(p);
    }
    return Shape.of(out);
  }

  /** Whether bit d of mask is set. */
  public static boolean bit(int mask, int d) {
    return (mask >> d & 1) != 0;
  }

  private static int clamp(int v, int n, int lo, int hi) {
    int a = v < 0 ? v + n : v;
    return Math.max(lo, Math.min(hi, a));
  }
}
