package dev.segcam.bench;

import dev.segcam.backend.cpu.Arena;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.backend.cpu.CpuOpTable;
import dev.segcam.backend.onednn.OneDnnContext;
import dev.segcam.backend.onednn.OneDnnOpTable;
import dev.segcam.backend.onednn.OneDnnProbe;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.Target;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Batch scaling and memory of the whole Seg-Grad-CAM step on the CPU backend (issue #15 points 3
 * and 5): the 1.9M U-Net ({@link IrUnet#MEDIUM}, random weights) at SIZE x SIZE, explained at batch
 * 1 and batch B (one whole-image target, Grad-CAM at {@code bottleneck_b/relu}), with the engine's
 * {@link Arena} on (values and gradients reused call after call) and off (every call allocates
 * fresh arrays, as before the arena). Per frame it records wall and process CPU time (all threads,
 * oneDNN's OpenMP ones included: the robust figure on a shared machine), heap allocated by all
 * threads, minor page faults (/proc/self/stat), GC pauses, and the peaks of the arena's footprint,
 * the heap and the process's resident memory (oneDNN's native buffers included); then the batch-B /
 * batch-1 ratios. Prints a table and writes JSON.
 *
 * <pre>
 * bench/batch-scaling.sh [--engine onednn|java] [--size 256] [--batch 8] [--iterations 3]
 *                        [--warmup 1] [--arena both|on|off] [--threads N]
 *                        [--out bench/results/batch-scaling-ENGINE-SIZE.json]
 * </pre>
 */
public final class BatchScaling {
  private BatchScaling() {}

  /** Counters read before and after the timed frames. */
  record Probe(long wallNs, long cpuNs, long allocated, long minorFaults, long gcCount, long gcMs) {
    static Probe now() {
      long gcn = 0;
      long gcms = 0;
      for (GarbageCollectorMXBean b : ManagementFactory.getGarbageCollectorMXBeans()) {
        gcn += Math.max(0, b.getCollectionCount());
        gcms += Math.max(0, b.getCollectionTime());
      }
      long cpu = -1;
      if (ManagementFactory.getOperatingSystemMXBean()
          instanceof com.sun.management.OperatingSystemMXBean os) {
        cpu = os.getProcessCpuTime();
      }
      long alloc = -1;
      if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t
          && t.isThreadAllocatedMemorySupported()) {
        alloc = t.getTotalThreadAllocatedBytes();
      }
      return new Probe(System.nanoTime(), cpu, alloc, readMinorFaults(), gcn, gcms);
    }

    private static long readMinorFaults() {
      try {
        String stat = Files.readString(Path.of("/proc/self/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[7]); // field 10 of proc(5), counted after the command name
      } catch (Exception e) {
        return -1;
      }
    }
  }

  /** Per-frame figures of one (arena mode, batch) cell. */
  record Cell(
      String arena,
      int batch,
      double wallMs,
      double cpuMs,
      double allocatedMb,
      double minorFaults,
      long gcCount,
      long gcMs,
      double arenaPeakMb,
      double heapPeakMb,
      double rssPeakMb,
      double[] frameWallMs) {
    String json() {
      StringBuilder f = new StringBuilder();
      for (double d : frameWallMs) {
        f.append(f.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.1f", d));
      }
      return String.format(
          Locale.ROOT,
          "{\"arena\": \"%s\", \"batch\": %d, \"wall_ms_per_call\": %.1f, \"cpu_ms_per_call\":"
              + " %.1f, \"allocated_mb_per_call\": %.2f, \"minor_faults_per_call\": %.0f,"
              + " \"gc_pauses\": %d, \"gc_ms\": %d, \"arena_peak_mb\": %.1f,"
              + " \"heap_peak_mb\": %.1f, \"rss_peak_mb\": %.1f, \"wall_ms\": [%s]}",
          arena,
          batch,
          wallMs,
          cpuMs,
          allocatedMb,
          minorFaults,
          gcCount,
          gcMs,
          arenaPeakMb,
          heapPeakMb,
          rssPeakMb,
          f);
    }
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> o = CpuVsTensorflow.parse(args);
    String engineName = o.getOrDefault("engine", "onednn");
    int size = Integer.parseInt(o.getOrDefault("size", "256"));
    int big = Integer.parseInt(o.getOrDefault("batch", "8"));
    int iterations = Integer.parseInt(o.getOrDefault("iterations", "3"));
    int warmup = Integer.parseInt(o.getOrDefault("warmup", "1"));
    int threads =
        Integer.parseInt(
            o.getOrDefault("threads", "" + Runtime.getRuntime().availableProcessors()));
    String modes = o.getOrDefault("arena", "both");
    Path out =
        Path.of(
            o.getOrDefault(
                "out", "bench/results/batch-scaling-" + engineName + "-" + size + ".json"));
    boolean java = engineName.equals("java");
    if (!java && !OneDnnProbe.status().available()) {
      throw new IllegalStateException(OneDnnProbe.status().describe());
    }
    Graph graph = IrUnet.build(IrUnet.MEDIUM, 7);
    String layer = "bottleneck_b/relu";
    double[] load0 = Machine.loadAverage();
    String engineLine = java ? CpuCamBackend.JAVA_ENGINE : OneDnnProbe.status().describe();
    System.out.printf(
        "batch scaling: %s, %dx%d, batch 1 vs %d, %d+%d calls, %d threads, %s%n",
        IrUnet.MEDIUM.name(), size, size, big, warmup, iterations, threads, engineLine);
    List<Cell> cells = new ArrayList<>();
    for (String mode : modes.equals("both") ? List.of("on", "off") : List.of(modes)) {
      for (int batch : new int[] {1, big}) {
        cells.add(
            run(graph, layer, java, threads, mode.equals("on"), size, batch, warmup, iterations));
        Cell c = cells.get(cells.size() - 1);
        System.out.printf(
            Locale.ROOT,
            "  arena %-3s batch %d: wall %8.1f ms, CPU %8.1f ms, allocated %8.2f MB, %8.0f minor"
                + " faults per call; GC %d pauses %d ms; peak: arena %.0f MB, heap %.0f MB,"
                + " RSS %.0f MB%n",
            c.arena(),
            c.batch(),
            c.wallMs(),
            c.cpuMs(),
            c.allocatedMb(),
            c.minorFaults(),
            c.gcCount(),
            c.gcMs(),
            c.arenaPeakMb(),
            c.heapPeakMb(),
            c.rssPeakMb());
      }
    }
    StringBuilder ratios = new StringBuilder();
    for (int i = 0; i + 1 < cells.size(); i += 2) {
      Cell one = cells.get(i);
      Cell many = cells.get(i + 1);
      double wall = many.wallMs() / one.wallMs();
      double cpu = many.cpuMs() / one.cpuMs();
      System.out.printf(
          Locale.ROOT,
          "  arena %-3s batch %d / batch 1: wall %.2fx, CPU %.2fx (linear: %dx)%n",
          one.arena(),
          big,
          wall,
          cpu,
          big);
      ratios.append(ratios.length() == 0 ? "" : ", ");
      ratios.append(
          String.format(
              Locale.ROOT,
              "{\"arena\": \"%s\", \"wall\": %.2f, \"cpu\": %.2f}",
              one.arena(),
              wall,
              cpu));
    }
    StringBuilder cs = new StringBuilder();
    for (Cell c : cells) {
      cs.append(cs.length() == 0 ? "\n    " : ",\n    ").append(c.json());
    }
    String json =
        String.format(
            Locale.ROOT,
            "{\n  \"benchmark\": \"batch-scaling\",\n  \"device\": %s,\n  \"engine\": %s,\n"
                + "  \"model\": \"%s\",\n  \"size\": %d,\n  \"layer\": \"%s\",\n"
                + "  \"threads\": %d,\n  \"iterations\": %d,\n  \"warmup\": %d,\n"
                + "  \"max_heap_mb\": %d,\n  \"date\": \"%s\",\n  \"commit\": \"%s\",\n"
                + "  \"load_average_before\": %s,\n  \"load_average_after\": %s,\n"
                + "  \"cells\": [%s\n  ],\n  \"batch_ratio\": [%s]\n}\n",
            Machine.jsonString(Machine.cpuModel() + ", " + Machine.cores() + " cores"),
            Machine.jsonString(engineLine),
            IrUnet.MEDIUM.name(),
            size,
            layer,
            threads,
            iterations,
            warmup,
            Runtime.getRuntime().maxMemory() >> 20,
            Machine.nowUtc(),
            Machine.commit(),
            Machine.loadJson(load0),
            Machine.loadJson(Machine.loadAverage()),
            cs,
            ratios);
    Machine.write(out, json);
    System.out.println("wrote " + out);
  }

  private static Cell run(
      Graph graph,
      String layer,
      boolean java,
      int threads,
      boolean arena,
      int size,
      int batch,
      int warmup,
      int iterations) {
    OneDnnContext ctx = java ? null : OneDnnContext.open();
    CpuEngine engine =
        new CpuEngine(graph, threads, ctx == null ? CpuOpTable.TABLE : OneDnnOpTable.of(ctx));
    // off: a plain forward whose values are all fresh arrays, and a backward outside any pass
    CpuCamBackend.Engine run =
        arena ? CpuCamBackend.Engine.of(engine) : in -> engine.forward(in, null);
    CpuCamBackend backend =
        new CpuCamBackend(
            graph,
            run,
            engine.parallel(),
            () -> {
              try (OneDnnContext c = ctx) {
                engine.close();
              }
            },
            engine.table(),
            "");
    Random rng = new Random(11);
    float[] data = new float[batch * size * size * 3];
    for (int i = 0; i < data.length; i++) {
      data[i] = rng.nextFloat();
    }
    FloatTensor images = new FloatTensor(Shape.of(batch, size, size, 3), data);
    List<Target> targets = List.of(Target.image(1));
    double[] frames = new double[iterations];
    try (Explainer ex = new Explainer(backend)) {
      for (int i = 0; i < warmup; i++) {
        ex.explain(images, targets, List.of(layer), CamMethod.GRAD_CAM);
      }
      System.gc();
      resetPeaks();
      Probe a = Probe.now();
      for (int i = 0; i < iterations; i++) {
        long t0 = System.nanoTime();
        ex.explain(images, targets, List.of(layer), CamMethod.GRAD_CAM);
        frames[i] = (System.nanoTime() - t0) / 1e6;
      }
      Probe b = Probe.now();
      double n = iterations;
      return new Cell(
          arena ? "on" : "off",
          batch,
          Stats.of(frames).median(),
          (b.cpuNs() - a.cpuNs()) / 1e6 / n,
          (b.allocated() - a.allocated()) / 1e6 / n,
          (b.minorFaults() - a.minorFaults()) / n,
          b.gcCount() - a.gcCount(),
          b.gcMs() - a.gcMs(),
          engine.arena().stats().peakBytes() / 1e6,
          heapPeakMb(),
          rssPeakMb(),
          frames);
    }
  }

  /** Restarts the heap pools' and the process's peak memory counters (-1 where unsupported). */
  private static void resetPeaks() {
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
      if (p.getType() == MemoryType.HEAP) {
        p.resetPeakUsage();
      }
    }
    try {
      Files.writeString(Path.of("/proc/self/clear_refs"), "5"); // resets VmHWM (Linux)
    } catch (Exception e) {
      // the RSS peak then counts from the process start
    }
  }

  /**
   * Sum of the heap pools' peak use since {@link #resetPeaks} (an upper bound of the heap peak).
   */
  private static double heapPeakMb() {
    long sum = 0;
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
      if (p.getType() == MemoryType.HEAP) {
        sum += p.getPeakUsage().getUsed();
      }
    }
    return sum / 1e6;
  }

  /** The process's peak resident memory (VmHWM: heap, oneDNN's native buffers, everything). */
  private static double rssPeakMb() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1e3;
        }
      }
    } catch (Exception e) {
      // not Linux
    }
    return -1;
  }
}
