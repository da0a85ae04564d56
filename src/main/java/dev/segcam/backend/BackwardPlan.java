package dev.segcam.backend;

import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Deque;
import java.util.List;
import java.util.Map;

/**
 * Which nodes a backward pass must visit: those on a path from a requested layer to a seeded node.
 * Shared by the CPU and CUDA backends so both refuse the same layers with the same message.
 */
public final class BackwardPlan {
  private BackwardPlan() {}

  /**
   * Marks, by position in {@code g.nodes()}, the nodes on a path from one of {@code layers} to one
   * of {@code seeds}.
   *
   * @param index node name -> its position in {@code g.nodes()}
   * @throws NotDifferentiableException if a layer does not affect any seeded node
   * @throws dev.segcam.ir.UnknownNodeException if a layer or seed is not a node of {@code g}
   */
  public static boolean[] onPath(
      Graph g, Map<String, Integer> index, Collection<String> seeds, Collection<String> layers) {
    List<Node> nodes = g.nodes();
    int n = nodes.size();
    boolean[] up = new boolean[n]; // node reaches a seed
    Deque<Integer> stack = new ArrayDeque<>();
    for (String s : seeds) {
      int i = index(g, index, s);
      if (!up[i]) {
        up[i] = true;
        stack.push(i);
      }
    }
    while (!stack.isEmpty()) {
      for (String in : nodes.get(stack.pop()).inputs()) {
        int j = index.get(in);
        if (!up[j]) {
          up[j] = true;
          stack.push(j);
        }
      }
    }
    for (String l : layers) {
      if (!up[index(g, index, l)]) {
        throw new NotDifferentiableException("layer '" + l + "' does not affect output " + seeds);
      }
    }
    boolean[] visit = new boolean[n]; // on a path from a layer to a seed
    for (String l : layers) {
      int i = index.get(l);
      if (!visit[i]) {
        visit[i] = true;
        stack.push(i);
      }
    }
    while (!stack.isEmpty()) {
      for (String c : g.consumers(nodes.get(stack.pop()).name())) {
        int j = index.get(c);
        if (up[j] && !visit[j]) {
          visit[j] = true;
          stack.push(j);
        }
      }
    }
    return visit;
  }

  private static int index(Graph g, Map<String, Integer> index, String name) {
    Integer i = index.get(name);
    if (i == null) {
      g.node(name); // throws UnknownNodeException with suggestions
    }
    return i;
  }
}
