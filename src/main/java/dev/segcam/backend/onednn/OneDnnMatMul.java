package dev.segcam.backend.onednn;

import dev.segcam.backend.cpu.Arena;
import dev.segcam.ir.Op;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.matmul;
import org.bytedeco.dnnl.memory;

/**
 * The dense layer on oneDNN's matmul; weights reordered once into the layout matmul prefers.
 *
 * <pre>
 * forward   x (B,I) · W (I,O) [+ bias (O)] -> y (B,O)
 * backward  dy (B,O) · Wᵀ                   -> dx (B,I)   (Wᵀ is a strided view of W, no copy)
 * </pre>
 */
public final class OneDnnMatMul extends OneDnnPrimitive {
  private final int outSize;

  private OneDnnMatMul(OneDnnContext ctx, Op.MatMul op, int batch, boolean bwd) {
    super(ctx, "matmul " + (bwd ? "bwd " : "fwd ") + "B=" + batch + " W" + op.weights().shape());
    int in = op.weights().shape().dim(0);
    int out = op.weights().shape().dim(1);
    int k = bwd ? out : in;
    int m = bwd ? in : out;
    outSize = batch * m;
    memory.desc src = own(Descs.rowMajor(batch, k));
    memory.desc dst = own(Descs.rowMajor(batch, m));
    memory.desc wUser =
        own(
            bwd
                ? Descs.strided(new long[] {out, in}, new long[] {1, out})
                : Descs.rowMajor(in, out));
    memory.desc wAny = own(Descs.any(k, m));
    boolean withBias = !bwd && op.bias() != null;
    memory.desc b = withBias ? own(Descs.rowMajor(1, out)) : null;
    matmul.primitive_desc pd =
        make(
            "descriptor",
            () ->
                withBias
                    ? new matmul.primitive_desc(ctx.engine(), src, wAny, b, dst)
                    : new matmul.primitive_desc(ctx.engine(), src, wAny, dst));
    build(pd, () -> new matmul(pd));
    bind(dnnl.DNNL_ARG_SRC, src);
    bind(dnnl.DNNL_ARG_DST, dst);
    constant(dnnl.DNNL_ARG_WEIGHTS, wUser, pd.weights_desc(), op.weights().data());
    if (withBias) {
      constant(dnnl.DNNL_ARG_BIAS, b, b, op.bias().data());
    }
  }

  private record Key(Op.MatMul op, int batch, boolean backward) {}

  /** Forward for a batch of rows. */
  public static OneDnnMatMul forward(OneDnnContext ctx, Op.MatMul op, int batch) {
    return ctx.cached(
        new Key(op, batch, false),
        OneDnnMatMul.class,
        () -> new OneDnnMatMul(ctx, op, batch, false));
  }

  /** Data gradient for a batch of rows. */
  public static OneDnnMatMul backward(OneDnnContext ctx, Op.MatMul op, int batch) {
    return ctx.cached(
        new Key(op, batch, true), OneDnnMatMul.class, () -> new OneDnnMatMul(ctx, op, batch, true));
  }

  /** x -> y (forward) or dy -> dx (backward). */
  public float[] run(float[] in) {
    write(dnnl.DNNL_ARG_SRC, in);
    execute();
    float[] y = Arena.floats(outSize);
    read(dnnl.DNNL_ARG_DST, y);
    return y;
  }
}
