package dev.segcam.savedmodel;

import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.Converter.Act;
import dev.segcam.savedmodel.Converter.Val;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The TensorFlow ops that move, pick or reduce activation values without weights: Mean/Sum,
 * ResizeBilinear/ResizeNearestNeighbor, ConcatV2, Pad/PadV2, Reshape, Squeeze, ExpandDims,
 * StridedSlice/Slice and Transpose (the index rules of the last three in {@link SliceConversions}).
 * {@link Converter} dispatches here; errors name the node through it.
 */
final class LayoutConversions {
  private LayoutConversions() {}

  static Val mean(Converter cv) {
    String x = cv.act(0);
    int rank = cv.shapeOf(x).rank();
    int[] axes = cv.ints(cv.cst(1, "axes"));
    Set<Integer> set = new HashSet<>();
    for (int a : axes) {
      set.add(a < 0 ? a + rank : a);
    }
    if (rank == 4 && set.equals(Set.of(1, 2))) {
      return cv.emit(new Op.SpatialMean(cv.attrB("keep_dims", false)), x);
    }
    return reduce(cv, Op.ReduceKind.MEAN);
  }

  /** Sum / Mean over any axes but the batch (SliceConversions.reduce). */
  static Val reduce(Converter cv, Op.ReduceKind kind) {
    String x = cv.act(0);
    Shape xs = cv.shapeOf(x);
    try {
      return cv.emit(
          SliceConversions.reduce(
              kind, xs.rank(), cv.ints(cv.cst(1, "axes")), cv.attrB("keep_dims", false)),
          x);
    } catch (IllegalArgumentException e) {
      throw cv.error(kind.tfName + " on " + xs + ": " + e.getMessage());
    }
  }

  static Val resize(Converter cv) {
    String x = cv.act(0);
    int[] size = cv.ints(cv.cst(1, "size"));
    if (size.length != 2) {
      throw cv.error("size must hold 2 values, got " + Arrays.toString(size));
    }
    Op.ResizeMode mode =
        cv.current().op.equals("ResizeBilinear") ? Op.ResizeMode.BILINEAR : Op.ResizeMode.NEAREST;
    return cv.emit(
        new Op.Resize(
            mode,
            size[0],
            size[1],
            cv.attrB("align_corners", false),
            cv.attrB("half_pixel_centers", false)),
        x);
  }

  static Val concat(Converter cv) {
    int n = cv.current().inputs.size() - 1;
    int axis = cv.ints(cv.cst(n, "axis"))[0];
    List<String> xs = new ArrayList<>();
    int rank = -1;
    for (int i = 0; i < n; i++) {
      if (cv.in(i) instanceof Act a) {
        rank = cv.shapeOf(a.node()).rank();
      }
    }
    for (int i = 0; i < n; i++) {
      xs.add(cv.act(i));
    }
    if (rank < 0) {
      rank = cv.shapeOf(xs.get(0)).rank();
    }
    int ax = axis < 0 ? axis + rank : axis;
    if (ax == 0) {
      throw cv.error("concatenation along the batch axis is not supported");
    }
    return cv.emit(new Op.Concat(ax), xs.toArray(new String[0]));
  }

  /** StridedSlice / Slice of an activation (SliceConversions). */
  static Val slice(Converter cv, String op) {
    String x = cv.act(0);
    int rank = cv.shapeOf(x).rank();
    try {
      Op.StridedSlice s =
          op.equals("Slice")
              ? SliceConversions.slice(
                  rank, cv.ints(cv.cst(1, "begin")), cv.ints(cv.cst(2, "size")))
              : SliceConversions.stridedSlice(
                  rank,
                  cv.ints(cv.cst(1, "begin")),
                  cv.ints(cv.cst(2, "end")),
                  cv.ints(cv.cst(3, "strides")),
                  cv.attrI("begin_mask"),
                  cv.attrI("end_mask"),
                  cv.attrI("ellipsis_mask"),
                  cv.attrI("new_axis_mask"),
                  cv.attrI("shrink_axis_mask"));
      return cv.emit(s, x);
    } catch (IllegalArgumentException e) {
      throw cv.error(op + " on " + cv.shapeOf(x) + ": " + e.getMessage());
    }
  }

  static Val pad(Converter cv) {
    String x = cv.act(0);
    Cst p = cv.cst(1, "paddings");
    int rank = cv.shapeOf(x).rank();
    if (p.rank() != 2 || p.shape[0] != rank || p.shape[1] != 2) {
      throw cv.error("paddings of shape " + Arrays.toString(p.shape) + " for rank " + rank);
    }
    int[] v = cv.ints(p);
    if (v[0] != 0 || v[1] != 0) {
      throw cv.error("padding the batch axis is not supported");
    }
    List<int[]> list = new ArrayList<>();
    for (int i = 0; i < rank; i++) {
      if (v[2 * i] < 0 || v[2 * i + 1] < 0) {
        throw cv.error("negative padding " + Arrays.toString(v));
      }
      list.add(new int[] {v[2 * i], v[2 * i + 1]});
    }
    float value = 0f;
    if (cv.current().op.equals("PadV2")) {
      Cst c = cv.cst(2, "constant_values");
      if (c.size() != 1) {
        throw cv.error("constant_values must be a scalar");
      }
      value = (float) c.get(0);
    }
    return cv.emit(new Op.Pad(list, value), x);
  }

  /** Target (without batch) of a Reshape whose first dimension must be the batch. */
  private static Shape reshapeTarget(Converter cv, Shape x, Cst shape) {
    if (shape.rank() != 1 || shape.size() < 1) {
      throw cv.error("shape must be a non-empty vector, got " + shape);
    }
    double first = shape.get(0);
    int batch = x.dim(0);
    boolean batchOk =
        Double.isNaN(first) || first == -1 || batch == Shape.UNKNOWN || first == batch;
    int[] t = new int[shape.size() - 1];
    for (int i = 0; i < t.length; i++) {
      double v = shape.get(i + 1);
      if (Double.isNaN(v)) {
        throw cv.error(
            "reshape target " + shape + " depends on a size known only at run time; cannot fold");
      }
      t[i] = (int) v;
    }
    if (!batchOk) {
      throw cv.error("reshape to " + shape + " changes the batch dimension of " + x);
    }
    if (first == -1 && Arrays.stream(t).anyMatch(v -> v == -1)) {
      throw cv.error("reshape target " + shape + " has more than one -1");
    }
    return Shape.of(t);
  }

  static Val squeeze(Converter cv) {
    String x = cv.act(0);
    Shape s = cv.shapeOf(x);
    int[] axes = cv.attrInts("squeeze_dims", new int[0]);
    Set<Integer> drop = new HashSet<>();
    for (int a : axes) {
      drop.add(a < 0 ? a + s.rank() : a);
    }
    if (axes.length == 0) {
      for (int i = 1; i < s.rank(); i++) {
        if (s.dim(i) == 1) {
          drop.add(i);
        } else if (s.dim(i) == Shape.UNKNOWN) {
          throw cv.error("Squeeze of all unit dims needs known dims, input is " + s);
        }
      }
    }
    if (drop.contains(0)) {
      throw cv.error("squeezing the batch axis is not supported");
    }
    List<Integer> t = new ArrayList<>();
    for (int i = 1; i < s.rank(); i++) {
      if (!drop.contains(i)) {
        t.add(s.dim(i));
      } else if (s.dim(i) != 1 && s.dim(i) != Shape.UNKNOWN) {
        throw cv.error("cannot squeeze dimension " + i + " of " + s);
      }
    }
    return cv.emit(new Op.Reshape(target(cv, t, s)), x);
  }

  static Val expandDims(Converter cv) {
    String x = cv.act(0);
    Shape s = cv.shapeOf(x);
    int axis = cv.ints(cv.cst(1, "axis"))[0];
    int ax = axis < 0 ? axis + s.rank() + 1 : axis;
    if (ax <= 0 || ax > s.rank()) {
      throw cv.error("ExpandDims axis " + axis + " on " + s + " is not supported");
    }
    List<Integer> t = new ArrayList<>();
    for (int i = 1; i < s.rank(); i++) {
      t.add(s.dim(i));
    }
    t.add(ax - 1, 1);
    return cv.emit(new Op.Reshape(target(cv, t, s)), x);
  }

  private static Shape target(Converter cv, List<Integer> t, Shape from) {
    long unknown = t.stream().filter(v -> v == Shape.UNKNOWN).count();
    if (unknown > 1) {
      throw cv.error(
          "cannot express this reshape of "
              + from
              + " with a static target (several unknown dims)");
    }
    return Shape.of(t.stream().mapToInt(Integer::intValue).toArray());
  }

  /** Reshape to a constant target whose first dimension is the batch. */
  static Val reshape(Converter cv) {
    String x = cv.act(0);
    return cv.emit(new Op.Reshape(reshapeTarget(cv, cv.shapeOf(x), cv.cst(1, "shape"))), x);
  }

  /** Transpose by a constant permutation that keeps the batch axis first. */
  static Val transpose(Converter cv) {
    String x = cv.act(0);
    try {
      return cv.emit(
          SliceConversions.transpose(cv.shapeOf(x).rank(), cv.ints(cv.cst(1, "perm"))), x);
    } catch (IllegalArgumentException e) {
      throw cv.error("Transpose on " + cv.shapeOf(x) + ": " + e.getMessage());
    }
  }
}
