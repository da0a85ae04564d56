package dev.segcam.cli;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;

/**
 * What {@code bench --latency} measures around the timed frames: the garbage collectors' pause
 * count and time, and the heap allocated by all threads (the engine's pool included; -1 per frame
 * when the JVM cannot tell).
 */
final class LatencyMeter {
  private long gcCount0;
  private long gcMs0;
  private long alloc0;
  private long gcCount;
  private long gcMs;
  private long alloc;
  private int frames;

  void start() {
    gcCount0 = gcCount();
    gcMs0 = gcMs();
    alloc0 = allocated();
  }

  void stop(int frames) {
    this.frames = frames;
    gcCount = gcCount() - gcCount0;
    gcMs = gcMs() - gcMs0;
    long a = allocated();
    alloc = a < 0 || alloc0 < 0 ? -1 : a - alloc0;
  }

  /** The figures, with p50/p99/max from the sorted frame times. */
  Documents.Latency latency(double[] sortedMs) {
    return new Documents.Latency(
        at(sortedMs, 0.5),
        at(sortedMs, 0.99),
        sortedMs[sortedMs.length - 1],
        gcCount,
        gcMs,
        alloc < 0 ? -1 : (double) alloc / Math.max(1, frames));
  }

  // nearest rank
  private static double at(double[] sorted, double q) {
    int i = (int) Math.ceil(q * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
  }

  private static long gcCount() {
    long n = 0;
    for (GarbageCollectorMXBean b : ManagementFactory.getGarbageCollectorMXBeans()) {
      n += Math.max(0, b.getCollectionCount());
    }
    return n;
  }

  private static long gcMs() {
    long n = 0;
    for (GarbageCollectorMXBean b : ManagementFactory.getGarbageCollectorMXBeans()) {
      n += Math.max(0, b.getCollectionTime());
    }
    return n;
  }

  private static long allocated() {
    try {
      return Allocation.total();
    } catch (LinkageError e) {
      // a Java runtime without the jdk.management module (a jlink'd JRE): no allocation counter
      return -1;
    }
  }

  /** Kept apart so that a runtime without com.sun.management fails here, not in the meter. */
  private static final class Allocation {
    static long total() {
      if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t
          && t.isThreadAllocatedMemorySupported()
          && t.isThreadAllocatedMemoryEnabled()) {
        return t.getTotalThreadAllocatedBytes();
      }
      return -1;
    }
  }
}
