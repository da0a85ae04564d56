package dev.segcam.savedmodel;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.util.Arrays;
import java.util.Map;

/**
 * The TensorFlow ops that import as element-wise IR ops beyond the activations and Add/Sub/Mul/
 * RealDiv: one-input math as {@link Op.Unary}, Maximum/Minimum/SquaredDifference as {@link
 * Op.Binary}, StopGradient/PreventGradient as {@link Op.StopGradient}, Select/SelectV2 with a
 * constant condition as two masked products and a sum. Converter dispatches here for the op names
 * it does not know itself.
 */
final class ElementwiseConversions {
  private ElementwiseConversions() {}

  /** TensorFlow op name -> unary kind (Pow is separate: its exponent must be a constant). */
  static final Map<String, Op.UnaryKind> UNARY =
      Map.of(
          "Neg", Op.UnaryKind.NEG,
          "Abs", Op.UnaryKind.ABS,
          "Square", Op.UnaryKind.SQUARE,
          "Sqrt", Op.UnaryKind.SQRT,
          "Rsqrt", Op.UnaryKind.RSQRT,
          "Log", Op.UnaryKind.LOG,
          "Selu", Op.UnaryKind.SELU,
          "Softplus", Op.UnaryKind.SOFTPLUS,
          "Erf", Op.UnaryKind.ERF);

  /** TensorFlow op name -> binary kind, for the kinds added after Add/Sub/Mul/RealDiv. */
  static final Map<String, Op.BinaryKind> BINARY =
      Map.of(
          "Maximum", Op.BinaryKind.MAXIMUM,
          "Minimum", Op.BinaryKind.MINIMUM,
          "SquaredDifference", Op.BinaryKind.SQUARED_DIFFERENCE);

  /** TensorFlow op name -> whether the op forbids its gradient (PreventGradient). */
  static final Map<String, Boolean> GRADIENT_BLOCKS =
      Map.of("StopGradient", false, "PreventGradient", true);

  /** Pow's exponent when it is one constant value (a scalar or a one-element tensor), else null. */
  static Float constantExponent(Cst c) {
    return c.size() == 1 && !c.hasUnknown() ? (float) c.get(0) : null;
  }

  /**
   * A constant Select condition as the masks {1 where true, else 0} and {0 where true, else 1}:
   * Select becomes then·mask + else·notMask, exact for finite operands (x·1 + y·0 = x), its
   * gradients dy·mask and dy·notMask, TensorFlow's where(c, dy, 0) and where(c, 0, dy). An
   * unselected ±inf or NaN would give NaN (0·inf), where TensorFlow's select would not.
   */
  static FloatTensor[] masks(Cst cond) {
    float[] m = new float[cond.size()];
    float[] not = new float[m.length];
    for (int i = 0; i < m.length; i++) {
      boolean c = cond.get(i) != 0;
      m[i] = c ? 1f : 0f;
      not[i] = c ? 0f : 1f;
    }
    Shape s = Shape.of(cond.shape);
    return new FloatTensor[] {new FloatTensor(s, m), new FloatTensor(s, not)};
  }

  /** The ops of this file on the converter's current node, or null when op is none of them. */
  static Converter.Val convert(Converter cv, String op) {
    Op.UnaryKind u = UNARY.get(op);
    if (u != null) {
      return cv.emit(new Op.Unary(u, 0f), cv.act(0));
    }
    Op.BinaryKind k = BINARY.get(op);
    if (k != null) {
      return cv.binary(k);
    }
    Boolean prevent = GRADIENT_BLOCKS.get(op);
    if (prevent != null) {
      return cv.in(0) instanceof Converter.ConstVal c
          ? c
          : cv.emit(new Op.StopGradient(prevent), cv.act(0));
    }
    if (op.equals("Select") || op.equals("SelectV2")) {
      return select(cv, op.equals("Select"));
    }
    if (op.equals("Pow")) {
      String x = cv.act(0);
      Cst e = cv.cst(1, "exponent");
      Float p = constantExponent(e);
      if (p == null || e.rank() > cv.shapeOf(x).rank()) {
        throw cv.error("Pow needs one constant exponent, got shape " + Arrays.toString(e.shape));
      }
      return cv.emit(new Op.Unary(Op.UnaryKind.POW, p), x);
    }
    return null;
  }

  /**
   * Select/SelectV2 with a constant condition: then·mask + else·(1 − mask), whose gradients are
   * TensorFlow's where(c, dy, 0) and where(c, 0, dy) (see {@link #masks}).
   */
  private static Converter.Val select(Converter cv, boolean v1) {
    Cst cond = cv.cst(0, "condition");
    String a = cv.act(1);
    String b = cv.act(2);
    if (v1 && cond.rank() != 0 && cond.rank() != cv.shapeOf(a).rank()) {
      throw cv.error("Select with a condition of rank " + cond.rank() + " is not supported");
    }
    FloatTensor[] m = masks(cond);
    String path = cv.current().path;
    String ma = cv.add(path + "/mask", new Op.Const(m[0]));
    String mb = cv.add(path + "/not_mask", new Op.Const(m[1]));
    String pa = cv.add(path + "/then", new Op.Binary(Op.BinaryKind.MUL), a, ma);
    String pb = cv.add(path + "/else", new Op.Binary(Op.BinaryKind.MUL), b, mb);
    return cv.emit(new Op.Binary(Op.BinaryKind.ADD), pa, pb);
  }
}
