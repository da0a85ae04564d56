package dev.segcam.backend.onednn;

import dev.segcam.backend.cpu.Arena;
import dev.segcam.ir.Op.BinaryKind;
import dev.segcam.ir.Shape;
import java.util.Arrays;
import org.bytedeco.dnnl.binary;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;

/**
 * Element-wise a (op) b with NumPy broadcasting on oneDNN's binary primitive. oneDNN's output has
 * src0's shape and broadcasts src1 only, so a must already have the output shape; when only b does
 * and the op commutes (add, mul) the operands swap. Sub/div with a broadcast a are refused at plan
 * time ({@link OneDnnUnsupportedException}): the Java op handles them.
 *
 * <pre>
 * a (...), b (... broadcastable to a) -> out (a's shape)
 * </pre>
 */
public final class OneDnnBinary extends OneDnnPrimitive {
  private final boolean swapped;
  private final int outSize;

  private OneDnnBinary(OneDnnContext ctx, BinaryKind kind, Shape a, Shape b, Shape out) {
    super(ctx, "binary " + kind + " " + a + " " + b + " -> " + out);
    long[] da = aligned(a, out.rank());
    long[] db = aligned(b, out.rank());
    long[] dout = aligned(out, out.rank());
    boolean aFull = Arrays.equals(da, dout);
    boolean bFull = Arrays.equals(db, dout);
    boolean commutes =
        kind == BinaryKind.ADD
            || kind == BinaryKind.MUL
            || kind == BinaryKind.MAXIMUM
            || kind == BinaryKind.MINIMUM;
    if (!aFull && !(bFull && commutes)) {
      throw new OneDnnUnsupportedException(
          "oneDNN binary broadcasts its second operand only: " + describe());
    }
    swapped = !aFull;
    outSize = out.size();
    memory.desc src0 = own(Descs.rowMajor(swapped ? db : da));
    memory.desc src1 = own(Descs.rowMajor(swapped ? da : db));
    memory.desc dst = own(Descs.rowMajor(dout));
    dnnl.algorithm alg =
        switch (kind) {
          case ADD -> dnnl.algorithm.binary_add;
          case SUB -> dnnl.algorithm.binary_sub;
          case MUL -> dnnl.algorithm.binary_mul;
          case DIV -> dnnl.algorithm.binary_div;
          case MAXIMUM -> dnnl.algorithm.binary_max;
          case MINIMUM -> dnnl.algorithm.binary_min;
          case SQUARED_DIFFERENCE ->
              throw new OneDnnUnsupportedException(
                  "oneDNN has no binary squared difference: " + describe());
        };
    binary.primitive_desc pd =
        make("descriptor", () -> new binary.primitive_desc(ctx.engine(), alg, src0, src1, dst));
    build(pd, () -> new binary(pd));
    bind(dnnl.DNNL_ARG_SRC_0, src0);
    bind(dnnl.DNNL_ARG_SRC_1, src1);
    bind(dnnl.DNNL_ARG_DST, dst);
  }

  // dims right-aligned to rank r (leading 1s), as NumPy broadcasting aligns them
  private static long[] aligned(Shape s, int r) {
    long[] d = new long[r];
    Arrays.fill(d, 1);
    for (int i = 0; i < s.rank(); i++) {
      d[r - s.rank() + i] = s.dim(i);
    }
    return d;
  }

  private record Key(BinaryKind kind, Shape a, Shape b, Shape out) {}

  /** a (op) b for these shapes; out is the broadcast shape. */
  public static OneDnnBinary of(OneDnnContext ctx, BinaryKind kind, Shape a, Shape b, Shape out) {
    return ctx.cached(
        new Key(kind, a, b, out), OneDnnBinary.class, () -> new OneDnnBinary(ctx, kind, a, b, out));
  }

  public float[] run(float[] a, float[] b) {
    write(dnnl.DNNL_ARG_SRC_0, swapped ? b : a);
    write(dnnl.DNNL_ARG_SRC_1, swapped ? a : b);
    execute();
    float[] out = Arena.floats(outSize);
    read(dnnl.DNNL_ARG_DST, out);
    return out;
  }
}
