package dev.segcam.video;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * source → stage 1 → … → stage n → sink, each on its own thread, joined by bounded queues. A slow
 * stage fills the queue in front of it and so holds back the ones before it (backpressure); memory
 * stays bounded by the queue capacities times the batch sizes. Every stage is a single thread that
 * takes items in order and passes them on in order, so the output order is the input order.
 *
 * <p>Every frame the source yields reaches the sink, failed or not; the run's {@link Result} counts
 * them. A failure of the sink or a fatal stage failure stops all threads (the source's and sink's
 * processes are killed to unblock pipes), aborts the sink and is rethrown. A failure of the source
 * (a decoder that died) ends the input instead: the frames read before it are still explained and
 * written, then the sink is aborted (its output keeps its temporary name) and the error rethrown.
 */
public final class FramePipeline {
  /** Default capacity of each queue between two threads, in frames. */
  public static final int DEFAULT_QUEUE = 8;

  private static final FrameItem END = new FrameItem(-1, "end of input");

  private final FrameSource source;
  private final List<Stage> stages;
  private final FrameSink sink;
  private final int capacity;
  private final Consumer<FrameItem> listener;

  private final AtomicReference<Throwable> fatal = new AtomicReference<>();

  /** The source failed (a dead decoder): set before END is queued, read after END is taken. */
  private volatile RuntimeException sourceError;

  private final List<Thread> threads = new ArrayList<>();

  /**
   * @param capacity frames each queue holds (at least the next stage's batch size is used)
   * @param listener called on the sink's thread after each frame is written (progress); may be null
   */
  public FramePipeline(
      FrameSource source,
      List<Stage> stages,
      FrameSink sink,
      int capacity,
      Consumer<FrameItem> listener) {
    if (capacity < 1) {
      throw new IllegalArgumentException("queue capacity must be >= 1, got " + capacity);
    }
    this.source = source;
    this.stages = List.copyOf(stages);
    this.sink = sink;
    this.capacity = capacity;
    this.listener = listener;
  }

  /** What a finished run did. */
  public record Result(
      long frames,
      long failed,
      List<String> failures,
      double seconds,
      Map<String, Double> stageMs,
      long emptyTargets) {
    public double framesPerSecond() {
      return seconds > 0 ? frames / seconds : 0;
    }
  }

  /** Runs to the end of the input; throws the first fatal error after aborting the sink. */
  public Result run() {
    long t0 = System.nanoTime();
    List<BlockingQueue<FrameItem>> queues = new ArrayList<>();
    for (int i = 0; i <= stages.size(); i++) {
      int next = i < stages.size() ? stages.get(i).batchSize() : 1;
      queues.add(new ArrayBlockingQueue<>(Math.max(capacity, next)));
    }
    Totals totals = new Totals();
    threads.add(new Thread(() -> guard(() -> readSource(queues.get(0))), "segcam-video-source"));
    for (int i = 0; i < stages.size(); i++) {
      Stage st = stages.get(i);
      BlockingQueue<FrameItem> in = queues.get(i);
      BlockingQueue<FrameItem> out = queues.get(i + 1);
      threads.add(
          new Thread(() -> guard(() -> runStage(st, in, out)), "segcam-video-" + st.name()));
    }
    threads.add(
        new Thread(
            () -> guard(() -> runSink(queues.get(stages.size()), totals)), "segcam-video-sink"));
    for (Thread t : threads) {
      t.setDaemon(true);
      t.start();
    }
    boolean interrupted = false;
    for (Thread t : threads) {
      while (true) {
        try {
          t.join();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
          fail(new VideoException("the video run was interrupted", e));
        }
      }
    }
    for (Stage st : stages) {
      try {
        st.close();
      } catch (RuntimeException e) {
        fatal.compareAndSet(null, e);
      }
    }
    try {
      source.close();
    } catch (RuntimeException e) {
      fatal.compareAndSet(null, e);
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (sourceError != null) {
      fatal.compareAndSet(null, sourceError);
    }
    Throwable f = fatal.get();
    if (f != null) {
      sink.abort();
      String left = sink.leftover();
      String msg =
          f instanceof VideoException || f instanceof dev.segcam.SegcamException
              ? f.getMessage()
              : f.getClass().getSimpleName() + ": " + f.getMessage();
      throw new VideoException(
          msg
              + " ("
              + totals.frames
              + " frame(s) were handed to the output before the failure"
              + (left.isEmpty() ? "" : "; " + left)
              + ")",
          f);
    }
    return new Result(
        totals.frames,
        totals.failed,
        List.copyOf(totals.failures),
        (System.nanoTime() - t0) / 1e9,
        Map.copyOf(totals.stageMs),
        totals.empty);
  }

  private static final class Totals {
    long frames;
    long failed;
    long empty;
    final List<String> failures = new ArrayList<>();
    final Map<String, Double> stageMs = new LinkedHashMap<>();
  }

  @FunctionalInterface
  private interface Body {
    void run() throws InterruptedException;
  }

  private void guard(Body body) {
    try {
      body.run();
    } catch (InterruptedException e) {
      // only ever interrupted by fail(), which recorded the reason
    } catch (Throwable t) {
      fail(t);
    }
  }

  /** Records the first fatal error and stops every thread. */
  private void fail(Throwable t) {
    if (!fatal.compareAndSet(null, t)) {
      return;
    }
    source.cancel();
    sink.cancel();
    for (Thread th : threads) {
      if (th != Thread.currentThread()) {
        th.interrupt();
      }
    }
  }

  private void readSource(BlockingQueue<FrameItem> out) throws InterruptedException {
    long expect = 0;
    while (fatal.get() == null) {
      long t = System.nanoTime();
      FrameItem item;
      try {
        item = source.next();
      } catch (RuntimeException e) {
        // the frames already read are still explained and written; the run then fails with this
        sourceError = e;
        break;
      }
      if (item == null) {
        break;
      }
      if (item.index != expect) {
        throw new IllegalStateException(
            "source " + source.describe() + " gave frame " + item.index + ", expected " + expect);
      }
      expect++;
      item.startNanos = t;
      item.timingsMs.put("decode", (System.nanoTime() - t) / 1e6);
      out.put(item);
    }
    out.put(END);
  }

  private void runStage(Stage st, BlockingQueue<FrameItem> in, BlockingQueue<FrameItem> out)
      throws InterruptedException {
    int n = Math.max(1, st.batchSize());
    boolean done = false;
    while (!done) {
      List<FrameItem> batch = new ArrayList<>(n);
      while (batch.size() < n) {
        FrameItem it = in.take();
        if (it == END) {
          done = true;
          break;
        }
        batch.add(it);
      }
      if (!batch.isEmpty()) {
        boolean[] wasFailed = new boolean[batch.size()];
        int live = 0;
        for (int i = 0; i < batch.size(); i++) {
          wasFailed[i] = batch.get(i).failed();
          live += wasFailed[i] ? 0 : 1;
        }
        long t = System.nanoTime();
        try {
          st.process(batch);
        } catch (VideoException.FatalStageException | Error e) {
          throw e;
        } catch (RuntimeException e) {
          String why = st.name() + " failed: " + e.getMessage();
          for (FrameItem it : batch) {
            it.fail(why);
          }
        }
        // the batch's time is shared by the frames the stage worked on; failed ones skipped it
        double ms = (System.nanoTime() - t) / 1e6 / Math.max(1, live);
        for (int i = 0; i < batch.size(); i++) {
          if (!wasFailed[i]) {
            batch.get(i).timingsMs.put(st.name(), ms);
          }
          out.put(batch.get(i));
        }
      }
    }
    out.put(END);
  }

  private void runSink(BlockingQueue<FrameItem> in, Totals totals) throws InterruptedException {
    while (true) {
      FrameItem it = in.take();
      if (it == END) {
        break;
      }
      long t = System.nanoTime();
      sink.write(it);
      it.timingsMs.put("write", (System.nanoTime() - t) / 1e6);
      synchronized (totals) {
        totals.frames++;
        if (it.failed()) {
          totals.failed++;
          if (totals.failures.size() < 20) {
            totals.failures.add("frame " + it.index + " (" + it.name + "): " + it.error);
          }
        }
        if (it.empty != null) {
          for (boolean e : it.empty) {
            totals.empty += e ? 1 : 0;
          }
        }
        it.timingsMs.forEach((k, v) -> totals.stageMs.merge(k, v, Double::sum));
      }
      if (listener != null) {
        listener.accept(it);
      }
    }
    if (sourceError == null) {
      sink.finish(); // an input that broke off leaves the output under its temporary name
    }
  }
}
