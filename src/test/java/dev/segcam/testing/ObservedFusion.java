package dev.segcam.testing;

import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.backend.cpu.CpuFusion;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.List;

/**
 * A {@link CpuFusion} that tells a listener of every pair it fused, with the calling thread's CPU
 * time of the fused step (for tests that check what fused, and benchmarks that time it).
 */
public final class ObservedFusion implements CpuFusion {
  private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

  /** Told of each fused step: producer, activation, inputs, result, CPU nanoseconds. */
  @FunctionalInterface
  public interface Listener {
    void fused(Op producer, Op.Activation act, List<FloatTensor> in, FloatTensor out, long nanos);
  }

  private final CpuFusion inner;
  private final Listener listener;

  public ObservedFusion(CpuFusion inner, Listener listener) {
    this.inner = inner;
    this.listener = listener;
  }

  @Override
  public boolean fuses(Op producer, Op.Activation act) {
    return inner.fuses(producer, act);
  }

  @Override
  public FloatTensor run(
      CpuEngine e, Op producer, Op.Activation act, List<FloatTensor> in, Shape out) {
    long c0 = CPU.getCurrentThreadCpuTime();
    FloatTensor v = inner.run(e, producer, act, in, out);
    if (v != null) {
      listener.fused(producer, act, in, v, CPU.getCurrentThreadCpuTime() - c0);
    }
    return v;
  }
}
