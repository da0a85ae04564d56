package dev.segcam.backend;

import dev.segcam.SegcamException;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The reverse-mode data-gradient driver, written once for every backend: from seeded nodes (dL/d
 * node output) down to the deepest requested layer and no further, in reverse topological order,
 * summing the gradients of a node read by several consumers (skip connections). Never computes
 * weight gradients. A backend supplies its tensors and its per-op rules through {@link Ops}.
 *
 * <p>K targets share one forward pass: the seeds may have batch B = K·N while the forward values
 * have batch N (target-major: b = k·N + n); every gradient has batch B.
 *
 * @param <T> the backend's tensor type
 */
public final class Backprop<T> {
  /** What a backend supplies: tensor bookkeeping and its op table's backward rules. */
  public interface Ops<T> {
    Shape shape(T t);

    /** The shape of a node's forward value, or null when the backend was not given it. */
    Shape valueShape(Node node);

    /** A reference to a caller's seed; it must not be written. */
    T borrow(T seed);

    /**
     * Runs the node's backward rule: one gradient per input (null where not wanted or none), each a
     * new reference the driver will hand on or release.
     */
    T[] inputGradients(Backprop<T> pass, Node node, T dy, boolean[] want);

    /** cur + dx, taking over both references; may write into cur when it is not shared. */
    T add(T cur, T dx);

    /** A gradient handed to the caller as its own (copied when it is still shared). */
    T handOut(T grad);

    /** Drops a reference. */
    void release(T t);
  }

  private final Graph g;
  private final Ops<T> ops;
  private final List<Node> nodes;
  private final Map<String, Integer> index = new HashMap<>();
  private final Map<String, T> seeds;
  private final Object[] grad;
  private boolean[] isLayer;
  private boolean[] visit;
  private int batch = -1;
  private final boolean guided;

  private Backprop(Graph g, Map<String, T> seeds, Ops<T> ops, boolean guided) {
    this.g = g;
    this.ops = ops;
    this.seeds = seeds;
    this.guided = guided;
    this.nodes = g.nodes();
    for (int i = 0; i < nodes.size(); i++) {
      index.put(nodes.get(i).name(), i);
    }
    this.grad = new Object[nodes.size()];
  }

  /**
   * Gradients of sum(seed · node) over all seeds with respect to each requested layer.
   *
   * @return layer name -> dL/d(layer output), batch K·N, in the order of {@code layers}, owned by
   *     the caller
   * @throws NotDifferentiableException if a layer does not affect any seeded node
   */
  public static <T> Map<String, T> run(
      Graph g, Map<String, T> seeds, Collection<String> layers, Ops<T> ops) {
    return run(g, seeds, layers, ops, false);
  }

  /**
   * {@link #run(Graph, Map, Collection, Ops)}, with {@code guided} the ReLUs pass only positive
   * gradients where their input is positive (guided backpropagation, Springenberg et al.): each
   * backend's ReLU rule asks {@link #guided()}.
   */
  public static <T> Map<String, T> run(
      Graph g, Map<String, T> seeds, Collection<String> layers, Ops<T> ops, boolean guided) {
    if (layers == null || layers.isEmpty()) {
      throw new SegcamException("backward: no layers requested");
    }
    if (seeds == null || seeds.isEmpty()) {
      throw new SegcamException("backward: no seeds (output gradients) given");
    }
    return new Backprop<>(g, seeds, ops, guided).run(layers);
  }

  /** Whether the ReLUs take guided backpropagation's rule in this pass. */
  public boolean guided() {
    return guided;
  }

  /** The graph. */
  public Graph graph() {
    return g;
  }

  /** Whether the pass visits a node (it lies between a requested layer and a seed). */
  public boolean visits(String node) {
    return visit[index(node)];
  }

  /** Whether a node's gradient is returned to the caller. */
  public boolean isLayer(String node) {
    return isLayer[index(node)];
  }

  /** Whether the caller seeded a node. */
  public boolean isSeeded(String node) {
    return seeds.containsKey(node);
  }

  @SuppressWarnings("unchecked")
  private T grad(int i) {
    return (T) grad[i];
  }

  private Map<String, T> run(Collection<String> layers) {
    int n = nodes.size();
    isLayer = new boolean[n];
    for (String l : layers) {
      isLayer[index(l)] = true;
    }
    for (Map.Entry<String, T> e : seeds.entrySet()) {
      checkSeed(nodes.get(index(e.getKey())), ops.shape(e.getValue()));
    }
    visit = BackwardPlan.onPath(g, index, seeds.keySet(), layers);
    try {
      for (Map.Entry<String, T> e : seeds.entrySet()) {
        int i = index.get(e.getKey());
        if (visit[i]) {
          accumulate(i, ops.borrow(e.getValue()));
        }
      }
      for (int i = n - 1; i >= 0; i--) {
        if (!visit[i] || grad[i] == null) {
          continue;
        }
        step(i);
        if (!isLayer[i]) {
          ops.release(grad(i));
          grad[i] = null;
        }
      }
      Map<String, T> out = new LinkedHashMap<>();
      for (String l : layers) {
        int i = index.get(l);
        if (!out.containsKey(l)) {
          out.put(l, ops.handOut(grad(i)));
          grad[i] = null;
        }
      }
      return out;
    } finally {
      for (int i = 0; i < n; i++) {
        if (grad[i] != null) {
          ops.release(grad(i));
          grad[i] = null;
        }
      }
    }
  }

  /** Runs node i's rule and adds its input gradients into theirs. */
  private void step(int i) {
    Node node = nodes.get(i);
    List<String> ins = node.inputs();
    boolean[] want = new boolean[ins.size()];
    boolean any = false;
    for (int k = 0; k < ins.size(); k++) {
      want[k] = visit[index.get(ins.get(k))];
      any |= want[k];
    }
    if (!any) {
      return;
    }
    T[] dx;
    try {
      dx = ops.inputGradients(this, node, grad(i), want);
    } catch (SegcamException e) {
      throw e.atNode(node.name(), node.op().type());
    }
    for (int k = 0; k < ins.size(); k++) {
      T d = dx[k];
      if (d == null) {
        continue;
      }
      dx[k] = null;
      try {
        if (!want[k]) {
          ops.release(d);
        } else {
          accumulate(index.get(ins.get(k)), d);
        }
      } catch (RuntimeException | Error e) {
        for (T rest : dx) {
          if (rest != null) {
            ops.release(rest);
          }
        }
        throw e;
      }
    }
  }

  private int index(String name) {
    Integer i = index.get(name);
    if (i == null) {
      g.node(name); // throws UnknownNodeException with suggestions
    }
    return i;
  }

  private void checkSeed(Node node, Shape s) {
    if (s.rank() == 0) {
      throw new ShapeException("seed for '" + node.name() + "' has no batch axis: " + s);
    }
    if (batch < 0) {
      batch = s.dim(0);
    } else if (s.dim(0) != batch) {
      throw new ShapeException(
          "seeds differ in batch: " + batch + " vs " + s.dim(0) + " for '" + node.name() + "'");
    }
    Shape v = ops.valueShape(node);
    Shape ref = v != null ? v : node.shape();
    boolean ok = ref.rank() == s.rank();
    for (int d = 1; ok && d < s.rank(); d++) {
      ok = ref.dim(d) == Shape.UNKNOWN || ref.dim(d) == s.dim(d);
    }
    if (ok && v != null) {
      ok = v.dim(0) > 0 && s.dim(0) % v.dim(0) == 0;
    }
    if (!ok) {
      throw new ShapeException(
          "seed for '"
              + node.name()
              + "' has shape "
              + s
              + ", node value is "
              + ref
              + " (seed batch must be a multiple of the value batch)");
    }
  }

  /** Adds a gradient (whose reference passes to the driver) into node i's. */
  private void accumulate(int i, T dx) {
    Node node = nodes.get(i);
    Shape v = ops.valueShape(node);
    Shape ds = ops.shape(dx);
    if (v != null && !sameButBatch(v, ds)) {
      ops.release(dx);
      throw new ShapeException(
          "gradient for '" + node.name() + "' has shape " + ds + " but its value is " + v);
    }
    T cur = grad(i);
    if (cur == null) {
      grad[i] = dx;
      return;
    }
    if (!ops.shape(cur).equals(ds)) {
      ops.release(dx);
      throw new ShapeException(
          "gradients reaching '"
              + node.name()
              + "' differ in shape: "
              + ops.shape(cur)
              + " vs "
              + ds);
    }
    grad[i] = null; // add takes over cur: never release it twice
    grad[i] = ops.add(cur, dx);
  }

  /** Same rank and the same dims but the batch. */
  public static boolean sameButBatch(Shape v, Shape g) {
    if (v.rank() != g.rank()) {
      return false;
    }
    for (int d = 1; d < v.rank(); d++) {
      if (v.dim(d) != g.dim(d)) {
        return false;
      }
    }
    return true;
  }
}
