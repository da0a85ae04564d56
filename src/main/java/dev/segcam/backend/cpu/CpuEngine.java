package dev.segcam.backend.cpu;

import dev.segcam.SegcamException;
import dev.segcam.backend.Interpreter;
import dev.segcam.backend.OpTable;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The pure-Java forward engine: runs an IR graph node by node on the host, multithreaded through
 * one {@link Parallel} pool. Conv filters are repacked for the GEMM once, at construction. A value
 * is dropped as soon as its last consumer has run unless the caller asked to keep it.
 *
 * <p>Memory: values and scratch come from the engine's {@link Arena}, so a warm call on the same
 * shapes reuses the arrays of the last one. Ownership: {@link #forward} hands its results to the
 * caller for good (never reused); {@link #forwardPass}'s values belong to the returned {@link Run}
 * and are valid until it closes, when every array goes back for the next call.
 */
public final class CpuEngine implements AutoCloseable {
  private final Graph graph;
  private final Parallel parallel;
  private final Map<Op, CpuConv.PackedConv> packed = new IdentityHashMap<>();
  private final OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> table;
  private final Arena arena = new Arena();
  private final CpuFusion fusion;

  public CpuEngine(Graph graph) {
    this(graph, Runtime.getRuntime().availableProcessors());
  }

  public CpuEngine(Graph graph, int threads) {
    this(graph, threads, CpuOpTable.TABLE);
  }

  /**
   * An engine whose nodes run through {@code table} (the Java engine's {@link CpuOpTable#TABLE}, or
   * a table that replaces some of its entries, e.g. oneDNN's). Conv2D filters are packed for the
   * Java GEMM on first use, so a table that never falls back to it never packs them.
   */
  public CpuEngine(
      Graph graph, int threads, OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> table) {
    this(graph, threads, table, null);
  }

  /**
   * An engine over {@code table} that also runs a producer and the activation that is its only
   * reader as one step where {@code fusion} (may be null: none) accepts the pair and the producer's
   * value is not kept ({@link FusionPlan}); a forward that keeps every value fuses nothing.
   */
  public CpuEngine(
      Graph graph,
      int threads,
      OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> table,
      CpuFusion fusion) {
    this.graph = graph;
    this.parallel = new Parallel(threads);
    this.table = table;
    this.fusion = fusion;
  }

  /** The op table this engine runs (also the one its backward should use). */
  public OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> table() {
    return table;
  }

  public Graph graph() {
    return graph;
  }

  public Parallel parallel() {
    return parallel;
  }

  /** The arrays this engine reuses across calls ({@link Arena}). */
  public Arena arena() {
    return arena;
  }

  /**
   * One forward whose values live in the engine's {@link Arena}: {@link #values()} holds the kept
   * values (and the graph outputs), valid until {@link #close()}, which returns every array to the
   * arena for the next call. The backward passes on these values run inside {@link #pass()} too.
   */
  public static final class Run implements AutoCloseable {
    private final Map<String, FloatTensor> values;
    private final Arena.Pass pass;
    private final Map<String, Shape> shapes;

    /** A run over values and the pass holding them (null: fresh arrays nobody recycles). */
    public Run(Map<String, FloatTensor> values, Arena.Pass pass) {
      this(values, pass, Map.of());
    }

    /** A run that also knows every node's shape (so a backward needs no value for a shape). */
    public Run(Map<String, FloatTensor> values, Arena.Pass pass, Map<String, Shape> shapes) {
      this.values = values;
      this.pass = pass;
      this.shapes = shapes;
    }

    /** Node name -> the shape of its value in this run (every node run, kept or not). */
    public Map<String, Shape> shapes() {
      return shapes;
    }

    /** Node name -> value, owned by the run. */
    public Map<String, FloatTensor> values() {
      return values;
    }

    /** The arena pass holding the values, or null. */
    public Arena.Pass pass() {
      return pass;
    }

    @Override
    public void close() {
      if (pass != null) {
        pass.close();
      }
    }
  }

  /**
   * {@link #forward(Map, Collection)} into the engine's arena: values not kept are recycled as soon
   * as their last reader ran, and the kept ones stay the run's until it closes.
   */
  public Run forwardPass(Map<String, FloatTensor> inputs, Collection<String> keep) {
    Arena.Pass pass = arena.open();
    try {
      Map<String, Shape> shapes = new HashMap<>();
      Map<String, FloatTensor> values = forward(inputs, keep, pass, shapes);
      return new Run(values, pass, shapes);
    } catch (RuntimeException | Error e) {
      pass.close();
      throw e;
    }
  }

  /**
   * Runs the graph. inputs: graph input node name -> NHWC tensor (same batch N for all). keep: node
   * names whose values to return; graph outputs are always returned; keep == null returns every
   * node's value. Unknown names throw {@link dev.segcam.ir.UnknownNodeException}.
   */
  public Map<String, FloatTensor> forward(
      Map<String, FloatTensor> inputs, Collection<String> keep) {
    // the intermediate values come from the arena; what is returned is the caller's for good
    try (Arena.Pass pass = arena.open()) {
      Map<String, FloatTensor> result = forward(inputs, keep, pass, new HashMap<>());
      for (FloatTensor v : result.values()) {
        pass.detach(v.data());
      }
      return result;
    }
  }

  private Map<String, FloatTensor> forward(
      Map<String, FloatTensor> inputs,
      Collection<String> keep,
      Arena.Pass pass,
      Map<String, Shape> shapesOut) {
    Map<String, Shape> inShapes = new HashMap<>();
    int batch = -1;
    String batchFrom = null;
    for (Map.Entry<String, FloatTensor> e : inputs.entrySet()) {
      Node n = graph.node(e.getKey());
      if (!(n.op() instanceof Op.Input)) {
        throw new SegcamException(
            "'" + e.getKey() + "' is a " + n.op().type() + " node, not a graph input");
      }
      if (e.getValue() == null) {
        throw new SegcamException("no tensor given for graph input '" + e.getKey() + "'");
      }
      Shape s = e.getValue().shape();
      if (s.rank() > 0) {
        if (batch >= 0 && s.dim(0) != batch) {
          throw new ShapeException(
              "input '"
                  + e.getKey()
                  + "' has batch "
                  + s.dim(0)
                  + " but '"
                  + batchFrom
                  + "' has batch "
                  + batch);
        }
        batch = s.dim(0);
        batchFrom = e.getKey();
      }
      inShapes.put(e.getKey(), s);
    }
    for (String in : graph.inputs()) {
      if (!inputs.containsKey(in)) {
        throw new SegcamException(
            "graph input '" + in + "' was not given; inputs are " + graph.inputs());
      }
    }
    Set<String> kept = new HashSet<>(graph.outputs().values());
    if (keep != null) {
      for (String k : keep) {
        kept.add(graph.node(k).name());
      }
    }
    Map<String, Shape> shapes = graph.inferShapes(inShapes);
    shapesOut.putAll(shapes);
    Map<String, FloatTensor> values = new HashMap<>();
    try (Arena.Pass.Scope scope = pass.enter()) {
      run(shapes, inputs, keep, kept, values, pass);
    }
    Map<String, FloatTensor> result = new LinkedHashMap<>();
    for (Node n : graph.nodes()) {
      if ((keep == null || kept.contains(n.name())) && values.containsKey(n.name())) {
        result.put(n.name(), values.get(n.name()));
      } else if (values.containsKey(n.name())) {
        pass.release(values.get(n.name()).data()); // read by nobody, not kept
      }
    }
    return result;
  }

  private void run(
      Map<String, Shape> shapes,
      Map<String, FloatTensor> inputs,
      Collection<String> keep,
      Set<String> kept,
      Map<String, FloatTensor> values,
      Arena.Pass pass) {
    FusionPlan plan = FusionPlan.of(graph, kept, keep == null, fusion, this);
    Interpreter.forward(
        graph,
        shapes,
        (n, args, out) -> {
          FloatTensor v;
          try {
            v =
                n.op() instanceof Op.Input
                    ? inputs.get(n.name())
                    : plan.run(n, args, out, this::run);
          } catch (IllegalArgumentException | ArithmeticException | IndexOutOfBoundsException e) {
            throw new SegcamException("failed on inputs " + shapesOf(args) + ": " + e, e);
          }
          if (!v.shape().equals(out)) {
            throw new ShapeException("produced " + v.shape() + ", expected " + out);
          }
          pass.retain(v.data()); // one reference per value (reshapes share their input's array)
          return v;
        },
        values,
        name -> keep == null || kept.contains(name),
        v -> pass.release(v.data()));
  }

  private static List<Shape> shapesOf(List<FloatTensor> args) {
    List<Shape> s = new ArrayList<>();
    for (FloatTensor t : args) {
      s.add(t == null ? null : t.shape());
    }
    return s;
  }

  private FloatTensor run(Node n, List<FloatTensor> in, Shape outShape) {
    return table.forward(n.op()).run(this, n.op(), in, outShape);
  }

  /** The GEMM-packed filter of a Conv2D of this graph. */
  synchronized CpuConv.PackedConv packed(Op.Conv2D c) {
    return packed.computeIfAbsent(c, k -> CpuConv.PackedConv.of(c.filter()));
  }

  @Override
  public void close() {
    parallel.close();
  }
}
