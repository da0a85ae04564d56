package dev.segcam.backend;

import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;

/**
 * The batching rule of a broadcast binary op's gradient, written once for every backend. The
 * gradient dy has batch K·N (K targets on N images) while the forward values have N. An operand of
 * full rank whose batch is N (or unknown) gets a gradient of batch K·N; an operand broadcast over
 * the batch (lower rank, batch 1 against N > 1, or a constant) gets the gradient of its own shape,
 * which is only defined for K = 1: with several targets it would mix their gradients.
 */
public final class BroadcastGrad {
  private BroadcastGrad() {}

  /**
   * The shape of each operand's gradient.
   *
   * @param names the operands' node names (for messages)
   * @param values the operands' forward shapes (a leading dim may be unknown)
   * @param constant whether each operand is a constant
   * @param want which operands need a gradient (null entries come back where false)
   * @param dy the gradient's shape
   */
  public static Shape[] gradShapes(
      String[] names, Shape[] values, boolean[] constant, boolean[] want, Shape dy) {
    int r = dy.rank();
    // the forward batch N: the operands' largest known leading dim among full-rank operands
    int n = -1;
    for (Shape v : values) {
      if (v.rank() == r && v.dim(0) != Shape.UNKNOWN) {
        n = Math.max(n, v.dim(0));
      }
    }
    if (n > 0 && dy.dim(0) % n != 0) {
      throw new ShapeException(
          "gradient batch " + dy.dim(0) + " is not a multiple of the forward batch " + n);
    }
    int k = n > 0 ? dy.dim(0) / n : 1;
    Shape[] out = new Shape[values.length];
    for (int side = 0; side < values.length; side++) {
      if (!want[side]) {
        continue;
      }
      Shape v = values[side];
      boolean batched =
          !constant[side] && v.rank() == r && (v.dim(0) == Shape.UNKNOWN || v.dim(0) == n || n < 0);
      if (!batched && k > 1) {
        throw new NotDifferentiableException(
            "operand '"
                + names[side]
                + "' "
                + v
                + " is broadcast over the batch, so batched targets would mix in its gradient");
      }
      out[side] = batched ? v.withDim(0, dy.dim(0)) : v;
    }
    return out;
  }
}
