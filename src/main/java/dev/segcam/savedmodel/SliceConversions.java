package dev.segcam.savedmodel;

import dev.segcam.ir.Op;
import dev.segcam.ir.Slicing;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * TensorFlow's Sum/Mean/Max/Min of an activation to {@link Op.Reduce}, Transpose to {@link
 * Op.Transpose}, and its StridedSlice and Slice to {@link Op.StridedSlice}: the sparse slice spec
 * (ellipsis, new-axis, shrink masks) expanded into one entry per input axis, as TensorFlow's own
 * dense-spec rule does. Errors are {@link IllegalArgumentException}s that the {@link Converter}
 * reports with the node.
 */
final class SliceConversions {
  private SliceConversions() {}

  /** StridedSlice(input of rank, begin, end, strides) with its five mask attributes. */
  static Op.StridedSlice stridedSlice(
      int rank,
      int[] begin,
      int[] end,
      int[] strides,
      int beginMask,
      int endMask,
      int ellipsisMask,
      int newAxisMask,
      int shrinkMask) {
    int n = begin.length;
    if (end.length != n || strides.length != n) {
      throw bad("begin, end and strides differ in length: %s, %s, %s", begin, end, strides);
    }
    if (Integer.bitCount(ellipsisMask) > 1) {
      throw new IllegalArgumentException("more than one ellipsis in the slice spec");
    }
    int consuming = 0;
    for (int i = 0; i < n; i++) {
      if (!Slicing.bit(ellipsisMask, i) && !Slicing.bit(newAxisMask, i)) {
        consuming++;
      }
    }
    if (consuming > rank) {
      throw new IllegalArgumentException(
          "slice spec indexes " + consuming + " axes of a rank-" + rank + " input");
    }
    int[] b = new int[rank];
    int[] e = new int[rank];
    int[] s = new int[rank];
    Arrays.fill(s, 1);
    int bm = 0;
    int em = 0;
    int sm = 0;
    List<Integer> newAxes = new ArrayList<>();
    int axis = 0;
    int outPos = 0;
    for (int i = 0; i < n; i++) {
      if (Slicing.bit(ellipsisMask, i)) {
        for (int k = 0; k < rank - consuming; k++) {
          bm |= 1 << axis;
          em |= 1 << axis;
          axis++;
          outPos++;
        }
      } else if (Slicing.bit(newAxisMask, i)) {
        newAxes.add(outPos++);
      } else {
        if (strides[i] == 0) {
          throw new IllegalArgumentException("stride 0 at index " + i);
        }
        b[axis] = begin[i];
        e[axis] = end[i];
        s[axis] = strides[i];
        bm |= Slicing.bit(beginMask, i) ? 1 << axis : 0;
        em |= Slicing.bit(endMask, i) ? 1 << axis : 0;
        if (Slicing.bit(shrinkMask, i)) {
          sm |= 1 << axis;
        } else {
          outPos++;
        }
        axis++;
      }
    }
    for (; axis < rank; axis++) { // no ellipsis: the remaining axes are taken whole
      bm |= 1 << axis;
      em |= 1 << axis;
    }
    boolean wholeBatch =
        rank > 0
            && s[0] == 1
            && !Slicing.bit(sm, 0)
            && (Slicing.bit(bm, 0) || b[0] == 0)
            && Slicing.bit(em, 0)
            && !newAxes.contains(0);
    if (!wholeBatch) {
      throw bad(
          "slicing the batch axis is not supported (begin %s, end %s, strides %s): the batch axis"
              + " must be taken whole",
          begin, end, strides);
    }
    return new Op.StridedSlice(
        b, e, s, bm, em, sm, newAxes.stream().mapToInt(Integer::intValue).toArray());
  }

  /** Slice(input of rank, begin, size): size -1 takes the rest of the axis. */
  static Op.StridedSlice slice(int rank, int[] begin, int[] size) {
    if (begin.length != rank || size.length != rank) {
      throw bad("begin %s and size %s must have the input's rank " + rank, begin, size);
    }
    int[] end = new int[rank];
    int em = 0;
    for (int d = 0; d < rank; d++) {
      if (begin[d] < 0 || size[d] < -1) {
        throw bad("Slice begin %s size %s", begin, size);
      }
      if (size[d] == -1) {
        em |= 1 << d;
      } else {
        end[d] = begin[d] + size[d];
      }
    }
    int[] ones = new int[rank];
    Arrays.fill(ones, 1);
    return stridedSlice(rank, begin, end, ones, 0, em, 0, 0, 0);
  }

  /** Sum/Mean/Max/Min over axes (negative count from the end) of a rank-r input. */
  static Op.Reduce reduce(Op.ReduceKind kind, int rank, int[] axes, boolean keepDims) {
    int mask = 0;
    for (int a : axes) {
      int d = a < 0 ? a + rank : a;
      if (d < 0 || d >= rank) {
        throw bad("axis " + a + " outside rank " + rank + " (axes %s)", axes);
      }
      mask |= 1 << d;
    }
    if (Slicing.bit(mask, 0)) {
      throw bad("reducing the batch axis is not supported (axes %s)", axes);
    }
    return new Op.Reduce(kind, mask, keepDims);
  }

  /** Transpose of a rank-r input by perm (a permutation that keeps the batch axis first). */
  static Op.Transpose transpose(int rank, int[] perm) {
    List<Integer> p = new ArrayList<>();
    boolean[] seen = new boolean[rank];
    String notPermutation = "perm %s is not a permutation of rank " + rank;
    if (perm.length != rank) {
      throw bad(notPermutation, perm);
    }
    for (int a : perm) {
      if (a < 0 || a >= rank || seen[a]) {
        throw bad(notPermutation, perm);
      }
      seen[a] = true;
      p.add(a);
    }
    if (rank > 0 && perm[0] != 0) {
      throw bad("moving the batch axis is not supported (perm %s)", perm);
    }
    return new Op.Transpose(List.copyOf(p));
  }

  /** The error {@code template} with each %s replaced by the next of {@code arrays}, as [a, b]. */
  private static IllegalArgumentException bad(String template, int[]... arrays) {
    Object[] shown = new Object[arrays.length];
    for (int i = 0; i < arrays.length; i++) {
      shown[i] = Arrays.toString(arrays[i]);
    }
    return new IllegalArgumentException(String.format(Locale.ROOT, template, shown));
  }
}
