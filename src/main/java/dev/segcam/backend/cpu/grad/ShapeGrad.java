package dev.segcam.backend.cpu.grad;

import dev.segcam.backend.cpu.Parallel;
import dev.segcam.ir.Op.BinaryKind;
import dev.segcam.kernels.LayoutKernels;
import java.util.Arrays;

/** Data gradients of ops that move or combine elements: Concat, Pad, broadcasting binaries. */
public final class ShapeGrad {
  private ShapeGrad() {}

  /**
   * Concat's gradient: the slice of dy that each input contributed.
   *
   * <p>dy (dims, sum of sizes along axis) -> dx_i (dims with sizes[i] along axis).
   */
  public static float[][] concatData(float[] dy, int[] dyDims, int axis, int[] sizes) {
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
      float[] part = new float[outer * sizes[k] * inner];
      LayoutKernels.concat_copy(dy, part, outer, sizes[k], inner, total, at, true);
      dx[k] = part;
      at += sizes[k];
    }
    return dx;
  }

  /**
   * Pad's gradient: the interior of dy.
   *
   * <p>dy (dims + before + after) -> dx (dims); before[d] is the leading pad of axis d.
   */
  public static float[] padData(float[] dy, int[] dyDims, int[] dxDims, int[] before) {
    int r = dxDims.length;
    float[] dx = new float[size(dxDims)];
    if (dx.length == 0) {
      return dx;
    }
    int[] dyStrides = strides(dyDims);
    int last = dxDims[r - 1];
    int rows = dx.length / last;
    int[] idx = new int[r];
    for (int row = 0; row < rows; row++) {
      int src = before[r - 1];
      for (int d = 0; d < r - 1; d++) {
        src += (idx[d] + before[d]) * dyStrides[d];
      }
      System.arraycopy(dy, src, dx, row * last, last);
      for (int d = r - 2; d >= 0; d--) {
        if (++idx[d] < dxDims[d]) {
          break;
        }
        idx[d] = 0;
      }
    }
    return dx;
  }

  /**
   * Gradient of one operand of a broadcasting a (op) b, reduce-summed over the axes it was
   * broadcast along. Operands are right-aligned to the output's rank; an operand axis of size 1
   * broadcasts, and along axis 0 an operand or gradient shorter than dy is tiled (index mod size),
   * which is how forward values of batch N serve gradients of batch K·N.
   *
   * <p>dy (outDims) -> d{a|b} (gradDims). a (aDims) and b (bDims) are the forward values, read only
   * by MUL and DIV. As TensorFlow: da = dy/b and db = dy·((-a/b)/b) for DIV.
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
    int r = outDims.length;
    if ((kind == BinaryKind.ADD || kind == BinaryKind.SUB) && Arrays.equals(gradDims, outDims)) {
      float[] dx = dy.clone();
      if (kind == BinaryKind.SUB && !wrtA) {
        for (int i = 0; i < dx.length; i++) {
          dx[i] = -dx[i];
        }
      }
      return dx;
    }
    boolean needsValues = kind.gradReadsValues;
    int[] ga = aligned(gradDims, r);
    int[] va = needsValues ? aligned(aDims, r) : null;
    int[] vb = needsValues ? aligned(bDims, r) : null;
    int[] gStr = strides(ga);
    int[] aStr = needsValues ? strides(va) : null;
    int[] bStr = needsValues ? strides(vb) : null;
    float[] dx = new float[size(gradDims)];
    int last = r == 0 ? 1 : outDims[r - 1];
    int rows = last == 0 ? 0 : dy.length / last;
    boolean reduces = !Arrays.equals(ga, outDims);
    // a reduction sums several rows into one dx entry: then a single range (inline) avoids races
    par.parallelFor(
        rows,
        reduces ? Integer.MAX_VALUE : 1,
        (start, end) -> {
          int[] idx = new int[Math.max(r - 1, 0)];
          // odometer start for row `start`
          int rem = start;
          for (int d = r - 2; d >= 0; d--) {
            idx[d] = rem % outDims[d];
            rem /= outDims[d];
          }
          for (int row = start; row < end; row++) {
            int gBase = 0;
            int aBase = 0;
            int bBase = 0;
            for (int d = 0; d < r - 1; d++) {
              gBase += (idx[d] % ga[d]) * gStr[d];
              if (needsValues) {
                aBase += (idx[d] % va[d]) * aStr[d];
                bBase += (idx[d] % vb[d]) * bStr[d];
              }
            }
            int gl = r == 0 ? 1 : ga[r - 1];
            int al = needsValues && r > 0 ? va[r - 1] : 1;
            int bl = needsValues && r > 0 ? vb[r - 1] : 1;
            int o = row * last;
            for (int j = 0; j < last; j++) {
              float g = dy[o + j];
              float av = needsValues ? a[aBase + j % al] : 0f;
              float bv = needsValues ? b[bBase + j % bl] : 0f;
              dx[gBase + j % gl] += LayoutKernels.binaryPartial(kind, wrtA, g, av, bv);
            }
            for (int d = r - 2; d >= 0; d--) {
              if (++idx[d] < outDims[d]) {
                break;
              }
              idx[d] = 0;
            }
          }
        });
    return dx;
  }

  /** dims right-aligned to rank r, padded with leading 1s. */
  static int[] aligned(int[] dims, int r) {
    int[] out = new int[r];
    Arrays.fill(out, 1);
    System.arraycopy(dims, 0, out, r - dims.length, dims.length);
    return out;
  }

  static int[] strides(int[] dims) {
    int[] s = new int[dims.length];
    int acc = 1;
    for (int d = dims.length - 1; d >= 0; d--) {
      s[d] = acc;
      acc *= dims[d];
    }
    return s;
  }

  static int size(int[] dims) {
    int n = 1;
    for (int d : dims) {
      n *= d;
    }
    return n;
  }
}
