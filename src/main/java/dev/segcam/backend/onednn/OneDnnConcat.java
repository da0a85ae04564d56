package dev.segcam.backend.onednn;

import dev.segcam.backend.cpu.Arena;
import dev.segcam.ir.Shape;
import java.util.List;
import org.bytedeco.dnnl.concat;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.memory_desc_vector;

/**
 * Concatenation along one axis on oneDNN (a U-Net's skip joins: NHWC along C). Not in {@link
 * OneDnnOpTable}: while tensors live in Java arrays the Java engine's Concat (one copy into the
 * output) is faster than this primitive's copies in, concatenation and copy out (docs/ONEDNN.md,
 * "Fusion"); kept, tested, for tensors bound as oneDNN memories.
 *
 * <pre>
 * xs[i] (..., Ci, ...) -> out (..., sum Ci, ...) along axis
 * </pre>
 */
public final class OneDnnConcat extends OneDnnPrimitive {
  private final int parts;
  private final int outSize;

  private OneDnnConcat(OneDnnContext ctx, List<Shape> xs, int axis, Shape out) {
    super(ctx, "concat axis " + axis + " " + xs + " -> " + out);
    parts = xs.size();
    outSize = out.size();
    memory.desc dst = own(Descs.rowMajor(dims(out)));
    memory_desc_vector srcs = own(new memory_desc_vector());
    for (Shape s : xs) {
      srcs.push_back(own(Descs.rowMajor(dims(s))));
    }
    concat.primitive_desc pd =
        make("descriptor", () -> new concat.primitive_desc(ctx.engine(), dst, axis, srcs));
    build(pd, () -> new concat(pd));
    for (int i = 0; i < parts; i++) {
      bind(dnnl.DNNL_ARG_MULTIPLE_SRC + i, srcs.get()[i]);
    }
    bind(dnnl.DNNL_ARG_DST, dst);
  }

  private static long[] dims(Shape s) {
    long[] d = new long[s.rank()];
    for (int i = 0; i < d.length; i++) {
      d[i] = s.dim(i);
    }
    return d;
  }

  private record Key(List<Shape> xs, int axis, Shape out) {}

  /** Concatenation of inputs with these shapes along axis. */
  public static OneDnnConcat of(OneDnnContext ctx, List<Shape> xs, int axis, Shape out) {
    List<Shape> copy = List.copyOf(xs);
    return ctx.cached(
        new Key(copy, axis, out), OneDnnConcat.class, () -> new OneDnnConcat(ctx, copy, axis, out));
  }

  public float[] run(List<float[]> xs) {
    if (xs.size() != parts) {
      throw new IllegalArgumentException(describe() + ": got " + xs.size() + " inputs");
    }
    for (int i = 0; i < parts; i++) {
      write(dnnl.DNNL_ARG_MULTIPLE_SRC + i, xs.get(i));
    }
    execute();
    float[] out = Arena.floats(outSize);
    read(dnnl.DNNL_ARG_DST, out);
    return out;
  }
}
