package dev.segcam.backend.cpu;

import dev.segcam.backend.Interpreter;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which producer + activation pairs one forward runs as one step ({@link CpuFusion}), and the
 * per-node dispatch that does it. A producer is fused with its activation when the activation is
 * its only consumer, its value is not kept (not asked for, not read by a backward, not a graph
 * output) and the fusion accepts the pair. The fused producer's node then holds the activation's
 * result (read by nobody but the activation, and dropped after it ran); the activation's node takes
 * that same array, without a second step. Not thread-safe: one plan per forward.
 */
final class FusionPlan {
  private static final FusionPlan NONE = new FusionPlan(null, null, Map.of());

  private final CpuEngine engine;
  private final CpuFusion fusion;
  private final Map<String, Op.Activation> producers;
  private final Set<String> fused = new HashSet<>();

  private FusionPlan(CpuEngine engine, CpuFusion fusion, Map<String, Op.Activation> producers) {
    this.engine = engine;
    this.fusion = fusion;
    this.producers = producers;
  }

  /**
   * The plan for a forward of g keeping {@code kept} (graph outputs included); keepAll: every value
   * is kept (nothing fuses). fusion null: nothing fuses.
   */
  static FusionPlan of(
      Graph g, Set<String> kept, boolean keepAll, CpuFusion fusion, CpuEngine engine) {
    if (fusion == null || keepAll) {
      return NONE;
    }
    Map<String, Op.Activation> producers = new HashMap<>();
    for (Node n : g.nodes()) {
      if (!(n.op() instanceof Op.Activation act) || n.inputs().size() != 1) {
        continue;
      }
      String p = n.inputs().get(0);
      if (kept.contains(p) || g.consumers(p).size() != 1) {
        continue;
      }
      if (fusion.fuses(g.node(p).op(), act)) {
        producers.put(p, act);
      }
    }
    return producers.isEmpty() ? NONE : new FusionPlan(engine, fusion, producers);
  }

  /** The producers this plan fuses with their activation (node names). */
  Set<String> producers() {
    return producers.keySet();
  }

  /** Runs node n: fused, passed through (the activation of a fused producer), or by normal. */
  FloatTensor run(Node n, List<FloatTensor> in, Shape out, Interpreter.Step<FloatTensor> normal) {
    if (producers.isEmpty()) {
      return normal.run(n, in, out);
    }
    Op.Activation act = producers.get(n.name());
    if (act != null) {
      FloatTensor v = fusion.run(engine, n.op(), act, in, out);
      if (v != null) {
        fused.add(n.name());
        return v;
      }
    }
    if (n.op() instanceof Op.Activation && fused.contains(n.inputs().get(0))) {
      return in.get(0); // already activated by its producer
    }
    return normal.run(n, in, out);
  }
}
