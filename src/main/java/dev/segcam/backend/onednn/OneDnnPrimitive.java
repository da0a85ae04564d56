package dev.segcam.backend.onednn;

import dev.segcam.backend.cpu.Arena;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Function;
import java.util.function.Supplier;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.primitive;
import org.bytedeco.dnnl.primitive_desc_base;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * One oneDNN primitive with its argument memories, made once and run many times. Subclasses bind
 * each argument (DNNL_ARG_*) to a memory object owned here; Java float arrays in NHWC (or
 * row-major) are copied in and out at the edges. Weights are reordered once, at creation, into the
 * layout the primitive asked for (oneDNN's {@code any}).
 */
public abstract class OneDnnPrimitive implements AutoCloseable {
  /**
   * {@code -Dsegcam.onednn.profile=true} (read once): every primitive adds the nanoseconds of its
   * copies in, its executes and its copies out to {@link #profile()}, for benchmarks.
   */
  private static final boolean PROFILE = Boolean.getBoolean("segcam.onednn.profile");

  private static final AtomicLongArray PROFILED = new AtomicLongArray(3);

  /**
   * Nanoseconds spent so far copying into primitives, executing them and copying out of them (all
   * zero unless {@code segcam.onednn.profile} is set); reset: start again from zero.
   */
  public static long[] profile(boolean reset) {
    long[] out = new long[3];
    for (int i = 0; i < 3; i++) {
      out[i] = reset ? PROFILED.getAndSet(i, 0) : PROFILED.get(i);
    }
    return out;
  }

  private static long tick() {
    return PROFILE ? System.nanoTime() : 0;
  }

  private static void tock(int what, long t0) {
    if (PROFILE) {
      PROFILED.addAndGet(what, System.nanoTime() - t0);
    }
  }

  final OneDnnContext ctx;
  private final String what;
  private final List<AutoCloseable> owned = new ArrayList<>();
  private final IntMemoryMap args = new IntMemoryMap();
  private final Map<Integer, FloatPointer> views = new HashMap<>();
  private final Map<Integer, Long> lengths = new HashMap<>();
  private final Map<Integer, memory> scratchArgs = new LinkedHashMap<>();
  private long laidAt;
  private primitive prim;
  private String impl = "?";

  /** what names the op and its shapes in error messages, e.g. "conv fwd x(1,64,64,32) …". */
  OneDnnPrimitive(OneDnnContext ctx, String what) {
    this.ctx = ctx;
    this.what = what;
  }

  /**
   * Runs a native call that builds part of this primitive, turning its failure into a typed error.
   */
  final <T> T make(String step, Supplier<T> call) {
    try {
      return call.get();
    } catch (RuntimeException e) {
      close();
      throw new OneDnnException("oneDNN " + what + ": " + step + " failed: " + e.getMessage(), e);
    }
  }

  /** Keeps a native object (or a helper primitive) alive until close. */
  final <T extends AutoCloseable> T own(T p) {
    owned.add(p);
    return p;
  }

  /** Sets the primitive from its descriptor and records which implementation oneDNN chose. */
  final void build(primitive_desc_base pd, Supplier<primitive> make) {
    own(pd);
    impl = make("impl_info_str", () -> pd.impl_info_str().getString());
    prim = own(make("primitive", make));
  }

  /**
   * The forward half of a primitive with a backward: for a forward primitive (backward false)
   * builds it with src and dst bound and returns true; for a backward one keeps fwd (the backward's
   * hint) alive and returns false, and the caller builds the backward ({@link #buildBackward}).
   */
  final boolean buildForward(
      boolean backward,
      primitive_desc_base fwd,
      Supplier<primitive> make,
      memory.desc src,
      memory.desc dst) {
    if (backward) {
      own(fwd);
      return false;
    }
    build(fwd, make);
    bind(dnnl.DNNL_ARG_SRC, src);
    bind(dnnl.DNNL_ARG_DST, dst);
    return true;
  }

  /** Describes (desc) and builds (make) a backward primitive with diff_dst and diff_src bound. */
  final <P extends primitive_desc_base> void buildBackward(
      Supplier<P> desc, Function<P, primitive> make, memory.desc diffDst, memory.desc diffSrc) {
    P pd = make("backward descriptor", desc);
    buildBackward(pd, () -> make.apply(pd), diffDst, diffSrc);
  }

  /** Builds a backward primitive with diff_dst and diff_src bound. */
  final void buildBackward(
      primitive_desc_base pd, Supplier<primitive> make, memory.desc diffDst, memory.desc diffSrc) {
    build(pd, make);
    bind(dnnl.DNNL_ARG_DIFF_DST, diffDst);
    bind(dnnl.DNNL_ARG_DIFF_SRC, diffSrc);
  }

  /**
   * One run: writes in[i] to argument inArgs[i], executes, and reads argument outArg (n values)
   * into a new array.
   */
  final float[] exec(int outArg, int n, int[] inArgs, float[]... in) {
    for (int i = 0; i < inArgs.length; i++) {
      write(inArgs[i], in[i]);
    }
    execute();
    float[] out = Arena.floats(n);
    read(outArg, out);
    return out;
  }

  /** Throws when a forward primitive is run as a backward one, or the reverse. */
  static void direction(boolean backward, boolean wantBackward, String what) {
    if (backward != wantBackward) {
      throw new IllegalStateException(
          what + (backward ? " is a backward primitive" : " is a forward primitive"));
    }
  }

  /**
   * Binds argument arg to a memory of desc d without a buffer of its own: at each run it points
   * into the context's scratch ({@link OneDnnContext#scratch}), which every primitive of the
   * context shares, since runs on one context are serialised and each run copies its inputs in and
   * its output out. So the native memory of the activations is one scratch as large as the largest
   * primitive's arguments, not a copy of every activation and gradient per primitive.
   */
  final memory bind(int arg, memory.desc d) {
    memory m =
        own(make("memory for arg " + arg, () -> new memory(d, ctx.engine(), (Pointer) null)));
    args.put(arg, m);
    scratchArgs.put(arg, m);
    lengths.put(arg, d.get_size() / Float.BYTES);
    return m;
  }

  /**
   * Binds argument arg to a memory of desc d with its own buffer (oneDNN allocates it), for what
   * must outlive one run, e.g. a max pooling's workspace, filled by a forward and read by the
   * backward run after it.
   */
  final memory bindOwned(int arg, memory.desc d) {
    memory m = own(make("memory for arg " + arg, () -> new memory(d, ctx.engine())));
    args.put(arg, m);
    return m;
  }

  /** Points the scratch-bound arguments at this run's place in the context's scratch. */
  private void layOut() {
    if (scratchArgs.isEmpty()) {
      return;
    }
    long total = 0;
    for (int arg : scratchArgs.keySet()) {
      total += OneDnnContext.aligned(lengths.get(arg) * Float.BYTES);
    }
    long base = ctx.scratch(total);
    if (base == laidAt) {
      return;
    }
    long at = base;
    for (Map.Entry<Integer, memory> e : scratchArgs.entrySet()) {
      Pointer p = OneDnnContext.at(at);
      e.getValue().set_data_handle(p);
      views.put(e.getKey(), new FloatPointer(p));
      at += OneDnnContext.aligned(lengths.get(e.getKey()) * Float.BYTES);
    }
    laidAt = base;
  }

  /** The memory bound to argument arg (e.g. a forward's workspace, shared with its backward). */
  final memory memoryOf(int arg) {
    return args.get(arg);
  }

  /** Binds an argument to an existing memory (e.g. weights reordered at creation). */
  final void bindExisting(int arg, memory m) {
    args.put(arg, m);
  }

  /**
   * A constant tensor (weights, bias) given in user layout {@code user}, reordered once into {@code
   * wanted} when they differ, and bound to arg.
   */
  final void constant(int arg, memory.desc user, memory.desc wanted, float[] values) {
    memory src = own(make("user memory for arg " + arg, () -> new memory(user, ctx.engine())));
    long n = user.get_size() / Float.BYTES;
    if (values.length != n) {
      throw new OneDnnException(
          "oneDNN "
              + what
              + ": constant for arg "
              + arg
              + " has "
              + values.length
              + " values, layout needs "
              + n);
    }
    try (FloatPointer fp = new FloatPointer(src.get_data_handle())) {
      fp.put(values);
    }
    if (user.equals(wanted)) {
      bindExisting(arg, src);
      return;
    }
    memory dst =
        own(make("reordered memory for arg " + arg, () -> new memory(wanted, ctx.engine())));
    try (reorder r = make("reorder for arg " + arg, () -> new reorder(src, dst))) {
      r.execute(ctx.stream(), src, dst);
      ctx.stream()._wait();
    }
    bindExisting(arg, dst);
  }

  /** Copies values into argument arg (length must match the argument's layout). */
  final void write(int arg, float[] values) {
    check(arg, values.length, "input");
    layOut();
    long t0 = tick();
    ctx.copyIn(views.get(arg), values);
    tock(0, t0);
  }

  /** Copies argument arg out into dst. */
  final void read(int arg, float[] dst) {
    check(arg, dst.length, "output");
    layOut();
    long t0 = tick();
    ctx.copyOut(views.get(arg), dst);
    tock(2, t0);
  }

  private void check(int arg, int len, String role) {
    Long n = lengths.get(arg);
    if (n == null || n != len) {
      throw new IllegalArgumentException(
          "oneDNN "
              + what
              + ": "
              + role
              + " for arg "
              + arg
              + " has "
              + len
              + " values, expected "
              + n);
    }
  }

  /** Executes the primitive on the context's stream and waits for it. */
  final void execute() {
    layOut();
    long t0 = tick();
    try {
      prim.execute(ctx.stream(), args);
      ctx.stream()._wait();
      tock(1, t0);
    } catch (RuntimeException e) {
      throw new OneDnnException("oneDNN " + what + ": execute failed: " + e.getMessage(), e);
    }
  }

  /** oneDNN's name for the implementation it picked, e.g. "brg_conv_fwd:avx512_core". */
  public String implementation() {
    return impl;
  }

  /** The op and shapes this primitive was made for. */
  public String describe() {
    return what;
  }

  @Override
  public void close() {
    views.clear();
    scratchArgs.clear();
    args.close();
    for (int i = owned.size() - 1; i >= 0; i--) {
      try {
        owned.get(i).close();
      } catch (Exception e) {
        throw new OneDnnException("oneDNN " + what + ": close failed: " + e.getMessage(), e);
      }
    }
    owned.clear();
  }
}
