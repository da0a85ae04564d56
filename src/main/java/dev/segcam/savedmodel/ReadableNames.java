package dev.segcam.savedmodel;

import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/** Readable IR node names after Keras layers, from the flattened TensorFlow node paths. */
final class ReadableNames {
  private static final Pattern CALL_SEGMENT = Pattern.compile("(Stateful)?PartitionedCall(_\\d+)?");

  private ReadableNames() {}

  /**
   * The layer a flattened node path belongs to: call-node segments and the op's own name dropped,
   * e.g. "StatefulPartitionedCall/model/conv2d_3/BiasAdd" -> "model/conv2d_3".
   */
  static List<String> layerPath(String path) {
    List<String> segs = new ArrayList<>();
    for (String s : path.split("/")) {
      if (!s.isEmpty() && !CALL_SEGMENT.matcher(s).matches()) {
        segs.add(s);
      }
    }
    if (segs.isEmpty()) {
      segs.add(path);
    }
    if (segs.size() > 1) {
      segs.remove(segs.size() - 1);
    }
    return segs;
  }

  /** The layer name of a path alone (without the model-wide prefix stripping). */
  static String layerOf(String path) {
    return String.join("/", layerPath(path));
  }

  /**
   * Old name -> readable name. Layer paths lose the scope every node shares (Keras' "model/"), so a
   * Keras layer reads "conv2d_3". Within a layer the last node (the layer's output, as Keras sees
   * it) gets the bare layer name; the others "layer/OpType".
   */
  static Map<String, String> of(Graph g, Set<String> reserved) {
    Map<String, List<String>> paths = new LinkedHashMap<>();
    for (Node n : g.nodes()) {
      if (n.op() instanceof Op.Const && !g.consumers(n.name()).isEmpty()) {
        // An operand constant belongs to the layer of the op that reads it.
        paths.put(n.name(), layerPath(g.consumers(n.name()).get(0)));
      } else if (!(n.op() instanceof Op.Input)) {
        paths.put(n.name(), layerPath(n.name()));
      }
    }
    int common = Integer.MAX_VALUE;
    List<String> first = null;
    for (List<String> p : paths.values()) {
      if (first == null) {
        first = p;
      }
      int k = 0;
      while (k < p.size() - 1 && k < first.size() - 1 && p.get(k).equals(first.get(k))) {
        k++;
      }
      common = Math.min(common, k);
    }
    Map<String, String> layer = new HashMap<>();
    Map<String, String> lastOfLayer = new HashMap<>();
    for (Map.Entry<String, List<String>> e : paths.entrySet()) {
      List<String> p = e.getValue();
      String l = String.join("/", p.subList(Math.min(common, p.size() - 1), p.size()));
      layer.put(e.getKey(), l);
      if (!(g.node(e.getKey()).op() instanceof Op.Const)) {
        lastOfLayer.put(l, e.getKey());
      }
    }
    Set<String> used = new HashSet<>(reserved);
    Map<String, String> out = new LinkedHashMap<>();
    // Bare layer names first, so "layer/Op" names never steal them.
    for (Node n : g.nodes()) {
      if (n.op() instanceof Op.Input) {
        out.put(n.name(), n.name());
        continue;
      }
      String l = layer.get(n.name());
      if (n.name().equals(lastOfLayer.get(l)) && used.add(l)) {
        out.put(n.name(), l);
      }
    }
    for (Node n : g.nodes()) {
      if (out.containsKey(n.name())) {
        continue;
      }
      String base = layer.get(n.name()) + "/" + n.op().type();
      String name = base;
      for (int k = 1; !used.add(name); k++) {
        name = base + "_" + k;
      }
      out.put(n.name(), name);
    }
    return out;
  }

  static Graph rename(Graph g, Map<String, String> names) {
    Graph.Builder b = Graph.builder();
    for (Node n : g.nodes()) {
      List<String> ins = new ArrayList<>();
      for (String in : n.inputs()) {
        ins.add(names.get(in));
      }
      b.add(names.get(n.name()), n.op(), ins);
    }
    for (Map.Entry<String, String> o : g.outputs().entrySet()) {
      b.output(o.getKey(), names.get(o.getValue()));
    }
    return b.build();
  }
}
