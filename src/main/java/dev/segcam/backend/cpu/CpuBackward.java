package dev.segcam.backend.cpu;

import dev.segcam.SegcamException;
import dev.segcam.backend.Backprop;
import dev.segcam.backend.NotDifferentiableException;
import dev.segcam.backend.OpTable;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import java.util.Collection;
import java.util.LinkedHashMap;
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
 *
 * <p>Memory: run inside an entered {@link Arena.Pass} (as {@code CpuCamBackend} does), the rules'
 * gradients come from the engine's arena and each goes back once its last reader (the consumer's
 * rule, or the sum into a node read twice) ran; the returned layer gradients are detached, the
 * caller's for good. Outside a pass every gradient is a fresh array.
 */
public final class CpuBackward {
  /** -Dsegcam.backward.profile=true prints each node's backward time to stderr. */
  private static final boolean PROFILE = Boolean.getBoolean("segcam.backward.profile");

  /**
   * With the profile, -Dsegcam.backward.profile.cpu=true times the calling thread's CPU time
   * instead of wall time: all of a node's work when it runs single-threaded (one pool thread,
   * OMP_NUM_THREADS=1), and what load on a shared machine disturbs least.
   */
  private static final boolean PROFILE_CPU = Boolean.getBoolean("segcam.backward.profile.cpu");

  /** Elements per parallel chunk of a gradient sum below which a thread hand-off does not pay. */
  private static final int ADD_GRAIN = 1 << 15;

  /** Stands in for a null pool: one thread runs every loop inline and owns no threads. */
  private static final Parallel CALLER_THREAD = new Parallel(1);

  private CpuBackward() {}

  /** The Java engine's rules ({@link CpuOpTable}), single-threaded, plain backpropagation. */
  public static Map<String, FloatTensor> backward(
      Graph g,
      Map<String, FloatTensor> values,
      Map<String, FloatTensor> seeds,
      Collection<String> layers) {
    return backward(g, values, seeds, layers, null, CpuOpTable.TABLE, false);
  }

  /**
   * Gradients of sum(seed · node) over all seeds with respect to each requested layer, by the
   * shared driver {@link Backprop} over the rules of {@code table} (e.g. {@link CpuOpTable#TABLE},
   * or {@link CpuEngine#table()}: the Java engine's or one that replaces some of its entries).
   *
   * @param values forward values of (at least) every node on a path from a layer to a seed and of
   *     their inputs, batch N
   * @param seeds node name -> dL/d(node output), batch K·N
   * @param layers node names whose gradients to return
   * @param pool threads to run on (e.g. {@link CpuEngine#parallel()}), or null for the caller's
   * @param guided the ReLUs take guided backpropagation's rule ({@link Backprop#guided()})
   * @return layer name -> dL/d(layer output), batch K·N, in the order of {@code layers}
   * @throws NotDifferentiableException if a layer does not affect any seeded node
   */
  public static Map<String, FloatTensor> backward(
      Graph g,
      Map<String, FloatTensor> values,
      Map<String, FloatTensor> seeds,
      Collection<String> layers,
      Parallel pool,
      OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> table,
      boolean guided) {
    return backward(g, values, Map.of(), seeds, layers, pool, table, guided);
  }

  /**
   * {@link #backward(Graph, Map, Map, Collection, Parallel, OpTable, boolean)} where {@code shapes}
   * (node -> the shape of its forward value, batch N; may be empty) gives the shapes of values not
   * kept, so that a rule reading only a shape (a convolution's data gradient) needs no value.
   */
  public static Map<String, FloatTensor> backward(
      Graph g,
      Map<String, FloatTensor> values,
      Map<String, Shape> shapes,
      Map<String, FloatTensor> seeds,
      Collection<String> layers,
      Parallel pool,
      OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> table,
      boolean guided) {
    Map<String, Grad> wrapped = null;
    if (seeds != null) {
      wrapped = new LinkedHashMap<>();
      for (Map.Entry<String, FloatTensor> e : seeds.entrySet()) {
        wrapped.put(e.getKey(), new Grad(e.getValue(), false));
      }
    }
    Map<String, Grad> out =
        Backprop.run(
            g,
            wrapped,
            layers,
            new Pass(g, values, shapes, pool == null ? CALLER_THREAD : pool, table),
            guided);
    Map<String, FloatTensor> result = new LinkedHashMap<>();
    for (Map.Entry<String, Grad> e : out.entrySet()) {
      result.put(e.getKey(), e.getValue().t());
    }
    return result;
  }

  private static long profileClock() {
    return PROFILE_CPU
        ? java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime()
        : System.nanoTime();
  }

  /** A gradient and whether this pass owns its array (else it is a seed's or shares dy's). */
  record Grad(FloatTensor t, boolean owned) {}

  /** The CPU's side of a backward run: host tensors, forward values and the op table's rules. */
  private static final class Pass implements Backprop.Ops<Grad> {
    private final Graph g;
    private final Map<String, FloatTensor> values;
    private final Map<String, Shape> shapes;
    private final Parallel pool;
    private final OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> table;
    // the arena pass the caller entered (its gradients are recycled as they die), or null
    private final Arena.Pass arena = Arena.current();

    Pass(
        Graph g,
        Map<String, FloatTensor> values,
        Map<String, Shape> shapes,
        Parallel pool,
        OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> table) {
      this.g = g;
      this.values = values;
      this.shapes = shapes;
      this.pool = pool;
      this.table = table;
    }

    @Override
    public Shape shape(Grad t) {
      return t.t().shape();
    }

    @Override
    public Shape valueShape(Node node) {
      FloatTensor v = values.get(node.name());
      return v == null ? shapes.get(node.name()) : v.shape();
    }

    @Override
    public Grad borrow(Grad seed) {
      retain(seed.t());
      return seed;
    }

    @Override
    public Grad[] inputGradients(Backprop<Grad> walk, Node node, Grad dy, boolean[] want) {
      long t0 = PROFILE ? profileClock() : 0;
      // dy may be overwritten when the pass owns it alone and the driver drops it after this
      // step (a returned layer's gradient is kept): a rule may then write its dx into it
      boolean dyMine = writable(dy) && !walk.isLayer(node.name());
      Step step = new Step(this, walk, node, dy.t(), want, dyMine);
      table.backward(node.op()).run(step, node.op());
      Grad[] dx = new Grad[step.dx.length];
      int sharing = 0;
      for (FloatTensor d : step.dx) {
        sharing += d != null && d.data() == dy.t().data() ? 1 : 0;
      }
      for (int k = 0; k < dx.length; k++) {
        FloatTensor d = step.dx[k];
        // a rule may pass dy through (BiasAdd, Reshape) or write into it (dyIfWritable): the
        // array is the dx's to write only if dy was the pass's alone and one dx took it over
        boolean shared = d != null && d.data() == dy.t().data();
        dx[k] = d == null ? null : new Grad(d, !shared || (dyMine && sharing == 1));
        if (d != null) {
          retain(d);
        }
      }
      if (PROFILE) {
        System.err.printf(
            "backward %-24s %-16s %s %8.2f ms%n",
            node.name(), node.op().type(), dy.t().shape(), (profileClock() - t0) / 1e6);
      }
      return dx;
    }

    @Override
    public Grad add(Grad cur, Grad dx) {
      if (!writable(cur) && writable(dx)) {
        // sum into dx instead of a copy of cur: a + b == b + a exactly in float
        Grad shared = cur;
        cur = dx;
        dx = shared;
      }
      FloatTensor sum;
      if (writable(cur)) {
        sum = cur.t();
      } else {
        sum = new FloatTensor(cur.t().shape(), Arena.copyOf(cur.t().data()));
        retain(sum);
        release(cur);
      }
      float[] acc = sum.data();
      float[] x = dx.t().data();
      // the add_inplace twin over the pool: a skip connection's sum is megabytes at batch 8
      pool.parallelFor(
          acc.length,
          ADD_GRAIN,
          (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
              acc[i] = acc[i] + x[i];
            }
          });
      release(dx);
      return new Grad(sum, true);
    }

    @Override
    public Grad handOut(Grad grad) {
      if (writable(grad)) {
        if (arena != null) {
          arena.detach(grad.t().data()); // the caller's for good
        }
        return grad;
      }
      Grad copy = new Grad(grad.t().copy(), true);
      release(grad);
      return copy;
    }

    @Override
    public void release(Grad t) {
      if (arena != null) {
        arena.release(t.t().data());
      }
    }

    private void retain(FloatTensor t) {
      if (arena != null) {
        arena.retain(t.data());
      }
    }

    /** Owned by the pass and referenced once: may be written in place or handed out. */
    private boolean writable(Grad g) {
      return g.owned() && (arena == null || arena.exclusive(g.t().data()));
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
      Shape run = shapes.get(name);
      if (run != null) {
        return run;
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
    private int[] neededChannels(Backprop<Grad> walk, String input, int channels) {
      Node cat = g.node(input);
      if (!(cat.op() instanceof Op.Concat cc)
          || walk.isLayer(input)
          || walk.isSeeded(input)
          || cc.axis() != cat.shape().rank() - 1) {
        return null;
      }
      int[] keep = new int[channels];
      int n = 0;
      int at = 0;
      for (String in : cat.inputs()) {
        Shape s = shapeOf(in, cat);
        int size = s.dim(s.rank() - 1);
        if (walk.visits(in)) {
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
      if (!Backprop.sameButBatch(v.shape(), dy.shape()) || n == 0 || dy.shape().dim(0) % n != 0) {
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
    final Backprop<Grad> walk;
    final Node node;
    final FloatTensor dyT;
    final float[] dy;
    final Shape ds;
    final int b;
    final String in0;
    final boolean[] want;
    final FloatTensor[] dx;
    private final boolean dyWritable;

    Step(
        Pass pass,
        Backprop<Grad> walk,
        Node node,
        FloatTensor dyT,
        boolean[] want,
        boolean dyWritable) {
      this.dyWritable = dyWritable;
      this.pass = pass;
      this.walk = walk;
      this.node = node;
      this.dyT = dyT;
      this.dy = dyT.data();
      this.ds = dyT.shape();
      this.b = ds.dim(0);
      this.in0 = node.inputs().isEmpty() ? null : node.inputs().get(0);
      this.want = want;
      this.dx = new FloatTensor[node.inputs().size()];
    }

    /** The threads the pass runs on. */
    public Parallel pool() {
      return pass.pool;
    }

    /** The node whose inputs' gradients this step computes. */
    public Node node() {
      return node;
    }

    /** dL/d(node output), batch B = K·N. */
    public FloatTensor dy() {
      return dyT;
    }

    /**
     * dy's array when this step may overwrite it (the pass owns it, nothing else references it, and
     * the node's own gradient is not returned), else null. An element-wise rule writes its dx there
     * (dx[i] depends on dy[i] only) and sets it as its one input's gradient: one array and one pass
     * over memory fewer.
     */
    public float[] dyIfWritable() {
      return dyWritable ? dy : null;
    }

    /** The name of the node's first input. */
    public String input0() {
      return in0;
    }

    /** Sets the gradient of input k (batch B). */
    public void setDx(int k, FloatTensor grad) {
      dx[k] = grad;
    }

    /** The forward value of a node (batch N). */
    public FloatTensor value(String name) {
      return pass.value(name, node);
    }

    /** The forward value of a node tiled to dy's batch B. */
    public FloatTensor tiledValue(String name) {
      return pass.tiledValue(name, node, dyT);
    }

    Shape shapeOf(String name) {
      return pass.shapeOf(name, node);
    }

    /** The shape of a node's gradient: its value's shape at batch B. */
    public Shape gradShape(String name) {
      return pass.gradShape(name, node, b);
    }

    /**
     * The channels of input (a channel Concat of which only some inputs need gradients) that its
     * consumer's gradient must fill, ascending, or null for all of them; the others may be left
     * zero.
     */
    public int[] neededChannels(String input, int channels) {
      return pass.neededChannels(walk, input, channels);
    }

    /** Whether the ReLUs take guided backpropagation's rule in this pass. */
    public boolean guided() {
      return walk.guided();
    }

    boolean isConst(String name) {
      return pass.g.node(name).op() instanceof Op.Const;
    }
  }
}
