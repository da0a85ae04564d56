package dev.segcam.savedmodel;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
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
}
