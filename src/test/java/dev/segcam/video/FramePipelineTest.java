package dev.segcam.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The pipeline's mechanics on fake stages: order, accounting, backpressure, failures. */
@Timeout(30)
class FramePipelineTest {
  /** n numbered frames, counting how far the source runs ahead of the sink. */
  static final class CountingSource implements FrameSource {
    final int n;
    final AtomicInteger produced = new AtomicInteger();
    final AtomicBoolean cancelled = new AtomicBoolean();
    final AtomicBoolean closed = new AtomicBoolean();

    CountingSource(int n) {
      this.n = n;
    }

    @Override
    public FrameItem next() {
      int i = produced.get();
      if (i >= n) {
        return null;
      }
      produced.incrementAndGet();
      return new FrameItem(i, "f" + i);
    }

    @Override
    public String describe() {
      return "counting source";
    }

    @Override
    public void cancel() {
      cancelled.set(true);
    }

    @Override
    public void close() {
      closed.set(true);
    }
  }

  static final class ListSink implements FrameSink {
    final List<FrameItem> items = Collections.synchronizedList(new ArrayList<>());
    final CountingSource source;
    int maxAhead;
    int failAt = -1;
    boolean finished;
    boolean aborted;

    ListSink(CountingSource source) {
      this.source = source;
    }

    @Override
    public void write(FrameItem item) {
      if (item.index == failAt) {
        throw new VideoException("sink broke at frame " + item.index);
      }
      items.add(item);
      maxAhead = Math.max(maxAhead, source.produced.get() - items.size());
      sleep(1);
    }

    @Override
    public void finish() {
      finished = true;
    }

    @Override
    public void abort() {
      aborted = true;
    }

    @Override
    public String leftover() {
      return "leftover note";
    }

    @Override
    public String describe() {
      return "list";
    }
  }

  /** Sleeps a random 0–3 ms per frame, so stages drift against each other. */
  static final class JitterStage implements Stage {
    final String name;
    final int batch;
    final SplittableRandom rnd;
    final List<Integer> batchSizes = new ArrayList<>();

    JitterStage(String name, int batch, long seed) {
      this.name = name;
      this.batch = batch;
      this.rnd = new SplittableRandom(seed);
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public int batchSize() {
      return batch;
    }

    @Override
    public void process(List<FrameItem> b) {
      batchSizes.add(b.size());
      for (FrameItem it : b) {
        sleep(rnd.nextInt(4));
        it.timingsMs.put(name + "-seen", 1.0);
      }
    }
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Test
  void everyFrameArrivesInOrderWithBatchesAndBoundedQueues() {
    CountingSource src = new CountingSource(53);
    ListSink sink = new ListSink(src);
    JitterStage a = new JitterStage("a", 1, 1);
    JitterStage b = new JitterStage("b", 4, 2);
    JitterStage c = new JitterStage("c", 3, 3);
    int cap = 2;
    FramePipeline.Result r = new FramePipeline(src, List.of(a, b, c), sink, cap, null).run();
    assertEquals(53, r.frames());
    assertEquals(0, r.failed());
    assertEquals(53, sink.items.size());
    for (int i = 0; i < 53; i++) {
      assertEquals(i, sink.items.get(i).index, "frame at position " + i);
      assertTrue(sink.items.get(i).timingsMs.containsKey("c-seen"));
    }
    assertTrue(sink.finished);
    assertTrue(src.closed.get());
    // batches are full except the last one
    for (int i = 0; i < b.batchSizes.size() - 1; i++) {
      assertEquals(4, b.batchSizes.get(i), "batch " + i + " of stage b");
    }
    assertEquals(53, b.batchSizes.stream().mapToInt(Integer::intValue).sum());
    // each queue holds at most max(cap, next batch) frames, each stage at most its batch, plus
    // the frame the source holds: the source cannot run further ahead than that
    int bound = (cap + Math.max(cap, 4) + Math.max(cap, 3) + cap) + (1 + 4 + 3) + 1 + 1;
    assertTrue(sink.maxAhead <= bound, "source ran " + sink.maxAhead + " frames ahead");
    assertTrue(r.stageMs().containsKey("decode") && r.stageMs().containsKey("b"), r.toString());
  }

  @Test
  void aFrameThatFailsIsReportedAndTheOthersGoOn() {
    CountingSource src = new CountingSource(10);
    ListSink sink = new ListSink(src);
    Stage bad =
        new Stage() {
          @Override
          public String name() {
            return "bad";
          }

          @Override
          public void process(List<FrameItem> b) {
            if (b.get(0).index == 4) {
              throw new IllegalStateException("cannot do frame 4");
            }
          }
        };
    List<String> seenAfter = Collections.synchronizedList(new ArrayList<>());
    Stage after =
        new Stage() {
          @Override
          public String name() {
            return "after";
          }

          @Override
          public void process(List<FrameItem> b) {
            for (FrameItem it : b) {
              seenAfter.add(it.index + (it.failed() ? "!" : ""));
            }
          }
        };
    FramePipeline.Result r = new FramePipeline(src, List.of(bad, after), sink, 3, null).run();
    assertEquals(10, r.frames());
    assertEquals(1, r.failed());
    assertTrue(
        r.failures().get(0).contains("frame 4") && r.failures().get(0).contains("bad failed"),
        r.failures().toString());
    assertEquals(10, sink.items.size());
    assertTrue(sink.items.get(4).failed());
    assertNull(sink.items.get(3).error);
    assertTrue(seenAfter.contains("4!"), seenAfter.toString());
  }

  @Test
  void aBrokenSinkStopsTheRunWithItsMessageAndAbortsTheSink() {
    CountingSource src = new CountingSource(1000);
    ListSink sink = new ListSink(src);
    sink.failAt = 7;
    VideoException e =
        assertThrows(
            VideoException.class,
            () -> new FramePipeline(src, List.of(new JitterStage("a", 2, 5)), sink, 2, null).run());
    assertTrue(e.getMessage().contains("sink broke at frame 7"), e.getMessage());
    assertTrue(e.getMessage().contains("7 frame(s) were handed to the output"), e.getMessage());
    assertTrue(e.getMessage().contains("leftover note"), e.getMessage());
    assertTrue(sink.aborted);
    assertTrue(!sink.finished);
    assertTrue(src.cancelled.get());
    assertTrue(src.produced.get() < 1000, "the source was not stopped");
  }

  @Test
  void aFatalStageStopsTheRun() {
    CountingSource src = new CountingSource(100);
    ListSink sink = new ListSink(src);
    Stage fatal =
        new Stage() {
          @Override
          public String name() {
            return "fatal";
          }

          @Override
          public void process(List<FrameItem> b) {
            if (b.get(0).index == 2) {
              throw new VideoException.FatalStageException("class 9 is out of range", null);
            }
          }
        };
    VideoException e =
        assertThrows(
            VideoException.class,
            () -> new FramePipeline(src, List.of(fatal), sink, 2, null).run());
    assertTrue(e.getMessage().startsWith("class 9 is out of range"), e.getMessage());
    assertTrue(sink.aborted);
  }

  @Test
  void aFailingSourceStopsTheRun() {
    FrameSource src =
        new FrameSource() {
          int i;

          @Override
          public FrameItem next() {
            if (i == 3) {
              throw new VideoException("ffmpeg could not decode in.mp4");
            }
            return new FrameItem(i++, "f");
          }

          @Override
          public String describe() {
            return "failing";
          }
        };
    ListSink sink = new ListSink(new CountingSource(0));
    // a slow stage: the frames read before the failure are still in the queues when it comes
    JitterStage slow = new JitterStage("slow", 2, 7);
    VideoException e =
        assertThrows(
            VideoException.class, () -> new FramePipeline(src, List.of(slow), sink, 2, null).run());
    assertTrue(e.getMessage().contains("could not decode"), e.getMessage());
    assertTrue(e.getMessage().contains("3 frame(s) were handed to the output"), e.getMessage());
    assertEquals(List.of(0L, 1L, 2L), sink.items.stream().map(it -> it.index).toList());
    assertTrue(sink.aborted);
    assertFalse(sink.finished, "an input that broke off must not commit the output");
  }
}
