package dev.segcam.savedmodel;

import dev.segcam.ir.Op;
import java.util.Map;

/**
 * The TensorFlow ops that import as element-wise IR ops beyond the activations and Add/Sub/Mul/
 * RealDiv: one-input math as {@link Op.Unary}, Maximum/Minimum/SquaredDifference as {@link
 * Op.Binary}, StopGradient/PreventGradient as {@link Op.StopGradient}. Converter dispatches here
 * for the op names it does not know itself.
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
}
