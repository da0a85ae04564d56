package dev.segcam.backend.onednn;

import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.backend.cpu.CpuFusion;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Convolution + activation as one oneDNN primitive: the activation is an eltwise post-op of the
 * convolution (bias already in it), so the activated output is written once, with no second
 * primitive and none of its copies into and out of native memory. Conv2D and DepthwiseConv2D (every
 * activation kind the IR has); the engine fuses only where nothing else reads the convolution's own
 * output ({@link CpuEngine}'s plan), and the activation's gradient reads its output for the ReLU
 * family ({@link Op.Activation#gradReads}), so a backward never needs it.
 */
public final class OneDnnFusion implements CpuFusion {
  private final OneDnnContext ctx;
  private final Set<Op> refused =
      Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));

  private OneDnnFusion(OneDnnContext ctx) {
    this.ctx = ctx;
  }

  /** The fusion whose primitives live in ctx (ctx outlives every run). */
  public static CpuFusion of(OneDnnContext ctx) {
    return new OneDnnFusion(ctx);
  }

  @Override
  public boolean fuses(Op producer, Op.Activation act) {
    return (producer instanceof Op.Conv2D
            || producer instanceof Op.DepthwiseConv2D
            || producer instanceof Op.Conv2DTranspose)
        && !refused.contains(producer);
  }

  @Override
  public FloatTensor run(
      CpuEngine engine, Op producer, Op.Activation act, List<FloatTensor> in, Shape out) {
    FloatTensor x = in.get(0);
    OneDnnConv conv;
    try {
      if (producer instanceof Op.Conv2D c) {
        conv = OneDnnConv.conv2d(ctx, c, x.shape(), act);
      } else if (producer instanceof Op.DepthwiseConv2D d) {
        conv = OneDnnConv.depthwise(ctx, d, x.shape(), act);
      } else {
        conv = OneDnnConv.transpose(ctx, (Op.Conv2DTranspose) producer, x.shape(), act);
      }
    } catch (OneDnnUnsupportedException e) {
      refused.add(producer); // the op table's own entry then runs it (or the Java engine's)
      return null;
    }
    synchronized (ctx) {
      return new FloatTensor(out, conv.run(x.data()));
    }
  }
}
