package dev.segcam.backend;

import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

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

  /**
   * The nodes whose forward values the data-gradient rule of {@code node} may read, in every CPU op
   * table (the Java engine's and oneDNN's): as TensorFlow's gradients, a convolution's data
   * gradient, a Concat, a BiasAdd or an average pool read only shapes, an activation the one value
   * {@link Op#gradReads} names, a max pool its input. An op not listed here is taken to read its
   * own value and all its inputs'.
   */
  public static List<String> reads(Node node) {
    Op op = node.op();
    List<String> in = node.inputs();
    if (op instanceof Op.Input
        || op instanceof Op.Const
        || op instanceof Op.Conv2D
        || op instanceof Op.DepthwiseConv2D
        || op instanceof Op.Conv2DTranspose
        || op instanceof Op.Concat
        || op instanceof Op.BiasAdd) {
      return List.of();
    }
    if (op instanceof Op.Pool p) {
      return p.kind() == Op.PoolKind.MAX ? List.of(in.get(0)) : List.of();
    }
    if (op instanceof Op.Binary) {
      return op.gradReads() == Op.GradReads.INPUT ? in : List.of();
    }
    if (op instanceof Op.Activation
        || op instanceof Op.Unary
        || op instanceof Op.Softmax
        || op instanceof Op.LogSoftmax
        || op instanceof Op.Exp) {
      return switch (op.gradReads()) {
        case INPUT -> List.of(in.get(0));
        case OUTPUT -> List.of(node.name());
        case NOTHING -> List.of();
      };
    }
    List<String> all = new ArrayList<>(in);
    all.add(node.name());
    return all;
  }

  /**
   * The forward values a backward from any of {@code kept} to any of {@code kept} reads ({@link
   * #reads} of every node on such a path), with {@code kept} themselves: what a forward must keep
   * for backward passes whose seeds and layers are among {@code kept}.
   */
  public static Set<String> valuesFor(Graph g, Collection<String> kept) {
    Map<String, Integer> index = new HashMap<>();
    List<Node> nodes = g.nodes();
    for (int i = 0; i < nodes.size(); i++) {
      index.put(nodes.get(i).name(), i);
    }
    Set<String> out = new LinkedHashSet<>(kept);
    boolean[] visit = onPath(g, index, kept, kept);
    for (int i = 0; i < visit.length; i++) {
      if (visit[i]) {
        out.addAll(reads(nodes.get(i)));
      }
    }
    return out;
  }

  private static int index(Graph g, Map<String, Integer> index, String name) {
    Integer i = index.get(name);
    if (i == null) {
      g.node(name); // throws UnknownNodeException with suggestions
    }
    return i;
  }
}
