package dev.segcam.cam;

import dev.segcam.backend.BackwardPlan;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.HostCamBackend;
import dev.segcam.backend.OpTable;
import dev.segcam.backend.SparseSeed;
import dev.segcam.backend.cpu.Arena;
import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.backend.cpu.CpuOpTable;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.backend.onednn.OneDnnContext;
import dev.segcam.backend.onednn.OneDnnFusion;
import dev.segcam.backend.onednn.OneDnnOpTable;
import dev.segcam.backend.onednn.OneDnnProbe;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The CAM backend of the pure-Java engine: a forward that yields every node's value, {@link
 * CpuBackward} for the data gradients, and the kernels' CPU twins for the small steps. Values stay
 * host arrays; nothing is copied but what the caller keeps.
 *
 * <p>Memory (over {@link Engine#of}, as {@link #create} and {@link #createOneDnn} build it): a
 * forward's values and the backward's intermediate gradients are arrays of the engine's {@link
 * Arena}, reused call after call. A value read from a {@link Forward} is the pass's, valid until
 * the pass closes (then its array is lent to a later call: copy what must outlive the pass); the
 * gradients a backward returns and the CAM steps' outputs are the caller's for good.
 */
public final class CpuCamBackend extends HostCamBackend {
  /** A forward run that returns the value of every node for the given graph inputs. */
  @FunctionalInterface
  public interface Engine {
    Map<String, FloatTensor> forward(Map<String, FloatTensor> inputs);

    /**
     * A forward that keeps (at least) the values of {@code keep}, valid until the run closes. This
     * default keeps every value in fresh arrays and recycles nothing; {@link #of(CpuEngine)}
     * recycles through the engine's {@link Arena}.
     */
    default CpuEngine.Run run(Map<String, FloatTensor> inputs, Set<String> keep) {
      return new CpuEngine.Run(forward(inputs), null);
    }

    /** The arena the runs' values come from, or null when nothing is reused. */
    default Arena arena() {
      return null;
    }

    /** The engine's forward, its values in the engine's {@link Arena} (reused call after call). */
    static Engine of(CpuEngine engine) {
      return new Engine() {
        @Override
        public Map<String, FloatTensor> forward(Map<String, FloatTensor> inputs) {
          return engine.forward(inputs, null);
        }

        @Override
        public CpuEngine.Run run(Map<String, FloatTensor> inputs, Set<String> keep) {
          return engine.forwardPass(inputs, keep);
        }

        @Override
        public Arena arena() {
          return engine.arena();
        }
      };
    }
  }

  private final Graph graph;
  private final Engine engine;
  private final Parallel pool;
  private final AutoCloseable owned;
  private final OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> table;
  private final String engineLine;

  /**
   * A backend over a forward engine; the backward runs on {@code pool} (null: the caller's thread).
   * {@code owned} (may be null) is closed with the backend, e.g. the engine's thread pool.
   */
  public CpuCamBackend(Graph graph, Engine engine, Parallel pool, AutoCloseable owned) {
    this(graph, engine, pool, owned, CpuOpTable.TABLE, JAVA_ENGINE);
  }

  /**
   * A backend over a forward engine whose backward runs the rules of {@code table} (the engine's
   * table, {@link CpuEngine#table()}); {@code engineLine} is what {@link #engine()} says.
   */
  public CpuCamBackend(
      Graph graph,
      Engine engine,
      Parallel pool,
      AutoCloseable owned,
      OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> table,
      String engineLine) {
    this.graph = graph;
    this.engine = engine;
    this.pool = pool;
    this.owned = owned;
    this.table = table;
    this.engineLine = engineLine;
  }

  /** What {@link #engine()} says for the pure-Java engine. */
  public static final String JAVA_ENGINE = "Java engine";

  /**
   * Which CPU engine runs the graph's ops, in a few words: {@link #JAVA_ENGINE}, or oneDNN's
   * version, ISA and thread count ({@link OneDnnProbe.Status#describe()}).
   */
  public String engine() {
    return engineLine;
  }

  /**
   * The CPU backend the CLI and the video pipeline run: oneDNN's op table ({@link OneDnnOpTable},
   * every op oneDNN lacks on the Java engine) when {@code java} is false and {@link OneDnnProbe}
   * loads the native library; else the pure-Java engine, and when oneDNN was wanted but cannot
   * load, {@code note} gets the probe's one-line reason.
   */
  public static CpuCamBackend open(
      Graph graph, int threads, boolean java, java.util.function.Consumer<String> note) {
    if (!java) {
      OneDnnProbe.Status st = OneDnnProbe.status();
      if (st.available()) {
        return createOneDnn(graph, threads);
      }
      note.accept(st.describe());
    }
    return create(graph, threads);
  }

  /**
   * The backend over a {@link CpuEngine} running oneDNN's op table; closing the backend frees the
   * oneDNN primitives and the engine's pool.
   *
   * @throws dev.segcam.backend.BackendUnavailableException when oneDNN cannot load
   */
  public static CpuCamBackend createOneDnn(Graph graph, int threads) {
    OneDnnContext ctx = OneDnnContext.open();
    OpTable<CpuOpTable.Forward<Op>, CpuOpTable.Backward<Op>> t = OneDnnOpTable.of(ctx);
    CpuEngine engine = new CpuEngine(graph, Math.max(1, threads), t, OneDnnFusion.of(ctx));
    AutoCloseable both =
        () -> {
          try (ctx) {
            engine.close();
          }
        };
    return new CpuCamBackend(
        graph, Engine.of(engine), engine.parallel(), both, t, OneDnnProbe.status().describe());
  }

  /**
   * The backend over a new {@link CpuEngine} for the graph, with one thread pool (all cores) shared
   * by the forward and the backward; closing the backend closes the engine.
   */
  public static CpuCamBackend create(Graph graph) {
    return create(graph, Runtime.getRuntime().availableProcessors());
  }

  /** As {@link #create(Graph)} with a pool of {@code threads} threads (at least one). */
  public static CpuCamBackend create(Graph graph, int threads) {
    CpuEngine engine = new CpuEngine(graph, Math.max(1, threads));
    // the backward runs on the engine's pool too
    return new CpuCamBackend(graph, Engine.of(engine), engine.parallel(), engine);
  }

  /**
   * The arena whose arrays the forward values and intermediate gradients reuse call after call
   * (null for an engine without one): its {@link Arena#stats()} say how much was allocated.
   */
  public Arena arena() {
    return engine.arena();
  }

  @Override
  public String name() {
    return "cpu";
  }

  @Override
  public Graph graph() {
    return graph;
  }

  @Override
  public Forward forward(String input, CamTensor images, Set<String> keep) {
    // a backward between kept nodes (seeds and layers) reads only some values: for a convolution
    // none, for a ReLU its output, for a max pool its input (BackwardPlan.reads); every other
    // value goes back to the arena once its last forward reader ran (and a convolution whose only
    // reader is its activation is fused with it on oneDNN: its own value never exists)
    Set<String> needed = BackwardPlan.valuesFor(graph, keep);
    CpuEngine.Run run = engine.run(Map.of(input, images.toHost()), needed);
    Map<String, Shape> shapes = new java.util.HashMap<>(run.shapes());
    run.values().forEach((k, v) -> shapes.putIfAbsent(k, v.shape()));
    Map<String, FloatTensor> values = new java.util.HashMap<>(run.values());
    values.keySet().retainAll(needed);
    return new GuidedPass() {
      @Override
      public CamTensor value(String node) {
        FloatTensor v = values.get(node);
        if (v == null) {
          throw new CamException("the forward pass kept no value for node '" + node + "'");
        }
        return CamTensor.host(v);
      }

      @Override
      protected Map<String, CamTensor> backward(
          Map<String, CamTensor> seeds, List<String> layers, boolean guided) {
        // the seeds moved through the head and the intermediate gradients recycle through the
        // pass; the layer gradients are the caller's
        try (Arena.Pass.Scope in = run.pass() == null ? null : run.pass().enter()) {
          return backwardInPass(seeds, layers, guided);
        }
      }

      private Map<String, CamTensor> backwardInPass(
          Map<String, CamTensor> seeds, List<String> layers, boolean guided) {
        Map<String, FloatTensor> s = new LinkedHashMap<>();
        boolean fresh = true; // every seed array is this call's own
        for (Map.Entry<String, CamTensor> e : seeds.entrySet()) {
          String node = e.getKey();
          FloatTensor t;
          if (e.getValue() instanceof SparseSeed sp) {
            SeedHead.Moved m = SeedHead.move(graph, values, shapes, node, sp, layers, loop());
            node = m.node();
            t = m.seed();
          } else {
            t = e.getValue().toHost();
            fresh = false;
          }
          FloatTensor prev = s.get(node);
          if (prev != null) {
            t = sum(prev, t);
          }
          s.put(node, t);
        }
        List<String> distinct = List.copyOf(new java.util.LinkedHashSet<>(layers));
        if (fresh && s.size() == 1 && distinct.size() == 1 && s.containsKey(distinct.get(0))) {
          // the seed reached the one layer: it is that layer's whole gradient, the caller's
          FloatTensor g = s.get(distinct.get(0));
          if (run.pass() != null) {
            run.pass().detach(g.data());
          }
          return Map.of(distinct.get(0), CamTensor.host(g));
        }
        Map<String, FloatTensor> g =
            CpuBackward.backward(graph, values, shapes, s, layers, pool, table, guided);
        Map<String, CamTensor> out = new LinkedHashMap<>();
        for (String l : layers) {
          out.put(l, CamTensor.host(g.get(l)));
        }
        return out;
      }

      @Override
      public void close() {
        run.close(); // the values go back to the arena: readers must be done
      }
    };
  }

  private SparseSeed.Loop loop() {
    return pool == null ? SparseSeed.Loop.SERIAL : pool::parallelFor;
  }

  private static FloatTensor sum(FloatTensor a, FloatTensor b) {
    if (!a.shape().equals(b.shape())) {
      throw new CamException(
          "seeds reaching one node differ in shape: " + a.shape() + " vs " + b.shape());
    }
    float[] o = a.data().clone();
    float[] bd = b.data();
    for (int i = 0; i < o.length; i++) {
      o[i] += bd[i];
    }
    return new FloatTensor(a.shape(), o);
  }

  @Override
  public void close() {
    if (owned != null) {
      try {
        owned.close();
      } catch (Exception e) {
        throw new CamException("closing the CPU engine failed: " + e, e);
      }
    }
  }
}
