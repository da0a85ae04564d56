package dev.segcam.savedmodel;

import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * TensorFlow's Pack, Unpack, Split, SplitV, Tile, AddN and ClipByValue of activations as IR ops
 * that exist already: Pack is a unit axis inserted into each input ({@link Op.Reshape}) and a
 * {@link Op.Concat}; Unpack, Split and SplitV give one {@link Op.StridedSlice} per output (the
 * node's outputs {@code node:k}); Tile concatenates copies along each tiled axis (the backward adds
 * the copies' gradients, TensorFlow's TileGrad); AddN is a chain of Adds; ClipByValue with constant
 * bounds is Minimum then Maximum (whose gradients give TF's: dy where min <= x <= max). Errors are
 * {@link IllegalArgumentException}s that the {@link Converter} reports with the node.
 */
final class ArrayConversions {
  private ArrayConversions() {}

  /** The TF node being converted, as the {@link Converter} shows it. */
  interface Node {
    int inputs();

    /** Whether input i is an activation (not a constant). */
    boolean isActivation(int i);

    /** Input i as an IR node (a constant becomes a Const node). */
    String act(int i);

    /** Input i, a constant known at import time, as ints. */
    int[] ints(int i, String what);

    /** An int attribute (0 when absent). */
    int attr(String key);

    Shape shape(String irNode);

    /** Adds an IR node named after the TF node plus suffix; returns its unique name. */
    String add(String suffix, Op op, String... inputs);
  }

  /** The ops of this file on the converter's current node (several outputs: a Multi), or null. */
  static Converter.Val convert(Converter cv, String op) {
    List<String> outs =
        convert(
            op,
            new Node() {
              public int inputs() {
                return cv.current().inputs.size();
              }

              public boolean isActivation(int i) {
                return cv.in(i) instanceof Converter.Act;
              }

              public String act(int i) {
                return cv.act(i);
              }

              public int[] ints(int i, String what) {
                return cv.ints(cv.cst(i, what));
              }

              public int attr(String key) {
                return cv.attrI(key);
              }

              public Shape shape(String irNode) {
                return cv.shapeOf(irNode);
              }

              public String add(String suffix, Op o, String... inputs) {
                return cv.add(cv.current().path + suffix, o, inputs);
              }
            });
    if (outs == null || outs.size() == 1) {
      return outs == null ? null : new Converter.Act(outs.get(0));
    }
    return new Converter.Multi(outs.stream().<Converter.Val>map(Converter.Act::new).toList());
  }

  /** The IR nodes of the TF node's outputs, or null when op is none of this file's. */
  static List<String> convert(String op, Node n) {
    switch (op) {
      case "Pack":
        {
          String[] xs = new String[n.inputs()];
          for (int i = 0; i < xs.length; i++) {
            if (!n.isActivation(i)) {
              throw new IllegalArgumentException(
                  "Pack of an activation with a constant is not supported");
            }
            xs[i] = n.act(i);
          }
          int ax = axis(n.attr("axis"), n.shape(xs[0]).rank() + 1, op);
          for (int i = 0; i < xs.length; i++) {
            xs[i] = n.add("/expand", new Op.Reshape(expanded(n.shape(xs[i]), ax)), xs[i]);
          }
          return List.of(n.add("", new Op.Concat(ax), xs));
        }
      case "Unpack":
      case "Split":
      case "SplitV":
        return split(op, n);
      case "Tile":
        {
          String x = n.act(0);
          int rank = n.shape(x).rank();
          int[] m = multiples(rank, n.ints(1, "multiples"));
          for (int d = 1; d < rank; d++) {
            if (m[d] > 1) {
              String[] copies = new String[m[d]];
              Arrays.fill(copies, x);
              x = n.add("", new Op.Concat(d), copies);
            }
          }
          return List.of(x);
        }
      case "AddN":
        {
          String sum = n.act(0);
          for (int i = 1; i < n.inputs(); i++) {
            sum = n.add("", new Op.Binary(Op.BinaryKind.ADD), sum, n.act(i));
          }
          return List.of(sum);
        }
      case "ClipByValue":
        {
          String x = n.act(0);
          if (n.isActivation(1) || n.isActivation(2)) {
            throw new IllegalArgumentException("ClipByValue bounds must be constants");
          }
          String hi = n.add("/min", new Op.Binary(Op.BinaryKind.MINIMUM), x, n.act(2));
          return List.of(n.add("", new Op.Binary(Op.BinaryKind.MAXIMUM), hi, n.act(1)));
        }
      default:
        return null;
    }
  }

  /** Unpack, Split and SplitV: one StridedSlice per output. */
  private static List<String> split(String op, Node n) {
    boolean v1 = op.equals("Split");
    String x = n.act(v1 ? 1 : 0);
    Shape s = n.shape(x);
    int ax;
    int[] sizes;
    if (op.equals("Unpack")) {
      ax = axis(n.attr("axis"), s.rank(), op);
      sizes = equalSizes(s.dim(ax), Math.max(1, s.dim(ax)));
    } else {
      ax = axis(n.ints(v1 ? 0 : 2, "axis")[0], s.rank(), op);
      sizes =
          v1
              ? equalSizes(s.dim(ax), n.attr("num_split"))
              : splitSizes(s.dim(ax), n.ints(1, "size_splits"));
    }
    List<String> outs = new ArrayList<>();
    int at = 0;
    for (int size : sizes) {
      outs.add(n.add("", take(s.rank(), ax, at, at + size, op.equals("Unpack")), x));
      at += size;
    }
    return outs;
  }

  /**
   * A TF axis attribute (negative counts from the end) on a tensor of the given rank, refused on
   * the batch axis 0.
   */
  static int axis(int axis, int rank, String op) {
    int a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) {
      throw new IllegalArgumentException(op + " axis " + axis + " outside rank " + rank);
    }
    if (a == 0) {
      throw new IllegalArgumentException(op + " along the batch axis is not supported");
    }
    return a;
  }

  /**
   * The Reshape target (the dims after the batch) of shape s with a unit axis inserted at axis a (a
   * >= 1); at most one of them may be unknown.
   */
  static Shape expanded(Shape s, int a) {
    List<Integer> t = new ArrayList<>();
    for (int i = 1; i < s.rank(); i++) {
      t.add(s.dim(i));
    }
    t.add(a - 1, 1);
    if (t.stream().filter(v -> v == Shape.UNKNOWN).count() > 1) {
      throw new IllegalArgumentException(
          "cannot insert an axis into " + s + " with a static reshape (several unknown dims)");
    }
    return Shape.of(t.stream().mapToInt(Integer::intValue).toArray());
  }

  /**
   * [begin, end) of axis a of a rank-r input, the other axes whole; shrink drops the axis (begin
   * must then be end - 1).
   */
  static Op.StridedSlice take(int rank, int a, int begin, int end, boolean shrink) {
    int[] b = new int[rank];
    int[] e = new int[rank];
    int[] s = new int[rank];
    Arrays.fill(s, 1);
    b[a] = begin;
    e[a] = end;
    int whole = ((1 << rank) - 1) & ~(1 << a);
    return SliceConversions.stridedSlice(rank, b, e, s, whole, whole, 0, 0, shrink ? 1 << a : 0);
  }

  /** Split's sizes: dim into num equal parts. */
  static int[] equalSizes(int dim, int num) {
    if (dim < 0) {
      throw new IllegalArgumentException("Split of an axis of unknown size");
    }
    if (num < 1 || dim % num != 0) {
      throw new IllegalArgumentException("Split of an axis of " + dim + " into " + num + " parts");
    }
    int[] out = new int[num];
    Arrays.fill(out, dim / num);
    return out;
  }

  /** SplitV's sizes: at most one -1, which takes the rest of dim. */
  static int[] splitSizes(int dim, int[] sizes) {
    int[] out = sizes.clone();
    int rest = -1;
    int sum = 0;
    for (int i = 0; i < out.length; i++) {
      if (out[i] == -1 && rest < 0) {
        rest = i;
      } else if (out[i] < 0) {
        throw new IllegalArgumentException("SplitV sizes " + Arrays.toString(sizes));
      } else {
        sum += out[i];
      }
    }
    if (dim < 0) {
      throw new IllegalArgumentException("SplitV of an axis of unknown size");
    }
    if (rest >= 0) {
      out[rest] = dim - sum;
      sum = dim;
    }
    if (sum != dim || (rest >= 0 && out[rest] < 0)) {
      throw new IllegalArgumentException(
          "SplitV sizes " + Arrays.toString(sizes) + " do not add up to the axis size " + dim);
    }
    return out;
  }

  /** Tile's multiples for a rank-r input: one per axis, at least 1, the batch's 1. */
  static int[] multiples(int rank, int[] m) {
    if (m.length != rank) {
      throw new IllegalArgumentException(
          "Tile multiples " + Arrays.toString(m) + " for an input of rank " + rank);
    }
    for (int v : m) {
      if (v < 1) {
        throw new IllegalArgumentException("Tile multiples " + Arrays.toString(m));
      }
    }
    if (rank > 0 && m[0] != 1) {
      throw new IllegalArgumentException(
          "tiling the batch axis is not supported (multiples " + Arrays.toString(m) + ")");
    }
    return m;
  }
}
