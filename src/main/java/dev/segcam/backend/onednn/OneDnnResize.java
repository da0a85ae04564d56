package dev.segcam.backend.onednn;

import static dev.segcam.backend.onednn.Descs.nhwc;

import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_desc;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Bilinear and nearest resize on oneDNN's resampling primitive, forward and data gradient, NHWC.
 *
 * <p>oneDNN maps an output pixel to source coordinate (o + 0.5)·in/out − 0.5, with edge indices
 * clamped (linear) or rounded (nearest): TensorFlow's {@code half_pixel_centers=True}, {@code
 * align_corners=False}, the Keras default. TensorFlow's other two rules (align_corners; the legacy
 * o·in/out) have no oneDNN equivalent and are refused at plan time ({@link
 * OneDnnUnsupportedException}), so the Java op runs them.
 *
 * <pre>
 * forward   x  (N,H,W,C)   -> y  (N,OH,OW,C)
 * backward  dy (N,OH,OW,C) -> dx (N,H,W,C)
 * </pre>
 *
 * The C++ binding of JavaCPP's preset has no resampling descriptor constructor, so the descriptor
 * comes from the C API and is wrapped (and owned) by a C++ primitive_desc.
 */
public final class OneDnnResize extends OneDnnPrimitive {
  private final int inSize;
  private final int outSize;
  private final boolean backward;

  private OneDnnResize(OneDnnContext ctx, Op.Resize op, Shape x, boolean bwd) {
    super(
        ctx,
        "resize "
            + op.mode()
            + (bwd ? " bwd " : " fwd ")
            + x
            + " -> "
            + op.outH()
            + "x"
            + op.outW());
    String why = unsupportedReason(op);
    if (why != null) {
      throw new OneDnnUnsupportedException("oneDNN " + describe() + ": " + why);
    }
    this.backward = bwd;
    int n = x.dim(0);
    int c = x.dim(3);
    inSize = x.size();
    outSize = n * op.outH() * op.outW() * c;
    memory.desc small = own(nhwc(n, x.dim(1), x.dim(2), c));
    memory.desc big = own(nhwc(n, op.outH(), op.outW(), c));
    int alg =
        op.mode() == Op.ResizeMode.BILINEAR
            ? dnnl.algorithm.resampling_linear.value
            : dnnl.algorithm.resampling_nearest.value;
    primitive_desc fwd =
        cDescriptor(
            "forward descriptor",
            pp ->
                dnnl.dnnl_resampling_forward_primitive_desc_create(
                    pp,
                    ctx.engine().get(),
                    dnnl.prop_kind.forward_training.value,
                    alg,
                    (float[]) null,
                    small.get(),
                    big.get(),
                    null));
    if (buildForward(bwd, fwd, () -> new primitive(fwd), small, big)) {
      return;
    }
    primitive_desc pd =
        cDescriptor(
            "backward descriptor",
            pp ->
                dnnl.dnnl_resampling_backward_primitive_desc_create(
                    pp,
                    ctx.engine().get(),
                    alg,
                    (float[]) null,
                    small.get(),
                    big.get(),
                    fwd.get(),
                    null));
    buildBackward(pd, () -> new primitive(pd), big, small);
  }

  private interface CCreate {
    int call(PointerPointer<dnnl_primitive_desc> out);
  }

  private primitive_desc cDescriptor(String step, CCreate create) {
    try (PointerPointer<dnnl_primitive_desc> pp = new PointerPointer<>(1)) {
      int status = create.call(pp);
      if (status != dnnl.dnnl_success) {
        close();
        throw new OneDnnException(
            "oneDNN " + describe() + ": " + step + " failed with status " + status);
      }
      return new primitive_desc(new dnnl_primitive_desc(pp.get(0)));
    }
  }

  /** Null when oneDNN computes TensorFlow's resize for these attributes, else why not. */
  public static String unsupportedReason(Op.Resize op) {
    if (op.alignCorners()) {
      return "align_corners=True has no oneDNN resampling equivalent";
    }
    if (!op.halfPixelCenters()) {
      return "TensorFlow's legacy coordinates (half_pixel_centers=False) have no oneDNN"
          + " resampling equivalent";
    }
    return null;
  }

  private record Key(Op.Resize op, Shape x, boolean backward) {}

  /** Resize forward for input shape x. */
  public static OneDnnResize forward(OneDnnContext ctx, Op.Resize op, Shape x) {
    return ctx.cached(
        new Key(op, x, false), OneDnnResize.class, () -> new OneDnnResize(ctx, op, x, false));
  }

  /** Resize data gradient for forward input shape x. */
  public static OneDnnResize backward(OneDnnContext ctx, Op.Resize op, Shape x) {
    return ctx.cached(
        new Key(op, x, true), OneDnnResize.class, () -> new OneDnnResize(ctx, op, x, true));
  }

  /** x -> y (forward) or dy -> dx (backward). */
  public float[] run(float[] in) {
    int inArg = backward ? dnnl.DNNL_ARG_DIFF_DST : dnnl.DNNL_ARG_SRC;
    int outArg = backward ? dnnl.DNNL_ARG_DIFF_SRC : dnnl.DNNL_ARG_DST;
    return exec(outArg, backward ? inSize : outSize, new int[] {inArg}, in);
  }
}
