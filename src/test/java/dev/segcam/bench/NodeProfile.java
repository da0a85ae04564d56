package dev.segcam.bench;

import dev.segcam.backend.cpu.CpuConv;
import dev.segcam.backend.cpu.CpuOps;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Per-node and per-op-type times of segcam's forward and backward.
 *
 * <p>Forward: the engine offers no hooks, so each node's kernel ({@link CpuOps}, what CpuEngine
 * calls for that op) is re-run on the node's recorded inputs, median of a few runs. Only the op
 * kinds the benchmark's U-Net has are covered; others are listed as not timed.
 *
 * <p>Backward: CpuBackward's own per-node timer ({@code -Dsegcam.backward.profile=true}, read once
 * when the class loads, printed to stderr), captured and parsed.
 */
final class NodeProfile {
  record Row(String node, String type, String shape, double ms) {}

  private NodeProfile() {}

  // values: every node's forward value (batch 1) -> per node median ms
  static List<Row> forward(Graph g, Map<String, FloatTensor> values, Parallel par, int reps) {
    List<Row> rows = new ArrayList<>();
    for (Node n : g.nodes()) {
      Op op = n.op();
      List<FloatTensor> in = new ArrayList<>();
      for (String i : n.inputs()) {
        in.add(values.get(i));
      }
      Shape outShape = values.get(n.name()).shape();
      Supplier<FloatTensor> run = kernel(op, in, outShape, par);
      if (run == null) {
        if (!(op instanceof Op.Input || op instanceof Op.Const)) {
          rows.add(new Row(n.name(), op.type() + " (not timed)", outShape.toString(), 0));
        }
        continue;
      }
      double[] t = new double[reps];
      for (int r = 0; r < reps; r++) {
        long t0 = System.nanoTime();
        run.get();
        t[r] = (System.nanoTime() - t0) / 1e6;
      }
      Arrays.sort(t);
      rows.add(new Row(n.name(), op.type(), outShape.toString(), t[reps / 2]));
    }
    return rows;
  }

  private static Supplier<FloatTensor> kernel(
      Op op, List<FloatTensor> in, Shape outShape, Parallel p) {
    if (op instanceof Op.Conv2D c) {
      CpuConv.PackedConv w = CpuConv.PackedConv.of(c.filter());
      return () -> CpuConv.conv2d(p, in.get(0), c, w);
    }
    if (op instanceof Op.Conv2DTranspose c) {
      return () -> CpuConv.conv2dTranspose(p, in.get(0), c, outShape);
    }
    if (op instanceof Op.BiasAdd b) {
      return () -> CpuOps.biasAdd(p, in.get(0), b.bias().data());
    }
    if (op instanceof Op.Activation a) {
      return () -> CpuOps.activation(p, in.get(0), a.kind(), a.alpha());
    }
    if (op instanceof Op.Pool pool) {
      return () -> CpuOps.pool(p, in.get(0), pool);
    }
    if (op instanceof Op.Concat c) {
      return () -> CpuOps.concat(p, in, c.axis(), outShape);
    }
    if (op instanceof Op.Resize r) {
      return () -> CpuOps.resize(p, in.get(0), r);
    }
    if (op instanceof Op.Softmax) {
      return () -> CpuOps.softmax(p, in.get(0));
    }
    return null;
  }

  /**
   * Runs body with stderr captured and parses CpuBackward's profile lines ("backward NAME TYPE
   * SHAPE MS ms"); empty when the profile flag was not set when CpuBackward loaded.
   */
  static List<Row> backward(Runnable body) {
    PrintStream old = System.err;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      body.run();
    } finally {
      System.setErr(old);
    }
    List<Row> rows = new ArrayList<>();
    for (String line : buf.toString(StandardCharsets.UTF_8).split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length == 6 && f[0].equals("backward") && f[5].equals("ms")) {
        rows.add(new Row(f[1], f[2], f[3], Double.parseDouble(f[4])));
      } else if (!line.isBlank()) {
        old.println(line);
      }
    }
    return rows;
  }

  /** Op type -> total ms, largest first. */
  static Map<String, Double> byType(List<Row> rows) {
    Map<String, Double> m = new LinkedHashMap<>();
    rows.stream()
        .sorted((a, b) -> Double.compare(b.ms(), a.ms()))
        .forEach(r -> m.merge(r.type(), r.ms(), Double::sum));
    Map<String, Double> sorted = new LinkedHashMap<>();
    m.entrySet().stream()
        .sorted((a, b) -> Double.compare(b.getValue(), a.getValue()))
        .forEach(e -> sorted.put(e.getKey(), e.getValue()));
    return sorted;
  }

  static String text(String title, List<Row> rows) {
    double total = rows.stream().mapToDouble(Row::ms).sum();
    StringBuilder b = new StringBuilder();
    b.append(String.format("%s: total %.1f ms%n", title, total));
    b.append("  by op type:\n");
    byType(rows)
        .forEach(
            (k, v) ->
                b.append(String.format("    %-22s %9.1f ms  %5.1f%%%n", k, v, 100 * v / total)));
    b.append("  by node (largest first):\n");
    rows.stream()
        .sorted((x, y) -> Double.compare(y.ms(), x.ms()))
        .limit(15)
        .forEach(
            r ->
                b.append(
                    String.format(
                        "    %-24s %-18s %-18s %9.1f ms  %5.1f%%%n",
                        r.node(), r.type(), r.shape(), r.ms(), 100 * r.ms() / total)));
    return b.toString();
  }
}
