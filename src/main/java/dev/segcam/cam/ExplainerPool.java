package dev.segcam.cam;

import dev.segcam.backend.CamBackend;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.savedmodel.SavedModelImporter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Explaining from many threads: a bounded pool of {@link Explainer}s over one model. An explainer
 * is not thread-safe (its backend keeps per-call state and its engine one thread pool), so each
 * call borrows one for its own use and gives it back; at most {@link #size()} calls run at once and
 * the others wait. The imported {@link Graph} and its weights are immutable and shared; each
 * explainer has its own backend and engine (packed filters, thread pool). Explainers are made when
 * a borrower finds none idle, so a pool never holds more than its busiest moment needed.
 *
 * <pre>{@code
 * try (ExplainerPool pool = ExplainerPool.open(Path.of("weights/scene-unet"), 4)) {
 *   // from any thread:
 *   List<CamResult> r = pool.explain(img, List.of(Target.predicted(3)), CamMethod.GRAD_CAM);
 *   // or several calls on one explainer:
 *   try (ExplainerPool.Lease lease = pool.borrow()) {
 *     Explainer ex = lease.explainer();
 *     ...
 *   }
 * }
 * }</pre>
 *
 * <p>Results do not depend on which explainer served a call, nor on what runs beside it: the CPU
 * engine computes each output element in a fixed order for a given thread count, and engines share
 * no mutable state (their scratch buffers are per thread). A borrower must not change an
 * explainer's settings ({@link Explainer#output}, {@link Explainer#labels(Labels)}, {@link
 * Explainer#normalization}); set them for every explainer with the {@code setup} of the factory
 * methods. Closing the pool closes the idle explainers at once and the borrowed ones when they come
 * back; waiting borrowers then get a {@link CamException}.
 */
public final class ExplainerPool implements AutoCloseable {
  private final int size;
  private final Supplier<Explainer> factory;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition available = lock.newCondition();
  private final ArrayDeque<Explainer> idle = new ArrayDeque<>();

  /** Every explainer this pool made and has not closed, borrowed or idle. */
  private final Set<Explainer> mine = Collections.newSetFromMap(new IdentityHashMap<>());

  /** Explainers being created right now (counted against the size before they exist). */
  private int creating;

  private boolean closed;

  /**
   * A pool of at most {@code size} explainers, each made by {@code factory} when a borrower finds
   * none idle. The factory is called outside the pool's lock (it may take long, e.g. an engine
   * packing its weights) and must return a new explainer each time.
   */
  public ExplainerPool(int size, Supplier<Explainer> factory) {
    if (size < 1) {
      throw new CamException("an explainer pool needs size >= 1, got " + size);
    }
    if (factory == null) {
      throw new CamException("an explainer pool needs a factory (got null)");
    }
    this.size = size;
    this.factory = factory;
  }

  /**
   * {@code size} CPU explainers over one graph, each engine with {@code threadsEach} threads (so up
   * to size × threadsEach threads compute at once), each passed to {@code setup} (may be null)
   * once, right after it is made.
   */
  public static ExplainerPool cpu(
      Graph graph, int size, int threadsEach, Consumer<Explainer> setup) {
    if (graph == null) {
      throw new CamException("an explainer pool needs a graph (got null)");
    }
    if (threadsEach < 1) {
      throw new CamException("threads per explainer must be >= 1, got " + threadsEach);
    }
    return new ExplainerPool(size, of(graph, g -> CpuCamBackend.create(g, threadsEach), setup));
  }

  /**
   * {@code size} CPU explainers for a SavedModel directory, imported once, with the model's
   * labels.txt when it has one; the cores are split between them (at least one thread each).
   */
  public static ExplainerPool open(Path modelDir, int size) {
    Graph graph = SavedModelImporter.load(modelDir).graph();
    Path file = modelDir.resolve(Explainer.LABELS_FILE);
    Labels labels = Files.isRegularFile(file) ? Labels.load(file) : null;
    int each = Math.max(1, Runtime.getRuntime().availableProcessors() / Math.max(1, size));
    return cpu(
        graph,
        size,
        each,
        ex -> {
          if (labels != null) {
            ex.labels(labels);
          }
        });
  }

  /** A factory of explainers over one graph on backends made by {@code backend}. */
  public static Supplier<Explainer> of(
      Graph graph, Function<Graph, CamBackend> backend, Consumer<Explainer> setup) {
    return () -> {
      Explainer ex = new Explainer(backend.apply(graph));
      if (setup != null) {
        try {
          setup.accept(ex);
        } catch (RuntimeException e) {
          ex.close();
          throw e;
        }
      }
      return ex;
    };
  }

  /** The most explainers this pool holds (and so the most calls it serves at once). */
  public int size() {
    return size;
  }

  /** Explainers made so far and not closed (borrowed or idle). */
  public int created() {
    lock.lock();
    try {
      return mine.size();
    } finally {
      lock.unlock();
    }
  }

  /** One explainer for the caller alone until {@link #close()}; not to be used after that. */
  public final class Lease implements AutoCloseable {
    private final Explainer explainer;
    private boolean returned;

    private Lease(Explainer explainer) {
      this.explainer = explainer;
    }

    public Explainer explainer() {
      if (returned) {
        throw new CamException("this explainer lease was already given back to its pool");
      }
      return explainer;
    }

    /** Gives the explainer back to the pool (once; later calls do nothing). */
    @Override
    public void close() {
      if (!returned) {
        returned = true;
        giveBack(explainer);
      }
    }
  }

  /** Waits until an explainer is free (or one may be made) and lends it. */
  public Lease borrow() {
    try {
      return borrow(-1);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CamException("interrupted while waiting for a free explainer", e);
    }
  }

  /**
   * As {@link #borrow()}, waiting at most {@code timeout}; a {@link CamException} when none came
   * free in time.
   */
  public Lease borrow(long timeout, TimeUnit unit) throws InterruptedException {
    if (timeout < 0) {
      throw new CamException("timeout must be >= 0, got " + timeout);
    }
    return borrow(unit.toNanos(timeout));
  }

  private Lease borrow(long nanos) throws InterruptedException {
    boolean make;
    lock.lock();
    try {
      while (true) {
        if (closed) {
          throw new CamException("the explainer pool is closed");
        }
        if (!idle.isEmpty()) {
          return new Lease(idle.pop());
        }
        if (mine.size() + creating < size) {
          creating++;
          make = true;
          break;
        }
        if (nanos < 0) {
          available.await();
        } else {
          if (nanos == 0) {
            throw new CamException(
                "no explainer came free in time: all " + size + " of the pool are in use");
          }
          nanos = available.awaitNanos(nanos);
          if (nanos < 0) {
            nanos = 0;
          }
        }
      }
    } finally {
      lock.unlock();
    }
    Explainer ex = null;
    try {
      ex = factory.get();
      if (ex == null) {
        throw new CamException("the explainer pool's factory returned null");
      }
    } finally {
      lock.lock();
      try {
        creating--;
        boolean usable = ex != null && !closed && !mine.contains(ex);
        if (usable) {
          mine.add(ex);
        }
        available.signal(); // a failed or refused creation frees its slot for a waiter
        if (ex != null && !usable) {
          Explainer bad = ex;
          ex = null;
          closeQuietly(bad);
          throw new CamException(
              closed
                  ? "the explainer pool was closed while an explainer was being made"
                  : "the explainer pool's factory returned an explainer the pool already holds");
        }
      } finally {
        lock.unlock();
      }
    }
    return new Lease(ex);
  }

  private void giveBack(Explainer ex) {
    lock.lock();
    try {
      if (!mine.contains(ex)) {
        return; // closed with the pool already, or not ours: nothing to keep
      }
      if (closed) {
        mine.remove(ex);
        closeQuietly(ex);
        return;
      }
      idle.push(ex);
      available.signal();
    } finally {
      lock.unlock();
    }
  }

  /** Borrows an explainer, applies {@code work} to it and gives it back (also on a throw). */
  public <T> T withExplainer(Function<Explainer, T> work) {
    try (Lease lease = borrow()) {
      return work.apply(lease.explainer());
    }
  }

  /** {@link Explainer#explain(FloatTensor, List, List, CamMethod)} on a borrowed explainer. */
  public List<CamResult> explain(
      FloatTensor images, List<Target> targets, List<String> layers, CamMethod method) {
    return withExplainer(ex -> ex.explain(images, targets, layers, method));
  }

  /** {@link Explainer#explain(FloatTensor, List, CamMethod)} on a borrowed explainer. */
  public List<CamResult> explain(FloatTensor images, List<Target> targets, CamMethod method) {
    return withExplainer(ex -> ex.explain(images, targets, method));
  }

  /**
   * Closes the idle explainers now and each borrowed one when it is given back; borrowers waiting
   * for one get a {@link CamException}. Idempotent.
   */
  @Override
  public void close() {
    List<Explainer> now = new ArrayList<>();
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      now.addAll(idle);
      mine.removeAll(idle);
      idle.clear();
      available.signalAll();
    } finally {
      lock.unlock();
    }
    RuntimeException first = null;
    for (Explainer ex : now) {
      try {
        ex.close();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  private static void closeQuietly(Explainer ex) {
    try {
      ex.close();
    } catch (RuntimeException ignored) {
      // the caller reports its own, earlier error
    }
  }
}
