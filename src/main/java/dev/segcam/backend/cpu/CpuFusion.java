package dev.segcam.backend.cpu;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.util.List;

/**
 * A backend's way to run a producer node (e.g. a convolution) and the activation that is its only
 * reader as one step: the producer's inputs in, the activation's output out, the pre-activation
 * value never materialised. {@link CpuEngine} plans which pairs fuse in each forward ({@link
 * FusionPlan}): only where nobody else reads the producer's value (one consumer, not kept, not a
 * graph output), so the fused result is exactly what the activation's node would have produced.
 */
public interface CpuFusion {
  /** Whether producer followed by act may run as one step (asked while planning a forward). */
  boolean fuses(Op producer, Op.Activation act);

  /**
   * act(producer(in)) of shape out (the producer's shape, which is the activation's), or null when
   * this producer instance cannot be fused after all (then both nodes run on their own).
   */
  FloatTensor run(
      CpuEngine engine, Op producer, Op.Activation act, List<FloatTensor> in, Shape out);
}
