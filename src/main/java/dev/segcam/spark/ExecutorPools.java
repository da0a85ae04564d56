package dev.segcam.spark;

import dev.segcam.backend.BackendChoice;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.ExplainerPool;
import dev.segcam.ir.Graph;
import dev.segcam.savedmodel.SavedModelImporter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.logging.Logger;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;

/**
 * The explainer pools of this executor JVM: one per (model, device), built lazily by the first task
 * that needs it and shared by every later task and partition; the model is fetched and imported
 * once. A JVM shutdown hook (executor exit) closes them all; {@link #closeAll()} does the same on
 * demand (tests, a driver in local mode that wants its memory back).
 *
 * <p>Pool size: the spec's explainers, else the task slots of this executor ({@code
 * spark.executor.cores}, or the {@code N} of a {@code local[N]} master, or the cores) divided by
 * {@code spark.task.cpus}; threads per CPU explainer: the spec's, else cores / explainers. So each
 * concurrent task gets its own explainer and together they use the cores once.
 */
public final class ExecutorPools {
  private static final Logger LOG = Logger.getLogger(ExecutorPools.class.getName());
  private static final Map<Key, ExplainerPool> POOLS = new ConcurrentHashMap<>();
  private static final Map<Path, Graph> GRAPHS = new ConcurrentHashMap<>();
  private static volatile boolean hooked;

  private record Key(Path model, int device, int size, int threads) {}

  private ExecutorPools() {}

  /** The pool for this spec on this placement, made on first use. */
  static ExplainerPool pool(ExplainSpec spec, TaskPlacement where) {
    Path model = ModelFiles.local(spec.model());
    int cores = Runtime.getRuntime().availableProcessors();
    int size = spec.explainers() > 0 ? spec.explainers() : taskSlots(cores);
    int threads =
        where.isCuda()
            ? 0
            : spec.threadsEach() > 0 ? spec.threadsEach() : Math.max(1, cores / size);
    Key key = new Key(model, where.device(), size, threads);
    ExplainerPool pool = POOLS.get(key);
    if (pool != null) {
      return pool;
    }
    synchronized (ExecutorPools.class) {
      pool = POOLS.get(key);
      if (pool == null) {
        hook();
        Graph graph = GRAPHS.computeIfAbsent(model, m -> SavedModelImporter.load(m).graph());
        // classes come and go between frames: an absent class is a NaN score, not a failed batch
        Consumer<Explainer> setup = ex -> ex.emptyTargetsAsZero(true);
        pool =
            where.isCuda()
                ? new ExplainerPool(
                    size,
                    ExplainerPool.of(
                        graph, g -> BackendChoice.openCudaCam(g, where.device()), setup))
                : ExplainerPool.cpu(graph, size, threads, setup);
        LOG.info(
            "segcam: explainer pool for "
                + model
                + " on "
                + where.selection().reason()
                + ": up to "
                + size
                + " explainers"
                + (where.isCuda() ? "" : ", " + threads + " threads each"));
        POOLS.put(key, pool);
      }
      return pool;
    }
  }

  /** The imported graph of a model already fetched by {@link #pool}. */
  static Graph graph(ExplainSpec spec) {
    return GRAPHS.computeIfAbsent(
        ModelFiles.local(spec.model()), m -> SavedModelImporter.load(m).graph());
  }

  /** Pools alive in this JVM. */
  public static int open() {
    return POOLS.size();
  }

  /** Closes every pool of this JVM (borrowed explainers when they come back). Idempotent. */
  public static synchronized void closeAll() {
    List<ExplainerPool> all = new ArrayList<>(POOLS.values());
    POOLS.clear();
    GRAPHS.clear();
    for (ExplainerPool p : all) {
      try {
        p.close();
      } catch (RuntimeException e) {
        LOG.warning("segcam: closing an explainer pool: " + e);
      }
    }
  }

  private static void hook() {
    if (!hooked) {
      hooked = true;
      Runtime.getRuntime()
          .addShutdownHook(new Thread(ExecutorPools::closeAll, "segcam-close-explainer-pools"));
    }
  }

  private static int taskSlots(int cores) {
    int executorCores = cores;
    SparkEnv env = SparkEnv.get();
    if (env != null) {
      String c = env.conf().get("spark.executor.cores", "");
      String master = env.conf().get("spark.master", "");
      if (!c.isEmpty()) {
        executorCores = Integer.parseInt(c.trim());
      } else if (master.matches("local\\[\\d+(,\\d+)?]")) {
        executorCores = Integer.parseInt(master.replaceAll("local\\[(\\d+).*", "$1"));
      }
    }
    TaskContext tc = TaskContext.get();
    int taskCpus = tc == null ? 1 : Math.max(1, tc.cpus());
    return Math.max(1, executorCores / taskCpus);
  }
}
