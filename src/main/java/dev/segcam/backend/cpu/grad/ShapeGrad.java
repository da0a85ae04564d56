package dev.segcam.backend.cpu.grad;

import dev.segcam.backend.cpu.Arena;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.ir.Op.BinaryKind;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.Dims4;
import dev.segcam.kernels.LayoutKernels;

/** Data gradients of ops that move or combine elements: Concat, Pad, broadcasting binaries. */
public final class ShapeGrad {
  private ShapeGrad() {}

  /** Elements per parallel chunk below which a split is not worth a thread hand-off. */
  private static final int GRAIN = 1 << 14;

  /**
   * Concat's gradient: the slice of dy that each wanted input contributed (null for the others),
   * copied by the pool's threads over the rows before the axis.
   *
   * <p>dy (dims, sum of sizes along axis) -> dx_i (dims with sizes[i] along axis).
   */
  public static float[][] concatData(
      float[] dy, int[] dyDims, int axis, int[] sizes, boolean[] want, Parallel par) {
    int outer = 1;
    for (int d = 0; d < axis; d++) {
      outer *= dyDims[d];
    }
    int inner = 1;
    for (int d = axis + 1; d < dyDims.length; d++) {
      inner *= dyDims[d];
    }
    int total = dyDims[axis];
    float[][] dx = new float[sizes.length][];
    int at = 0;
    for (int k = 0; k < sizes.length; k++) {
      if (want[k]) {
        int size = sizes[k];
        int offset = at;
        int in = inner;
        float[] part = Arena.floats(outer * size * inner); // every element is copied in
        par.parallelFor(
            outer,
            Math.max(1, GRAIN / Math.max(1, size * inner)),
            (lo, hi) ->
                LayoutKernels.concatCopyRows(dy, part, lo, hi, size, in, total, offset, true));
        dx[k] = part;
      }
      at += sizes[k];
    }
    return dx;
  }

  /**
   * Pad's gradient: the interior of dy, the pad_bwd twin over rows of its view.
   *
   * <p>dy (dims + before + after) -> dx (dims); before[d] is the leading pad of axis d.
   */
  public static float[] padData(
      float[] dy, int[] dyDims, int[] dxDims, int[] before, Parallel par) {
    int[] after = new int[dxDims.length];
    for (int d = 0; d < after.length; d++) {
      after[d] = dyDims[d] - dxDims[d] - before[d];
    }
    int[][] v = Dims4.pad(dxDims, before, after);
    int[] x = v[0];
    float[] dx = Arena.zeros(x[0] * x[1] * x[2] * x[3]);
    par.parallelFor(
        x[0] * x[1] * x[2],
        Math.max(1, GRAIN / Math.max(1, x[3])),
        (lo, hi) -> LayoutKernels.pad_bwd_rows(dx, dy, v, lo, hi));
    return dx;
  }

  /**
   * Whether an operand's gradient is dy itself: a + b for either operand, a - b for a, when the
   * operand was not broadcast (its gradient has dy's shape), so nothing is negated or summed.
   */
  public static boolean passesDy(BinaryKind kind, boolean wrtA, Shape grad, Shape dy) {
    return (kind == BinaryKind.ADD || (kind == BinaryKind.SUB && wrtA)) && grad.equals(dy);
  }

  /**
   * Gradient of one operand of a broadcasting a (op) b, reduce-summed over the axes it was
   * broadcast along: the binary_bwd twin over rows of the gradient. Operands are right-aligned to
   * the output's rank; an operand axis of size 1 broadcasts, and along axis 0 an operand shorter
   * than dy is tiled (index mod size), which is how forward values of batch N serve gradients of
   * batch K·N.
   *
   * <p>dy (outDims) -> d{a|b} (gradDims). a (aDims) and b (bDims) are the forward values, read only
   * by the kinds whose gradient reads them (null otherwise). As TensorFlow: da = dy/b and db =
   * dy·((-a/b)/b) for DIV.
   */
  public static float[] binaryData(
      BinaryKind kind,
      boolean wrtA,
      float[] dy,
      int[] outDims,
      float[] a,
      int[] aDims,
      float[] b,
      int[] bDims,
      int[] gradDims,
      Parallel par) {
    int[][] v =
        Dims4.broadcast(
            outDims,
            new int[][] {gradDims, a == null ? gradDims : aDims, b == null ? gradDims : bDims},
            new boolean[] {true, false, false});
    int[] g = v[1];
    float[] dx = Arena.zeros(g[0] * g[1] * g[2] * g[3]);
    par.parallelFor(
        g[0] * g[1] * g[2],
        1,
        (lo, hi) -> LayoutKernels.binary_bwd_rows(dx, dy, a, b, kind, wrtA, v, lo, hi));
    return dx;
  }
}
