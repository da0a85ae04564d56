package dev.segcam.ir;

import java.util.List;

/**
 * Output shape of an op from its input shapes. Unknown dims (-1) propagate; errors name the node.
 */
public final class ShapeInference {
  private static final int U = Shape.UNKNOWN;

  private ShapeInference() {}

  public static Shape infer(String node, Op op, List<Shape> in) {
    try {
      if (op instanceof Op.Input i) {
        return i.shape();
      }
      if (op instanceof Op.Const c) {
        return c.value().shape();
      }
      if (op instanceof Op.Conv2D c) {
        Shape x = rank(node, in, 0, 4);
        Shape f = c.filter().shape();
        channels(node, x, f.dim(2), "filter input channels");
        return convOut(
            x, f, c.padding(), c.strideH(), c.strideW(), c.dilationH(), c.dilationW(), f.dim(3));
      }
      if (op instanceof Op.DepthwiseConv2D c) {
        Shape x = rank(node, in, 0, 4);
        Shape f = c.filter().shape();
        channels(node, x, f.dim(2), "depthwise filter channels");
        return convOut(
            x,
            f,
            c.padding(),
            c.strideH(),
            c.strideW(),
            c.dilationH(),
            c.dilationW(),
            f.dim(2) * f.dim(3));
      }
      if (op instanceof Op.Conv2DTranspose c) {
        Shape x = rank(node, in, 0, 4);
        Shape f = c.filter().shape();
        channels(node, x, f.dim(3), "transposed-conv filter input channels");
        int oh =
            c.outH() >= 0 ? c.outH() : transposed(c.padding(), x.dim(1), f.dim(0), c.strideH());
        int ow =
            c.outW() >= 0 ? c.outW() : transposed(c.padding(), x.dim(2), f.dim(1), c.strideW());
        if (c.outH() >= 0 && x.dim(1) != U) {
          int expect = window(c.padding(), oh, f.dim(0), c.strideH(), 1);
          if (expect != x.dim(1)) {
            throw new ShapeException(
                "transposed conv output height " + oh + " does not map back to input " + x.dim(1));
          }
        }
        return Shape.of(x.dim(0), oh, ow, f.dim(2));
      }
      if (op instanceof Op.BiasAdd b) {
        Shape x = one(node, in);
        channels(node, x, b.bias().size(), "bias length");
        return x;
      }
      if (op instanceof Op.BatchNorm b) {
        Shape x = one(node, in);
        channels(node, x, b.scale().size(), "batch-norm channels");
        return x;
      }
      if (op instanceof Op.Activation a) {
        return one(node, in);
      }
      if (op.pointwise() && in.size() == 1) {
        return one(node, in); // any element-wise op of one input keeps its shape
      }
      if (op instanceof Op.Softmax || op instanceof Op.LogSoftmax) {
        return one(node, in);
      }
      if (op instanceof Op.Pool p) {
        Shape x = rank(node, in, 0, 4);
        return Shape.of(
            x.dim(0),
            window(p.padding(), x.dim(1), p.windowH(), p.strideH(), 1),
            window(p.padding(), x.dim(2), p.windowW(), p.strideW(), 1),
            x.dim(3));
      }
      if (op instanceof Op.SpatialMean m) {
        Shape x = rank(node, in, 0, 4);
        return m.keepDims() ? Shape.of(x.dim(0), 1, 1, x.dim(3)) : Shape.of(x.dim(0), x.dim(3));
      }
      if (op instanceof Op.Resize r) {
        Shape x = rank(node, in, 0, 4);
        return Shape.of(x.dim(0), r.outH(), r.outW(), x.dim(3));
      }
      if (op instanceof Op.Concat c) {
        return concat(node, c.axis(), in);
      }
      if (op instanceof Op.Binary b) {
        return broadcast(node, in);
      }
      if (op instanceof Op.Pad p) {
        Shape x = one(node, in);
        if (p.paddings().size() != x.rank()) {
          throw new ShapeException(
              "paddings for rank " + p.paddings().size() + " on input of rank " + x.rank());
        }
        int[] d = x.dims();
        for (int i = 0; i < d.length; i++) {
          int[] pp = p.paddings().get(i);
          if (d[i] != U) {
            d[i] += pp[0] + pp[1];
          }
        }
        return Shape.of(d);
      }
      if (op instanceof Op.MatMul m) {
        Shape x = one(node, in);
        Shape w = m.weights().shape();
        if (x.rank() < 2) {
          throw new ShapeException("expects an input of rank 2 or more, got " + x);
        }
        if (x.dim(-1) != U && x.dim(-1) != w.dim(0)) {
          throw new ShapeException("input features " + x.dim(-1) + " != weight rows " + w.dim(0));
        }
        return x.withDim(-1, w.dim(1));
      }
      if (op instanceof Op.BatchMatMul m) {
        return Contraction.outputShape(m, in);
      }
      if (op instanceof Op.Reshape r) {
        return reshape(one(node, in), r.target());
      }
      if (op instanceof Op.Transpose t) {
        return Slicing.transposed(t, one(node, in));
      }
      if (op instanceof Op.Reduce r) {
        return Slicing.reduced(r, one(node, in));
      }
      if (op instanceof Op.StridedSlice s) {
        return Slicing.outputShape(s, one(node, in));
      }

      throw new ShapeException("unhandled op " + op.type());
    } catch (ShapeException e) {
      String msg = e.getMessage();
      throw new ShapeException(
          msg.startsWith("node '") ? msg : "node '" + node + "' (" + op.type() + "): " + msg);
    }
  }

  static void checkCompatible(String node, Shape declared, Shape actual) {
    boolean ok = declared.rank() == actual.rank();
    for (int i = 0; ok && i < declared.rank(); i++) {
      ok = declared.dim(i) == U || declared.dim(i) == actual.dim(i);
    }
    if (!ok) {
      throw new ShapeException(
          "input '" + node + "' expects shape " + declared + ", got " + actual);
    }
  }

  private static Shape one(String node, List<Shape> in) {
    if (in.isEmpty()) {
      throw new ShapeException("missing input");
    }
    return in.get(0);
  }

  private static Shape rank(String node, List<Shape> in, int idx, int rank) {
    Shape s = one(node, in);
    if (s.rank() != rank) {
      throw new ShapeException("expects an input of rank " + rank + ", got " + s);
    }
    return s;
  }

  private static void channels(String node, Shape x, int want, String what) {
    int c = x.dim(-1);
    if (c != U && c != want) {
      throw new ShapeException(
          "input " + x + " has " + c + " channels but " + what + " is " + want);
    }
  }

  private static int window(Padding p, int in, int k, int stride, int dil) {
    if (in == U) {
      return U;
    }
    int out = p.outputSize(in, k, stride, dil);
    if (out <= 0) {
      throw new ShapeException(
          "window " + k + " (dilation " + dil + ") does not fit input length " + in);
    }
    return out;
  }

  private static int transposed(Padding p, int in, int k, int stride) {
    if (in == U) {
      return U;
    }
    return p == Padding.SAME ? in * stride : (in - 1) * stride + k;
  }

  private static Shape concat(String node, int axis, List<Shape> in) {
    if (in.isEmpty()) {
      throw new ShapeException("concat of nothing");
    }
    int[] d = in.get(0).dims();
    if (axis < 0 || axis >= d.length) {
      throw new ShapeException("concat axis " + axis + " out of range for rank " + d.length);
    }
    for (int k = 1; k < in.size(); k++) {
      Shape s = in.get(k);
      if (s.rank() != d.length) {
        throw new ShapeException("concat of ranks " + d.length + " and " + s.rank());
      }
      for (int i = 0; i < d.length; i++) {
        if (i == axis) {
          d[i] = d[i] == U || s.dim(i) == U ? U : d[i] + s.dim(i);
        } else if (d[i] == U) {
          d[i] = s.dim(i);
        } else if (s.dim(i) != U && s.dim(i) != d[i]) {
          throw new ShapeException("concat inputs differ in dim " + i + ": " + in);
        }
      }
    }
    return Shape.of(d);
  }

  /** NumPy broadcasting of two shapes. */
  public static Shape broadcast(String node, List<Shape> in) {
    if (in.size() != 2) {
      throw new ShapeException("binary op needs 2 inputs, got " + in.size());
    }
    Shape a = in.get(0);
    Shape b = in.get(1);
    int r = Math.max(a.rank(), b.rank());
    int[] d = new int[r];
    for (int i = 0; i < r; i++) {
      int da = i - (r - a.rank()) >= 0 ? a.dim(i - (r - a.rank())) : 1;
      int db = i - (r - b.rank()) >= 0 ? b.dim(i - (r - b.rank())) : 1;
      if (da == 1) {
        d[i] = db;
      } else if (db == 1) {
        d[i] = da;
      } else if (da == U || db == U) {
        d[i] = da == U ? db : da;
      } else if (da == db) {
        d[i] = da;
      } else {
        throw new ShapeException("cannot broadcast " + a + " with " + b);
      }
    }
    return Shape.of(d);
  }

  private static Shape reshape(Shape x, Shape target) {
    int[] t = target.dims();
    int[] d = new int[t.length + 1];
    d[0] = x.dim(0);
    int unknownAt = -1;
    long known = 1;
    for (int i = 0; i < t.length; i++) {
      d[i + 1] = t[i];
      if (t[i] == U) {
        if (unknownAt >= 0) {
          throw new ShapeException("reshape target " + target + " has two unknown dims");
        }
        unknownAt = i + 1;
      } else {
        known *= t[i];
      }
    }
    long perItem = 1;
    for (int i = 1; i < x.rank(); i++) {
      if (x.dim(i) == U) {
        perItem = -1;
        break;
      }
      perItem *= x.dim(i);
    }
    if (perItem >= 0) {
      if (unknownAt >= 0) {
        if (known == 0 || perItem % known != 0) {
          throw new ShapeException("cannot reshape " + x + " to [?," + target + "]");
        }
        d[unknownAt] = (int) (perItem / known);
      } else if (known != perItem) {
        throw new ShapeException("cannot reshape " + x + " to [batch," + target + "]");
      }
    }
    return Shape.of(d);
  }

  // x (N,H,W,C), filter f (kh,kw,..) -> (N, OH, OW, channels) of a (depthwise) convolution
  private static Shape convOut(
      Shape x, Shape f, Padding p, int sh, int sw, int dh, int dw, int channels) {
    return Shape.of(
        x.dim(0),
        window(p, x.dim(1), f.dim(0), sh, dh),
        window(p, x.dim(2), f.dim(1), sw, dw),
        channels);
  }
}
