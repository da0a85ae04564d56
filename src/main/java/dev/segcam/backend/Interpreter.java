package dev.segcam.backend;

import dev.segcam.SegcamException;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Shape;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * The forward interpreter, written once for every backend: runs the graph's nodes in order, each on
 * its inputs' values, attaching the node to any error it raises ({@link SegcamException#atNode}),
 * and drops a value after its last reader unless the caller keeps it. A backend supplies how one
 * node runs (its op table) and how a value is dropped.
 */
public final class Interpreter {
  private Interpreter() {}

  /** Runs one node (graph inputs included) on its inputs' values. */
  @FunctionalInterface
  public interface Step<T> {
    T run(Node node, List<T> inputs, Shape out);
  }

  /**
   * Runs every node of {@code g}.
   *
   * @param shapes every node's inferred shape
   * @param values receives each node's value, in node order; on return it holds the kept values
   *     (and those nobody reads)
   * @param keep which values to keep after their last reader
   * @param drop frees a value that is no longer needed
   */
  public static <T> void forward(
      Graph g,
      Map<String, Shape> shapes,
      Step<T> step,
      Map<String, T> values,
      Predicate<String> keep,
      Consumer<T> drop) {
    List<Node> nodes = g.nodes();
    Map<String, Integer> lastUse = new HashMap<>();
    for (int i = 0; i < nodes.size(); i++) {
      for (String in : nodes.get(i).inputs()) {
        lastUse.put(in, i);
      }
    }
    for (int i = 0; i < nodes.size(); i++) {
      Node n = nodes.get(i);
      List<T> args = new ArrayList<>(n.inputs().size());
      for (String in : n.inputs()) {
        args.add(values.get(in));
      }
      T v;
      try {
        v = step.run(n, args, shapes.get(n.name()));
      } catch (SegcamException e) {
        throw e.atNode(n.name(), n.op().type());
      }
      values.put(n.name(), v);
      for (String in : n.inputs()) {
        if (lastUse.get(in) == i && !keep.test(in) && values.containsKey(in)) {
          drop.accept(values.remove(in));
        }
      }
    }
  }
}
