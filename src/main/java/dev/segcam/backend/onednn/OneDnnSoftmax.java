package dev.segcam.backend.onednn;

import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.softmax_backward;
import org.bytedeco.dnnl.softmax_forward;

/**
 * Softmax over the last axis on oneDNN (softmax_accurate: max-subtracted, as TensorFlow).
 *
 * <pre>
 * forward   x (rows, n)            -> y  (rows, n)
 * backward  dy (rows, n), y (rows, n) -> dx = (dy - sum(dy·y)) · y
 * </pre>
 */
public final class OneDnnSoftmax extends OneDnnPrimitive {
  private final int size;
  private final boolean backward;

  private OneDnnSoftmax(OneDnnContext ctx, int rows, int n, boolean bwd) {
    super(ctx, "softmax " + (bwd ? "bwd" : "fwd") + " (" + rows + "," + n + ")");
    this.size = rows * n;
    this.backward = bwd;
    memory.desc d = own(Descs.rowMajor(rows, n));
    softmax_forward.primitive_desc fwd =
        make(
            "forward descriptor",
            () ->
                new softmax_forward.primitive_desc(
                    ctx.engine(),
                    dnnl.prop_kind.forward_training,
                    dnnl.algorithm.softmax_accurate,
                    d,
                    d,
                    1));
    if (buildForward(bwd, fwd, () -> new softmax_forward(fwd), d, d)) {
      return;
    }
    buildBackward(
        () ->
            new softmax_backward.primitive_desc(
                ctx.engine(), dnnl.algorithm.softmax_accurate, d, d, d, 1, fwd),
        pd -> new softmax_backward(pd),
        d,
        d);
    bind(dnnl.DNNL_ARG_DST, d);
  }

  private record Key(int rows, int n, boolean backward) {}

  /** Softmax of rows rows of n values. */
  public static OneDnnSoftmax forward(OneDnnContext ctx, int rows, int n) {
    return ctx.cached(
        new Key(rows, n, false), OneDnnSoftmax.class, () -> new OneDnnSoftmax(ctx, rows, n, false));
  }

  /** Its data gradient. */
  public static OneDnnSoftmax backward(OneDnnContext ctx, int rows, int n) {
    return ctx.cached(
        new Key(rows, n, true), OneDnnSoftmax.class, () -> new OneDnnSoftmax(ctx, rows, n, true));
  }

  public float[] run(float[] x) {
    direction(backward, false, "softmax run(x)");
    return exec(dnnl.DNNL_ARG_DST, size, new int[] {dnnl.DNNL_ARG_SRC}, x);
  }

  public float[] run(float[] dy, float[] y) {
    direction(backward, true, "softmax run(dy, y)");
    return exec(
        dnnl.DNNL_ARG_DIFF_SRC, size, new int[] {dnnl.DNNL_ARG_DIFF_DST, dnnl.DNNL_ARG_DST}, dy, y);
  }
}
