package dev.segcam.backend.cpu;

import dev.segcam.SegcamException;
import dev.segcam.backend.BackwardPlan;
import dev.segcam.backend.NotDifferentiableException;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Data-gradient backward pass of an IR graph on the CPU: from seeded nodes (dL/d node output) down
 * to the deepest requested layer and no further. Never computes weight gradients.
 *
 * <p>Only nodes on a path from some requested layer to some seeded node are visited, in reverse
 * topological order; a node read by several consumers (skip connections) sums their gradients.
 *
 * <p>K targets share one forward pass: the seeds may have batch B = K·N while the forward values
 * have batch N. Gradient item b then belongs to image b % N (the values tiled K times along the
 * batch, target-major: b = k·N + n), and every returned gradient has batch B.
 *
 * <p>Semantics follow TensorFlow's C++ gradient registry (what Graph.addGradients runs): Relu's
 * gradient is 0 at x == 0, MaxPool routes to the first maximum of a window in row-major order,
 * AvgPool divides by the count of real pixels, ResizeBilinear scatters with the forward weights.
 */
public final class CpuBackward {
  /** -Dsegcam.backward.profile=true prints each node's backward time to stderr. */
  private static final boolean PROFILE = Boolean.getBoolean("segcam.backward.profile");

  /** Stands in for a null pool: one thread runs every loop inline and owns no threads. */
  private static final Parallel CALLER_THREAD = new Parallel(1);

  private CpuBackward() {}

  /** Single-threaded backward; see {@link #backward(Graph, Map, Map, Collection, Parallel)}. */
  public static Map<String, FloatTensor> backward(
      Graph g,
      Map<String, FloatTensor> values,
      Map<String, FloatTensor> seeds,
      Collection<String> layers) {
    return backward(g, values, seeds, layers, null);
  }

  /**
   * Gradients of sum(seed · node) over all seeds with respect to each requested layer.
   *
   * @param values forward values of (at least) every node on a path from a layer to a seed and of
   *     their inputs, batch N
   * @param seeds node name -> dL/d(node output), batch K·N
   * @param layers node names whose gradients to return
   * @param pool threads to run on (e.g. {@link CpuEngine#parallel()}), or null for the caller's
   * @return layer name -> dL/d(layer output), batch K·N, in the order of {@code layers}
   * @throws NotDifferentiableException if a layer does not affect any seeded node
   */
  public static Map<String, FloatTensor> backward(
      Graph g,
      Map<String, FloatTensor> values,
      Map<String, FloatTensor> seeds,
      Collection<String> layers,
      Parallel pool) {
    if (layers == null || layers.isEmpty()) {
      throw new SegcamException("backward: no layers requested");
    }
    if (seeds == null || seeds.isEmpty()) {
      throw new SegcamException("backward: no seeds (output gradients) given");
    }
    return new Pass(g, values, seeds, pool == null ? CALLER_THREAD : pool).run(layers);
  }

  /** One backward run: the state shared by the per-op gradient rules. */
  private static final class Pass {
    private final Graph g;
    private final Map<String, FloatTensor> values;
    private final Map<String, FloatTensor> seeds;
    private final Parallel pool;
    private final List<Node> nodes;
    private final Map<String, Integer> index = new HashMap<>();
    private final FloatTensor[] grad;
    private final boolean[] owned;
    private int batch = -1;
    private boolean[] isLayer;
    private boolean[] visit;

    Pass(Graph g, Map<String, FloatTensor> values, Map<String, FloatTensor> seeds, Parallel pool) {
      this.g = g;
      this.values = values;
      this.seeds = seeds;
      this.pool = pool;
      this.nodes = g.nodes();
      for (int i = 0; i < nodes.size(); i++) {
        index.put(nodes.get(i).name(), i);
      }
      this.grad = new FloatTensor[nodes.size()];
      this.owned = new boolean[nodes.size()];
    }

    Map<String, FloatTensor> run(Collection<String> layers) {
      int n = nodes.size();
      isLayer = new boolean[n];
      for (String l : layers) {
        isLayer[index(l)] = true;
      }
      for (Map.Entry<String, FloatTensor> e : seeds.entrySet()) {
        checkSeed(nodes.get(index(e.getKey())), e.getValue());
      }
      visit = BackwardPlan.onPath(g, index, seeds.keySet(), layers);
      for (Map.Entry<String, FloatTensor> e : seeds.entrySet()) {
        int i = index.get(e.getKey());
        if (visit[i]) {
          accumulate(i, e.getValue(), false);
        }
      }
      for (int i = n - 1; i >= 0; i--) {
        if (!visit[i] || grad[i] == null) {
          continue;
        }
        Node node = nodes.get(i);
        List<String> ins = node.inputs();
        boolean[] want = new boolean[ins.size()];
        boolean any = false;
        for (int k = 0; k < ins.size(); k++) {
          want[k] = visit[index.get(ins.get(k))];
          any |= want[k];
        }
        if (any) {
          FloatTensor[] dx;
          long t0 = PROFILE ? System.nanoTime() : 0;
          try {
            Step step = new Step(this, node, grad[i], want);
            CpuOpTable.TABLE.backward(node.op()).run(step, node.op());
            dx = step.dx;
          } catch (SegcamException e) {
            throw e.atNode(node.name(), node.op().type());
          }
          for (int k = 0; k < ins.size(); k++) {
            if (want[k] && dx[k] != null) {
              accumulate(index.get(ins.get(k)), dx[k], owns(dx[k], grad[i]));
            }
          }
          if (PROFILE) {
            System.err.printf(
                "backward %-24s %-16s %s %8.2f ms%n",
                node.name(), node.op().type(), grad[i].shape(), (System.nanoTime() - t0) / 1e6);
          }
        }
        if (!isLayer[i]) {
          grad[i] = null;
        }
      }
      Map<String, FloatTensor> out = new LinkedHashMap<>();
      for (String l : layers) {
        FloatTensor t = grad[index.get(l)];
        out.put(l, owned[index.get(l)] ? t : t.copy());
      }
      return out;
    }

    private static boolean owns(FloatTensor dx, FloatTensor dy) {
      return dx.data() != dy.data();
    }

    private int index(String name) {
      Integer i = index.get(name);
      if (i == null) {
        g.node(name); // throws UnknownNodeException with suggestions
      }
      return i;
    }

    private void checkSeed(Node node, FloatTensor seed) {
      Shape s = seed.shape();
      if (s.rank() == 0) {
        throw new ShapeException("seed for '" + node.name() + "' has no batch axis: " + s);
      }
      if (batch < 0) {
        batch = s.dim(0);
      } else if (s.dim(0) != batch) {
        throw new ShapeException(
            "seeds differ in batch: " + batch + " vs " + s.dim(0) + " for '" + node.name() + "'");
      }
      FloatTensor v = values.get(node.name());
      Shape ref = v != null ? v.shape() : node.shape();
      boolean ok = ref.rank() == s.rank();
      for (int d = 1; ok && d < s.rank(); d++) {
        ok = ref.dim(d) == Shape.UNKNOWN || ref.dim(d) == s.dim(d);
      }
      if (ok && v != null) {
        ok = v.shape().dim(0) > 0 && s.dim(0) % v.shape().dim(0) == 0;
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

    private void accumulate(int i, FloatTensor dx, boolean isOwned) {
      Node node = nodes.get(i);
      FloatTensor v = values.get(node.name());
      if (v != null && !sameButBatch(v.shape(), dx.shape())) {
        throw new ShapeException(
            "gradient for '"
                + node.name()
                + "' has shape "
                + dx.shape()
                + " but its value is "
                + v.shape());
      }
      FloatTensor cur = grad[i];
      if (cur == null) {
        grad[i] = dx;
        owned[i] = isOwned;
        return;
      }
      if (!cur.shape().equals(dx.shape())) {
        throw new ShapeException(
            "gradients reaching '"
                + node.name()
                + "' differ in shape: "
                + cur.shape()
                + " vs "
                + dx.shape());
      }
      if (!owned[i]) {
        cur = cur.copy();
        grad[i] = cur;
        owned[i] = true;
      }
      float[] a = cur.data();
      float[] b = dx.data();
      for (int k = 0; k < a.length; k++) {
        a[k] += b[k];
      }
    }

    private static boolean sameButBatch(Shape v, Shape gShape) {
      if (v.rank() != gShape.rank()) {
        return false;
      }
      for (int d = 1; d < v.rank(); d++) {
        if (v.dim(d) != gShape.dim(d)) {
          return false;
        }
      }
      return true;
    }

    private FloatTensor value(String name, Node reader) {
      FloatTensor v = values.get(name);
      if (v != null) {
        return v;
      }
      Node n = g.node(name);
      if (n.op() instanceof Op.Const c) {
        return c.value();
      }
      throw new SegcamException(
          "backward through '"
              + reader.name()
              + "' ("
              + reader.op().type()
              + ") needs the forward value of node '"
              + name
              + "', which was not given");
    }

    /**
     * Shape of a node's value: from the given value, a Const, or else the declared shape when all
     * but the batch are known (leading dim may then be unknown). Lets the backward run through ops
     * that only need their inputs' shapes without the caller keeping those values.
     */
    private Shape shapeOf(String name, Node reader) {
      FloatTensor v = values.get(name);
      if (v != null) {
        return v.shape();
      }
      Node n = g.node(name);
      if (n.op() instanceof Op.Const c) {
        return c.value().shape();
      }
      Shape s = n.shape();
      boolean known = s.rank() > 0;
      for (int d = 1; known && d < s.rank(); d++) {
        known = s.dim(d) != Shape.UNKNOWN;
      }
      if (known) {
        return s;
      }
      return value(name, reader).shape(); // throws, naming what is missing
    }

    /** Shape of an input's gradient: its forward value's shape with the gradient batch. */
    private Shape gradShape(String input, Node reader, int b) {
      return shapeOf(input, reader).withDim(0, b);
    }

    /**
     * When a conv reads a channel Concat of which only some inputs need gradients (a decoder conv
     * over [upsampled, encoder skip] when the layer is the bottleneck), the channels of the other
     * inputs are never read: returns the channels that are (ascending), or null for all. Only when
     * the Concat's own gradient is not returned, since the others are left zero.
     */
    private int[] neededChannels(String input, int channels) {
      int ci = index.get(input);
      Node cat = nodes.get(ci);
      if (!(cat.op() instanceof Op.Concat cc)
          || isLayer[ci]
          || seeds.containsKey(input)
          || cc.axis() != cat.shape().rank() - 1) {
        return null;
      }
      int[] keep = new int[channels];
      int n = 0;
      int at = 0;
      for (String in : cat.inputs()) {
        Shape s = shapeOf(in, cat);
        int size = s.dim(s.rank() - 1);
        if (visit[index.get(in)]) {
          for (int q = 0; q < size && n < channels; q++) {
            keep[n++] = at + q;
          }
        }
        at += size;
      }
      return n == 0 || n == channels || at != channels ? null : java.util.Arrays.copyOf(keep, n);
    }

    /** The forward value, checked to tile the gradient's batch. */
    private FloatTensor tiledValue(String name, Node reader, FloatTensor dy) {
      FloatTensor v = value(name, reader);
      int n = v.shape().dim(0);
      if (!sameButBatch(v.shape(), dy.shape()) || n == 0 || dy.shape().dim(0) % n != 0) {
        throw new ShapeException(
            "value of '" + name + "' " + v.shape() + " does not tile gradient " + dy.shape());
      }
      return v;
    }
  }

  /**
   * One node's backward step, handed to its rule in {@link CpuOpTable}: dy (batch B = K·N), the
   * node, which inputs need a gradient, and the forward values and shapes through the pass. The
   * rule fills {@link #dx} (null where no gradient is wanted or none exists).
   */
  public static final class Step {
    final Pass pass;
    final Node node;
    final FloatTensor dyT;
    final float[] dy;
    final Shape ds;
    final int b;
    final String in0;
    final boolean[] want;
    final FloatTensor[] dx;

    Step(Pass pass, Node node, FloatTensor dyT, boolean[] want) {
      this.pass = pass;
      this.node = node;
      this.dyT = dyT;
      this.dy = dyT.data();
      this.ds = dyT.shape();
      this.b = ds.dim(0);
      this.in0 = node.inputs().isEmpty() ? null : node.inputs().get(0);
      this.want = want;
      this.dx = new FloatTensor[node.inputs().size()];
    }

    Parallel pool() {
      return pass.pool;
    }

    FloatTensor value(String name) {
      return pass.value(name, node);
    }

    FloatTensor tiledValue(String name) {
      return pass.tiledValue(name, node, dyT);
    }

    Shape shapeOf(String name) {
      return pass.shapeOf(name, node);
    }

    Shape gradShape(String name) {
      return pass.gradShape(name, node, b);
    }

    int[] neededChannels(String input, int channels) {
      return pass.neededChannels(input, channels);
    }

    boolean isConst(String name) {
      return pass.g.node(name).op() instanceof Op.Const;
    }
  }
}
