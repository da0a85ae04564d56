package dev.segcam.backend.onednn;

import static dev.segcam.backend.onednn.Descs.nhwc;

import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.ConvGeometry;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.pooling_backward;
import org.bytedeco.dnnl.pooling_forward;

/**
 * Max and average pooling on oneDNN, NHWC. Average pooling excludes padding from the divisor as
 * TensorFlow does (oneDNN's pooling_avg_exclude_padding); max pooling pads with -inf, so padding
 * never wins, as in TensorFlow.
 *
 * <pre>
 * forward   x (N,H,W,C)                       -> y  (N,OH,OW,C)
 * backward  x (N,H,W,C) [MAX only], dy (N,OH,OW,C) -> dx (N,H,W,C)
 * </pre>
 *
 * MAX's backward routes each gradient to the position the forward picked, recorded in oneDNN's
 * workspace: the backward owns a training-mode forward and reruns it on x first (cheap next to the
 * convolutions), so it never depends on which forward ran last.
 */
public final class OneDnnPool extends OneDnnPrimitive {
  private final ConvGeometry g;
  private final OneDnnPool forward; // MAX backward only
  private final boolean backward;

  private OneDnnPool(OneDnnContext ctx, Op.Pool op, Shape x, boolean backward, boolean training) {
    super(ctx, "pool " + op.type() + (backward ? " bwd " : " fwd ") + x);
    this.backward = backward;
    g = ConvGeometry.ofPool(op, x);
    String why = g.unsupportedReason();
    if (why != null) {
      throw new OneDnnUnsupportedException("oneDNN " + describe() + ": " + why);
    }
    dnnl.algorithm alg =
        op.kind() == Op.PoolKind.MAX
            ? dnnl.algorithm.pooling_max
            : dnnl.algorithm.pooling_avg_exclude_padding;
    memory.desc big = own(nhwc(g.n(), g.h(), g.w(), g.c()));
    memory.desc small = own(nhwc(g.n(), g.oh(), g.ow(), g.c()));
    long[] kernel = {g.kh(), g.kw()};
    long[] st = Descs.strides(g);
    long[] dil = Descs.dilations(g);
    long[] pb = Descs.padBefore(g);
    long[] pa = Descs.padAfter(g);
    dnnl.prop_kind prop =
        training ? dnnl.prop_kind.forward_training : dnnl.prop_kind.forward_inference;
    pooling_forward.primitive_desc fwd =
        make(
            "forward descriptor",
            () ->
                new pooling_forward.primitive_desc(
                    ctx.engine(), prop, alg, big, small, st, kernel, dil, pb, pa));
    if (buildForward(backward, fwd, () -> new pooling_forward(fwd), big, small)) {
      forward = null;
      if (training) {
        bindOwned(dnnl.DNNL_ARG_WORKSPACE, fwd.workspace_desc());
      }
      return;
    }
    buildBackward(
        () ->
            new pooling_backward.primitive_desc(
                ctx.engine(), alg, big, small, st, kernel, dil, pb, pa, fwd),
        pd -> new pooling_backward(pd),
        small,
        big);
    if (op.kind() == Op.PoolKind.MAX) {
      forward = own(new OneDnnPool(ctx, op, x, false, true));
      bindExisting(dnnl.DNNL_ARG_WORKSPACE, forward.memoryOf(dnnl.DNNL_ARG_WORKSPACE));
    } else {
      forward = null;
    }
  }

  private record Key(Op.Pool op, Shape x, boolean backward) {}

  /** Forward pooling of input shape x. */
  public static OneDnnPool forward(OneDnnContext ctx, Op.Pool op, Shape x) {
    return ctx.cached(
        new Key(op, x, false), OneDnnPool.class, () -> new OneDnnPool(ctx, op, x, false, false));
  }

  /** Data gradient of pooling over input shape x. */
  public static OneDnnPool backward(OneDnnContext ctx, Op.Pool op, Shape x) {
    return ctx.cached(
        new Key(op, x, true), OneDnnPool.class, () -> new OneDnnPool(ctx, op, x, true, true));
  }

  /** Forward: x -> y. */
  public float[] run(float[] x) {
    direction(backward, false, "pooling run(x)");
    return exec(dnnl.DNNL_ARG_DST, (int) g.outputSize(), new int[] {dnnl.DNNL_ARG_SRC}, x);
  }

  /** Backward: dy (and x for MAX; may be null for AVG) -> dx. */
  public float[] run(float[] x, float[] dy) {
    direction(backward, true, "pooling run(x, dy)");
    if (forward != null) {
      // refills the workspace with this x's argmax; its dst is not read
      forward.write(dnnl.DNNL_ARG_SRC, x);
      forward.execute();
    }
    return exec(
        dnnl.DNNL_ARG_DIFF_SRC, (int) g.inputSize(), new int[] {dnnl.DNNL_ARG_DIFF_DST}, dy);
  }

  public ConvGeometry geometry() {
    return g;
  }
}
