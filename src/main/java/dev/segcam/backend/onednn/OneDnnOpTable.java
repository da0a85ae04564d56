package dev.segcam.backend.onednn;

import dev.segcam.backend.OpTable;
import dev.segcam.backend.cpu.Arena;
import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.backend.cpu.CpuOpTable;
import dev.segcam.backend.cpu.grad.ConvGrad;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The oneDNN backend as an op table over host tensors: convolutions (plain, strided, dilated,
 * depthwise, transposed), pooling, activations, softmax, MatMul, Binary and Resize run on oneDNN
 * primitives, made once per (op instance, input shape) and cached in the {@link OneDnnContext};
 * every other op, and every op instance a primitive refuses at plan time ({@link
 * OneDnnUnsupportedException}, e.g. a Resize with align_corners, a Sub whose first operand is the
 * broadcast one), runs the Java engine's entry of {@link CpuOpTable#TABLE}. The refusal is
 * remembered per op instance, so a refused op costs one failed plan, not one per call.
 *
 * <p>Runs through {@link CpuEngine} (forward) and {@link CpuBackward} (data gradients) exactly as
 * the Java table does; only the entries differ. Primitive execution is serialised on the context
 * (one stream; oneDNN's own OpenMP threads do the parallel work inside each call).
 */
public final class OneDnnOpTable {
  private final OneDnnContext ctx;
  private final Set<Op> refused =
      Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));
  private final OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> table;

  private OneDnnOpTable(OneDnnContext ctx) {
    this.ctx = ctx;
    this.table = build();
  }

  /** The table whose oneDNN entries run on ctx's primitives (ctx outlives every run). */
  public static OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> of(OneDnnContext ctx) {
    return new OneDnnOpTable(ctx).table;
  }

  private OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> build() {
    OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> t = new OpTable<>("onednn");
    put(
        t,
        Op.Conv2D.class,
        (e, op, in, out) -> run(OneDnnConv.conv2d(ctx, op, in.get(0).shape()), in.get(0), out),
        this::conv2dData);
    putConv(t, Op.DepthwiseConv2D.class, OneDnnConv::depthwise, OneDnnConv::depthwiseData);
    putConv(t, Op.Conv2DTranspose.class, OneDnnConv::transpose, OneDnnConv::transposeData);
    put(
        t,
        Op.Pool.class,
        (e, op, in, out) -> {
          OneDnnPool p = OneDnnPool.forward(ctx, op, in.get(0).shape());
          return new FloatTensor(out, exec(() -> p.run(in.get(0).data())));
        },
        (s, op) -> {
          Shape xs = s.gradShape(s.input0());
          OneDnnPool p = OneDnnPool.backward(ctx, op, xs);
          float[] x = op.kind() == Op.PoolKind.MAX ? tiled(s, s.input0()) : null;
          s.setDx(0, new FloatTensor(xs, exec(() -> p.run(x, s.dy().data()))));
          untile(s, s.input0(), x);
        });
    put(
        t,
        Op.Activation.class,
        (e, op, in, out) -> {
          FloatTensor x = in.get(0);
          OneDnnEltwise a = OneDnnEltwise.forward(ctx, op.kind(), op.alpha(), x.size());
          return new FloatTensor(out, exec(() -> a.run(x.data())));
        },
        // the gradient: the Java engine's element-wise rule, over the pool and into dy when the
        // pass may overwrite it. oneDNN's eltwise_backward read twice as much memory here (dy and
        // x copied into its scratch, dx copied out): 2-3x slower (docs/ONEDNN.md, "Backward")
        null);
    put(
        t,
        Op.Softmax.class,
        (e, op, in, out) -> {
          FloatTensor x = in.get(0);
          int n = x.shape().dim(-1);
          OneDnnSoftmax sm = OneDnnSoftmax.forward(ctx, x.size() / n, n);
          return new FloatTensor(out, exec(() -> sm.run(x.data())));
        },
        // the gradient: the Java engine's rule, over the pool, into dy when the pass may overwrite
        // it, reading y modulo the batch (no tiled copy for K targets): 20% less CPU than
        // softmax_backward with its copies, one thread, 512x512 rows of 124 or 21 classes
        null);
    put(
        t,
        Op.MatMul.class,
        (e, op, in, out) -> {
          FloatTensor x = in.get(0);
          if (x.shape().rank() != 2) {
            throw new OneDnnUnsupportedException("MatMul of a rank-" + x.shape().rank() + " input");
          }
          OneDnnMatMul m = OneDnnMatMul.forward(ctx, op, x.shape().dim(0));
          return new FloatTensor(out, exec(() -> m.run(x.data())));
        },
        (s, op) -> {
          FloatTensor dy = s.dy();
          int b = dy.shape().dim(0);
          OneDnnMatMul m = OneDnnMatMul.backward(ctx, op, b);
          Shape xs = Shape.of(b, op.weights().shape().dim(0));
          s.setDx(0, new FloatTensor(xs, exec(() -> m.run(dy.data()))));
        });
    put(
        t,
        Op.Binary.class,
        (e, op, in, out) -> {
          FloatTensor a = in.get(0);
          FloatTensor b = in.get(1);
          if (a.shape().rank() == 0 || b.shape().rank() == 0) {
            throw new OneDnnUnsupportedException("Binary of a scalar");
          }
          OneDnnBinary p = OneDnnBinary.of(ctx, op.kind(), a.shape(), b.shape(), out);
          return new FloatTensor(out, exec(() -> p.run(a.data(), b.data())));
        },
        null);
    put(
        t,
        Op.Resize.class,
        (e, op, in, out) -> {
          String why = OneDnnResize.unsupportedReason(op);
          if (why != null) {
            throw new OneDnnUnsupportedException(why);
          }
          OneDnnResize r = OneDnnResize.forward(ctx, op, in.get(0).shape());
          return new FloatTensor(out, exec(() -> r.run(in.get(0).data())));
        },
        (s, op) -> {
          if (OneDnnResize.unsupportedReason(op) != null) {
            throw new OneDnnUnsupportedException(OneDnnResize.unsupportedReason(op));
          }
          Shape xs = s.gradShape(s.input0());
          OneDnnResize r = OneDnnResize.backward(ctx, op, xs);
          s.setDx(0, new FloatTensor(xs, exec(() -> r.run(s.dy().data()))));
        });
    // Concat is pure data movement: the Java engine's copies the inputs once into the output, where
    // oneDNN's (OneDnnConcat) copies them into native memory, concatenates and copies back
    // (measured:
    // 5.0 vs 7.7 ms at the 1.9M U-Net 256x256 batch 1, 42 vs 75 ms at batch 8, one thread)
    // every other op: the Java engine's entry
    for (Class<?> c : Op.class.getPermittedSubclasses()) {
      @SuppressWarnings("unchecked")
      Class<? extends Op> op = (Class<? extends Op>) c;
      if (t.find(op) == null) {
        OpTable.Entry<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> java =
            CpuOpTable.TABLE.find(op);
        if (java != null) {
          t.put(op, java.forward(), java.backward());
        }
      }
    }
    return t;
  }

  /**
   * Registers an op whose forward (and backward, when not null) run on oneDNN, each falling back to
   * the Java engine's rule for an op instance oneDNN refuses.
   */
  @SuppressWarnings("unchecked")
  private <O extends Op> void put(
      OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> t,
      Class<O> type,
      CpuOpTable.Forward<O> f,
      CpuOpTable.Backward<O> b) {
    OpTable.Entry<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> java =
        CpuOpTable.TABLE.find(type);
    CpuOpTable.Forward<Op> fast = (CpuOpTable.Forward<Op>) f;
    CpuOpTable.Forward<Op> forward =
        (e, op, in, out) -> {
          if (!refused.contains(op)) {
            try {
              return fast.run(e, op, in, out);
            } catch (OneDnnUnsupportedException ex) {
              refused.add(op);
            }
          }
          return java.forward().run(e, op, in, out);
        };
    CpuOpTable.Backward<Op> backward = java.backward();
    if (b != null) {
      CpuOpTable.Backward<Op> fastB = (CpuOpTable.Backward<Op>) b;
      backward =
          (s, op) -> {
            if (!refused.contains(op)) {
              try {
                fastB.run(s, op);
                return;
              } catch (OneDnnUnsupportedException ex) {
                refused.add(op);
              }
            }
            java.backward().run(s, op);
          };
    }
    t.put(type, forward, backward);
  }

  private FloatTensor run(OneDnnConv conv, FloatTensor x, Shape out) {
    return new FloatTensor(out, exec(() -> conv.run(x.data())));
  }

  private void data(CpuBackward.Step s, OneDnnConv conv) {
    Shape xs = s.gradShape(s.input0());
    s.setDx(0, new FloatTensor(xs, exec(() -> conv.run(s.dy().data()))));
  }

  /**
   * Conv2D's data gradient; over a channel Concat of which only some inputs need a gradient (a
   * decoder conv over [upsampled, encoder skip] with the layer below the upsampling) only the
   * channels read are computed (the filter sliced at plan time), the others left zero, as the Java
   * engine's rule does.
   */
  private void conv2dData(CpuBackward.Step s, Op.Conv2D op) {
    Shape xs = s.gradShape(s.input0());
    int channels = xs.dim(3);
    int[] keep =
        op.filter().shape().dim(2) == channels ? s.neededChannels(s.input0(), channels) : null;
    if (keep == null) {
      data(s, OneDnnConv.conv2dData(ctx, op, xs));
      return;
    }
    OneDnnConv conv = OneDnnConv.conv2dData(ctx, op, xs, keep);
    float[] kept = exec(() -> conv.run(s.dy().data()));
    s.setDx(0, new FloatTensor(xs, ConvGrad.scatterChannels(kept, keep, channels, s.pool())));
    Arena.recycle(kept);
  }

  /**
   * A forward value repeated to dy's batch B = K·N (K targets over N images, target-major): the
   * primitives take one batch per operand, unlike the Java kernels, which index modulo N.
   */
  private static float[] tiled(CpuBackward.Step s, String name) {
    float[] v = s.value(name).data();
    int size = s.gradShape(name).size();
    if (v.length == size) {
      return v;
    }
    float[] out = Arena.floats(size); // scratch: back to the arena after the primitive ran
    for (int at = 0; at < size; at += v.length) {
      System.arraycopy(v, 0, out, at, v.length);
    }
    return out;
  }

  /** Returns a {@link #tiled} copy (not the value itself) to the arena. */
  private static void untile(CpuBackward.Step s, String name, float[] t) {
    if (t != null && t != s.value(name).data()) {
      Arena.recycle(t);
    }
  }

  private float[] exec(Supplier<float[]> call) {
    synchronized (ctx) {
      return call.get();
    }
  }

  /** Plans a convolution primitive of one direction for an op over input shape x. */
  @FunctionalInterface
  private interface ConvPlan<O extends Op> {
    OneDnnConv plan(OneDnnContext ctx, O op, Shape x);
  }

  /** A convolution's entry: its forward and its data gradient, both for the forward's input. */
  private <O extends Op> void putConv(
      OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> t,
      Class<O> c,
      ConvPlan<O> forward,
      ConvPlan<O> data) {
    put(
        t,
        c,
        (e, op, in, out) -> run(forward.plan(ctx, op, in.get(0).shape()), in.get(0), out),
        (s, op) -> data(s, data.plan(ctx, op, s.gradShape(s.input0()))));
  }
}
