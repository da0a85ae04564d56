package dev.segcam.savedmodel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.DoubleBinaryOperator;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;

/**
 * Evaluates ops whose inputs are all import-time constants: mostly the small integer shape
 * computations Keras emits in front of Reshape, Conv2DBackpropInput or ResizeBilinear. Unknown
 * run-time sizes (NaN) propagate through arithmetic; an op that needs them concretely fails.
 */
final class ConstFolding {
  private ConstFolding() {}

  private static final Set<String> FOLDABLE =
      Set.of(
          "StridedSlice",
          "Pack",
          "ConcatV2",
          "Mul",
          "AddV2",
          "Add",
          "Sub",
          "RealDiv",
          "FloorDiv",
          "FloorMod",
          "Maximum",
          "Minimum",
          "Reshape",
          "ExpandDims",
          "Squeeze",
          "Prod",
          "GatherV2",
          "Neg",
          "Fill",
          "Cast",
          "Rsqrt",
          "Sqrt",
          "Square",
          "Reciprocal",
          "Transpose",
          "Range");

  static boolean canFold(String op) {
    return FOLDABLE.contains(op);
  }

  static Cst fold(TfNode n, List<Cst> in) {
    switch (n.op) {
      case "StridedSlice":
        return stridedSlice(n, in);
      case "Pack":
        return pack(n, in);
      case "GatherV2":
        return GatherFolding.gather(n, in);
      case "ConcatV2":
        return concat(in);
      case "Mul":
        return binary(in, (a, b) -> a * b);
      case "AddV2":
      case "Add":
        return binary(in, Double::sum);
      case "Sub":
        return binary(in, (a, b) -> a - b);
      case "RealDiv":
        return binary(in, (a, b) -> a / b);
      case "FloorDiv":
        return binary(in, (a, b) -> Math.floor(a / b));
      case "FloorMod":
        // Python's (and TensorFlow's) modulo: the sign of the divisor
        return binary(in, (a, b) -> a - Math.floor(a / b) * b);
      case "Maximum":
        return binary(in, Math::max);
      case "Minimum":
        return binary(in, Math::min);
      case "Neg":
        return binary(List.of(in.get(0), Cst.ints(new int[0], new double[] {-1})), (a, b) -> a * b);
      case "Rsqrt":
        return unary(in.get(0), v -> 1 / Math.sqrt(v));
      case "Sqrt":
        return unary(in.get(0), Math::sqrt);
      case "Square":
        return unary(in.get(0), v -> v * v);
      case "Reciprocal":
        return unary(in.get(0), v -> 1 / v);
      case "Transpose":
        return transpose(in.get(0), concrete(in.get(1)));
      case "Range":
        return range(in.get(0), in.get(1), in.get(2));
      case "Reshape":
        return reshape(in.get(0), in.get(1));
      case "ExpandDims":
        {
          Cst x = in.get(0);
          int axis = (int) in.get(1).get(0);
          int ax = axis < 0 ? axis + x.rank() + 1 : axis;
          if (ax < 0 || ax > x.rank()) {
            throw new IllegalArgumentException("ExpandDims axis " + axis + " out of range");
          }
          int[] s = new int[x.rank() + 1];
          for (int i = 0, j = 0; i < s.length; i++) {
            s[i] = i == ax ? 1 : x.shape[j++];
          }
          return x.reshape(s);
        }
      case "Squeeze":
        {
          Cst x = in.get(0);
          AttrValue a = n.attr("squeeze_dims");
          List<Integer> keep = new ArrayList<>();
          for (int i = 0; i < x.rank(); i++) {
            boolean drop;
            if (a == null || a.getList().getICount() == 0) {
              drop = x.shape[i] == 1;
            } else {
              drop = false;
              for (long v : a.getList().getIList()) {
                drop |= (v < 0 ? v + x.rank() : v) == i;
              }
            }
            if (!drop) {
              keep.add(x.shape[i]);
            }
          }
          return x.reshape(keep.stream().mapToInt(Integer::intValue).toArray());
        }
      case "Prod":
        {
          Cst x = in.get(0);
          if (x.rank() > 1) {
            throw new IllegalArgumentException("Prod of a rank-" + x.rank() + " constant");
          }
          double p = 1;
          for (int i = 0; i < x.size(); i++) {
            p *= x.get(i);
          }
          AttrValue kd = n.attr("keep_dims");
          boolean keep = kd != null && kd.getB();
          int[] s = keep ? new int[] {1} : new int[0];
          return x.integral()
              ? Cst.ints(s, new double[] {p})
              : Cst.floats(s, new float[] {(float) p});
        }
      case "Fill":
        {
          if (in.get(0).size() == 1 && in.get(0).hasUnknown()) {
            // a vector of a run-time length (Keras 2 LayerNormalization's ones/zeros of the row
            // count): the fill value alone, which broadcasts as the vector would
            return in.get(1).reshape(new int[0]);
          }
          int[] dims = concrete(in.get(0));
          long count = 1;
          for (int d : dims) {
            count *= d;
            if (d < 0 || count > 1 << 24) {
              throw new IllegalArgumentException("Fill of shape " + Arrays.toString(dims));
            }
          }
          Cst v = in.get(1);
          if (v.integral()) {
            double[] d = new double[(int) count];
            Arrays.fill(d, v.get(0));
            return Cst.ints(dims, d);
          }
          float[] f = new float[(int) count];
          Arrays.fill(f, (float) v.get(0));
          return Cst.floats(dims, f);
        }
      case "Cast":
        {
          AttrValue to = n.attr("DstT");
          return cast(in.get(0), to == null ? DataType.DT_FLOAT : to.getType());
        }
      default:
        throw new IllegalArgumentException("cannot fold op " + n.op);
    }
  }

  private static Cst unary(Cst x, java.util.function.DoubleUnaryOperator f) {
    if (x.integral()) {
      throw new IllegalArgumentException("float op on an integer constant");
    }
    float[] out = new float[x.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) f.applyAsDouble(x.f[i]);
    }
    return Cst.floats(x.shape, out);
  }

  /** Transposed weights, e.g. a Dense kernel stored (out, in). */
  static Cst transpose(Cst x, int[] perm) {
    int r = x.rank();
    if (perm.length != r) {
      throw new IllegalArgumentException("Transpose permutation " + Arrays.toString(perm));
    }
    int[] s = new int[r];
    boolean[] seen = new boolean[r];
    for (int i = 0; i < r; i++) {
      if (perm[i] < 0 || perm[i] >= r || seen[perm[i]]) {
        throw new IllegalArgumentException("Transpose permutation " + Arrays.toString(perm));
      }
      seen[perm[i]] = true;
      s[i] = x.shape[perm[i]];
    }
    int[] stride = new int[r];
    for (int i = r - 1, acc = 1; i >= 0; i--) {
      stride[i] = acc;
      acc *= x.shape[i];
    }
    int n = x.size();
    int[] idx = new int[r];
    double[] d = x.integral() ? new double[n] : null;
    float[] f = x.integral() ? null : new float[n];
    for (int k = 0; k < n; k++) {
      int src = 0;
      for (int i = 0; i < r; i++) {
        src += idx[i] * stride[perm[i]];
      }
      if (d != null) {
        d[k] = x.d[src];
      } else {
        f[k] = x.f[src];
      }
      for (int i = r - 1; i >= 0; i--) {
        if (++idx[i] < s[i]) {
          break;
        }
        idx[i] = 0;
      }
    }
    return d != null ? Cst.ints(s, d) : Cst.floats(s, f);
  }

  static Cst cast(Cst c, DataType to) {
    if (TensorProtos.isFloat(to)) {
      if (!c.integral()) {
        return c;
      }
      if (c.hasUnknown()) {
        throw new IllegalArgumentException("cast of a size known only at run time");
      }
      return Cst.of(c.tensor());
    }
    if (TensorProtos.isInt(to)) {
      double[] d = new double[c.size()];
      for (int i = 0; i < d.length; i++) {
        double v = c.get(i);
        d[i] = Double.isNaN(v) ? v : (v < 0 ? Math.ceil(v) : Math.floor(v));
      }
      return Cst.ints(c.shape, d);
    }
    throw new IllegalArgumentException("cast to " + to + " is not supported");
  }

  /**
   * Range(start, limit, delta): start, start + delta, ... up to limit excluded (tf.nn.softmax on a
   * non-last axis builds its transpose permutation with it).
   */
  private static Cst range(Cst start, Cst limit, Cst delta) {
    double a = start.get(0);
    double b = limit.get(0);
    double d = delta.get(0);
    if (Double.isNaN(a) || Double.isNaN(b) || Double.isNaN(d)) {
      throw new IllegalArgumentException("Range bounds are known only at run time");
    }
    if (d == 0 || (d > 0 ? a > b : a < b)) {
      throw new IllegalArgumentException("Range(" + a + ", " + b + ", " + d + ") is invalid");
    }
    int count = (int) Math.ceil(Math.abs((b - a) / d));
    double[] v = new double[count];
    for (int k = 0; k < count; k++) {
      v[k] = a + k * d;
    }
    if (start.integral() && limit.integral() && delta.integral()) {
      return Cst.ints(new int[] {count}, v);
    }
    float[] f = new float[count];
    for (int k = 0; k < count; k++) {
      f[k] = (float) v[k];
    }
    return Cst.floats(new int[] {count}, f);
  }

  static int[] concrete(Cst c) {
    int[] out = new int[c.size()];
    for (int i = 0; i < out.length; i++) {
      if (Double.isNaN(c.get(i))) {
        throw new IllegalArgumentException("value " + c + " is known only at run time");
      }
      out[i] = (int) c.get(i);
    }
    return out;
  }

  private static Cst stridedSlice(TfNode n, List<Cst> in) {
    Cst x = in.get(0);
    if (x.rank() != 1) {
      throw new IllegalArgumentException(
          "StridedSlice of a rank-" + x.rank() + " constant is not supported");
    }
    int begin = concrete(in.get(1))[0];
    int end = concrete(in.get(2))[0];
    int stride = concrete(in.get(3))[0];
    int beginMask = intAttr(n, "begin_mask");
    int endMask = intAttr(n, "end_mask");
    int shrink = intAttr(n, "shrink_axis_mask");
    if (intAttr(n, "ellipsis_mask") != 0 || intAttr(n, "new_axis_mask") != 0) {
      throw new IllegalArgumentException("StridedSlice with ellipsis/new-axis masks");
    }
    if (stride == 0) {
      throw new IllegalArgumentException("StridedSlice with stride 0");
    }
    int len = x.size();
    if ((shrink & 1) != 0) {
      int i = begin < 0 ? begin + len : begin;
      if (i < 0 || i >= len) {
        throw new IllegalArgumentException("StridedSlice index " + begin + " out of range");
      }
      return pick(x, new int[] {i}, new int[0]);
    }
    int lo;
    int hi;
    if (stride > 0) {
      lo = (beginMask & 1) != 0 ? 0 : clamp(begin < 0 ? begin + len : begin, 0, len);
      hi = (endMask & 1) != 0 ? len : clamp(end < 0 ? end + len : end, 0, len);
    } else {
      lo = (beginMask & 1) != 0 ? len - 1 : clamp(begin < 0 ? begin + len : begin, -1, len - 1);
      hi = (endMask & 1) != 0 ? -1 : clamp(end < 0 ? end + len : end, -1, len - 1);
    }
    List<Integer> idx = new ArrayList<>();
    for (int i = lo; stride > 0 ? i < hi : i > hi; i += stride) {
      idx.add(i);
    }
    int[] ix = idx.stream().mapToInt(Integer::intValue).toArray();
    return pick(x, ix, new int[] {ix.length});
  }

  private static Cst pick(Cst x, int[] idx, int[] shape) {
    if (x.integral()) {
      double[] d = new double[idx.length];
      for (int i = 0; i < idx.length; i++) {
        d[i] = x.d[idx[i]];
      }
      return Cst.ints(shape, d);
    }
    float[] f = new float[idx.length];
    for (int i = 0; i < idx.length; i++) {
      f[i] = x.f[idx[i]];
    }
    return Cst.floats(shape, f);
  }

  private static int clamp(int v, int lo, int hi) {
    return Math.max(lo, Math.min(hi, v));
  }

  private static int intAttr(TfNode n, String key) {
    AttrValue a = n.attr(key);
    return a == null ? 0 : (int) a.getI();
  }

  private static Cst pack(TfNode n, List<Cst> in) {
    if (intAttr(n, "axis") != 0) {
      throw new IllegalArgumentException("Pack along axis " + intAttr(n, "axis"));
    }
    int[] s0 = in.get(0).shape;
    for (Cst c : in) {
      if (!Arrays.equals(c.shape, s0)) {
        throw new IllegalArgumentException("Pack of differently shaped constants");
      }
    }
    int[] s = new int[s0.length + 1];
    s[0] = in.size();
    System.arraycopy(s0, 0, s, 1, s0.length);
    return join(in, s);
  }

  private static Cst concat(List<Cst> in) {
    int axis = (int) in.get(in.size() - 1).get(0);
    List<Cst> xs = in.subList(0, in.size() - 1);
    int rank = xs.get(0).rank();
    if (rank != 1 || (axis != 0 && axis != -1)) {
      throw new IllegalArgumentException("ConcatV2 of constants is supported for vectors only");
    }
    int total = 0;
    for (Cst c : xs) {
      if (c.rank() != 1) {
        throw new IllegalArgumentException("ConcatV2 of constants of different ranks");
      }
      total += c.size();
    }
    return join(xs, new int[] {total});
  }

  private static Cst join(List<Cst> in, int[] shape) {
    boolean integral = in.stream().allMatch(Cst::integral);
    int total = in.stream().mapToInt(Cst::size).sum();
    double[] d = new double[total];
    float[] f = new float[total];
    int k = 0;
    for (Cst c : in) {
      for (int i = 0; i < c.size(); i++, k++) {
        d[k] = c.get(i);
        f[k] = (float) c.get(i);
      }
    }
    return integral ? Cst.ints(shape, d) : Cst.floats(shape, f);
  }

  private static Cst reshape(Cst x, Cst shape) {
    int[] t = concrete(shape);
    int unknownAt = -1;
    long known = 1;
    for (int i = 0; i < t.length; i++) {
      if (t[i] == -1) {
        if (unknownAt >= 0) {
          throw new IllegalArgumentException("reshape with two -1");
        }
        unknownAt = i;
      } else {
        known *= t[i];
      }
    }
    if (unknownAt >= 0) {
      if (known == 0 || x.size() % known != 0) {
        throw new IllegalArgumentException("cannot reshape " + x.size() + " values");
      }
      t[unknownAt] = (int) (x.size() / known);
      known *= t[unknownAt];
    }
    if (known != x.size()) {
      throw new IllegalArgumentException(
          "cannot reshape " + x.size() + " values to " + Arrays.toString(t));
    }
    return x.reshape(t);
  }

  /** Element-wise op with NumPy broadcasting. */
  private static Cst binary(List<Cst> in, DoubleBinaryOperator f) {
    Cst a = in.get(0);
    Cst b = in.get(1);
    int r = Math.max(a.rank(), b.rank());
    int[] s = new int[r];
    for (int i = 0; i < r; i++) {
      int da = dimFromEnd(a, r - 1 - i);
      int db = dimFromEnd(b, r - 1 - i);
      if (da != db && da != 1 && db != 1) {
        throw new IllegalArgumentException(
            "cannot broadcast " + Arrays.toString(a.shape) + " with " + Arrays.toString(b.shape));
      }
      s[i] = da == 1 ? db : da;
    }
    long total = 1;
    for (int v : s) {
      total *= v;
    }
    if (total > 1 << 26) {
      throw new IllegalArgumentException("constant of shape " + Arrays.toString(s) + " too large");
    }
    boolean integral = a.integral() && b.integral();
    double[] d = new double[(int) total];
    int[] idx = new int[r];
    for (int k = 0; k < total; k++) {
      d[k] = f.applyAsDouble(a.get(offset(a, idx, r)), b.get(offset(b, idx, r)));
      for (int i = r - 1; i >= 0; i--) {
        if (++idx[i] < s[i]) {
          break;
        }
        idx[i] = 0;
      }
    }
    if (integral) {
      for (int i = 0; i < d.length; i++) {
        d[i] = d[i] < 0 ? Math.ceil(d[i]) : Math.floor(d[i]);
      }
      return Cst.ints(s, d);
    }
    float[] out = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      out[i] = (float) d[i];
    }
    return Cst.floats(s, out);
  }

  private static int dimFromEnd(Cst c, int fromEnd) {
    int i = c.rank() - 1 - fromEnd;
    return i < 0 ? 1 : c.shape[i];
  }

  private static int offset(Cst c, int[] idx, int r) {
    int off = 0;
    for (int i = 0; i < c.rank(); i++) {
      int j = idx[r - c.rank() + i];
      off = off * c.shape[i] + (c.shape[i] == 1 ? 0 : j);
    }
    return off;
  }
}
