package dev.segcam.bench;

import dev.segcam.backend.BackendChoice;
import dev.segcam.synth.SceneGenerator;
import dev.segcam.video.FramePipeline;
import dev.segcam.video.VideoRun;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.management.ObjectName;

/**
 * The soak run (bench/soak.sh, issue "Reliability" part 3): N synthetic frames through one real
 * {@code segcam video} run ({@link VideoRun#run}: raw rgb24 source → prepare → explain → overlay →
 * PNG sequence + JSON lines), sampling the process every {@value #EVERY} frames, and a verdict on
 * whether memory, threads and file descriptors stay flat.
 *
 * <p>Frames come from {@link SceneGenerator} (64×64, the size of weights/scene-unet), rendered to
 * rgb24 bytes by an {@link InputStream} handed to the run as its stdin ("-"), so the source,
 * decoding and every stage are the ones the command uses. The stream also takes the samples: when
 * the source asks for the first byte of frame i (i a multiple of {@value #EVERY}) it runs {@code
 * System.gc()} and reads heap used after that collection, non-heap, direct buffers, VmRSS and
 * Threads of /proc/self/status, the open descriptors in /proc/self/fd, the JVM's native memory
 * total (when started with -XX:NativeMemoryTracking=summary) and, on --backend cuda only, the
 * device's used memory (cudaMemGetInfo). The source runs at most a few queues ahead of the sink
 * (bounded queues), so "frame i" is within ~40 frames of what has been written. The PNGs are
 * deleted at each sample (only final names: every file under its final name is whole) so that the
 * disk does not fill; the JSON lines file is kept and checked at the end (one line per frame, none
 * failed).
 *
 * <p>Verdict: with F = the samples at frames in (0, 1000] and L = those in (N-1000, N], the means
 * of heap-after-GC, RSS, non-heap, native and device memory satisfy mean(L) ≤ mean(F)·(1 + {@value
 * #SLACK_FRACTION}) + {@value #SLACK_MB} MB (the heap's minimum too: a sample after GC still holds
 * the frames in flight, up to ~40 MB here, so the minimum is the live floor a leak would raise),
 * and the largest thread and descriptor counts of L do not exceed those of F by more than {@value
 * #COUNT_SLACK} (GC and JIT threads come and go). Exit status 1 when not flat, 2 when the run
 * itself failed.
 *
 * <p>Args: [frames=10000] [backend=cpu] [out=bench/results/soak-BACKEND.json] [model=weights/
 * scene-unet] [batch=4] [threads=all cores].
 */
public final class SoakRun {
  static final int EVERY = 100;
  static final int WINDOW = 1000;
  static final double SLACK_FRACTION = 0.10;
  static final double SLACK_MB = 16;
  static final int COUNT_SLACK = 2;

  private SoakRun() {}

  /** One sample of the process, taken when the source starts reading frame {@code frame}. */
  record Sample(
      long frame,
      double seconds,
      double heapMb,
      double heapCommittedMb,
      double nonHeapMb,
      double directMb,
      double rssMb,
      double nativeMb,
      double deviceMb,
      int javaThreads,
      int osThreads,
      int fds,
      double gcMs) {
    String json() {
      return String.format(
          Locale.ROOT,
          "{\"frame\": %d, \"s\": %.2f, \"heap_after_gc_mb\": %.2f, \"heap_committed_mb\": %.1f,"
              + " \"non_heap_mb\": %.2f, \"direct_mb\": %.3f, \"rss_mb\": %.1f, \"native_mb\": %s,"
              + " \"device_mb\": %s, \"java_threads\": %d, \"os_threads\": %d, \"fds\": %d,"
              + " \"gc_ms\": %.1f}",
          frame,
          seconds,
          heapMb,
          heapCommittedMb,
          nonHeapMb,
          directMb,
          rssMb,
          num(nativeMb),
          num(deviceMb),
          javaThreads,
          osThreads,
          fds,
          gcMs);
    }
  }

  public static void main(String[] args) throws Exception {
    int frames = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
    BackendChoice backend = BackendChoice.parse(args.length > 1 ? args[1] : "cpu");
    Path out = Path.of(args.length > 2 ? args[2] : "bench/results/soak-" + backend + ".json");
    Path model = Path.of(args.length > 3 ? args[3] : "weights/scene-unet");
    int batch = args.length > 4 ? Integer.parseInt(args[4]) : 4;
    int threads = args.length > 5 ? Integer.parseInt(args[5]) : Machine.cores();
    if (frames < 2 * WINDOW) {
      System.err.println("frames must be >= " + 2 * WINDOW + " (two windows of " + WINDOW + ")");
      System.exit(2);
    }
    boolean cuda = backend == BackendChoice.CUDA;
    if (cuda && !dev.segcam.backend.BackendProbe.cuda().available()) {
      // never touch cudart without a device: loading it throws UnsatisfiedLinkError
      System.err.println(
          "soak: --backend cuda: " + dev.segcam.backend.BackendProbe.cuda().describe());
      System.exit(2);
    }
    double[] loadStart = Machine.loadAverage();
    Path work = Files.createTempDirectory("segcam-soak");
    Path pngs = work.resolve("frames");
    Path jsonl = work.resolve("frames.jsonl");

    Sampler sampler = new Sampler(cuda, pngs);
    Sample before = sampler.sample(-1);
    SceneStream stream = new SceneStream(frames, 64, 64, sampler);

    VideoRun.Options o = new VideoRun.Options();
    o.model = model;
    o.input = "-";
    o.stdin = stream;
    o.size = "64x64";
    o.output = pngs;
    o.jsonl = jsonl;
    o.classes = List.of("1", "3");
    o.region = "image"; // never empty, so every frame takes the same path through the stage
    o.batch = batch;
    o.threads = threads;
    o.backend = backend;
    o.smooth = 0.5f; // the overlay's moving average keeps state across frames: include it
    StringWriter log = new StringWriter();
    FramePipeline.Result r;
    long t0 = System.nanoTime();
    try (PrintWriter err = new PrintWriter(log)) {
      r = VideoRun.run(o, err);
    } catch (RuntimeException e) {
      System.out.print(log);
      System.err.println("soak: the video run failed: " + e);
      e.printStackTrace();
      System.exit(2);
      return;
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    Sample after = sampler.sample(frames + 1);
    System.out.print(log);

    // nothing lost: one JSON line per frame, none failed; every frame became a PNG
    List<String> lines = Files.readAllLines(jsonl, StandardCharsets.UTF_8);
    long badLines = lines.stream().filter(l -> l.contains("\"error\"")).count();
    long pngCount = sampler.deletedPngs + sampler.deletePngs();
    long leftoverTmp = countTemp(pngs);
    deleteTree(work);

    List<Sample> s = sampler.samples;
    List<Sample> first = window(s, 0, WINDOW);
    List<Sample> last = window(s, frames - WINDOW, frames);
    StringBuilder checks = new StringBuilder();
    boolean flat = true;
    flat &= memCheck(checks, "heap_after_gc_mb", first, last, Sample::heapMb);
    // the live floor: what is left when the sample caught the fewest frames in flight
    flat &= floorCheck(checks, "heap_after_gc_min_mb", first, last, Sample::heapMb);
    flat &= memCheck(checks, "rss_mb", first, last, Sample::rssMb);
    flat &= memCheck(checks, "non_heap_mb", first, last, Sample::nonHeapMb);
    flat &= memCheck(checks, "direct_mb", first, last, Sample::directMb);
    if (!Double.isNaN(s.get(0).nativeMb())) {
      flat &= memCheck(checks, "native_mb", first, last, Sample::nativeMb);
    }
    if (cuda) {
      flat &= memCheck(checks, "device_mb", first, last, Sample::deviceMb);
    }
    flat &= countCheck(checks, "java_threads", first, last, Sample::javaThreads);
    flat &= countCheck(checks, "os_threads", first, last, Sample::osThreads);
    flat &= countCheck(checks, "fds", first, last, Sample::fds);
    boolean complete =
        r.frames() == frames
            && r.failed() == 0
            && lines.size() == frames
            && badLines == 0
            && pngCount == frames
            && leftoverTmp == 0;
    // a finished run gives its threads and descriptors back
    boolean released =
        after.javaThreads() <= before.javaThreads() + COUNT_SLACK
            && after.fds() <= before.fds() + COUNT_SLACK;

    StringBuilder perK = new StringBuilder();
    for (long k = 0; k < frames; k += WINDOW) {
      List<Sample> w = window(s, k, k + WINDOW);
      if (w.isEmpty()) {
        continue;
      }
      perK.append(perK.length() == 0 ? "\n" : ",\n")
          .append(
              String.format(
                  Locale.ROOT,
                  "    {\"frames\": \"%d-%d\", \"heap_after_gc_mb\": %.2f, \"rss_mb\": %.1f,"
                      + " \"non_heap_mb\": %.2f, \"native_mb\": %s, \"device_mb\": %s,"
                      + " \"java_threads_max\": %d, \"os_threads_max\": %d, \"fds_max\": %d,"
                      + " \"frames_per_s\": %.1f}",
                  k + 1,
                  k + WINDOW,
                  mean(w, Sample::heapMb),
                  mean(w, Sample::rssMb),
                  mean(w, Sample::nonHeapMb),
                  num(mean(w, Sample::nativeMb)),
                  num(mean(w, Sample::deviceMb)),
                  (int) max(w, Sample::javaThreads),
                  (int) max(w, Sample::osThreads),
                  (int) max(w, Sample::fds),
                  rate(s, k, k + WINDOW)));
    }

    StringBuilder j = new StringBuilder();
    j.append("{\n");
    j.append("  \"program\": \"dev.segcam.bench.SoakRun\",\n");
    j.append("  \"date\": ").append(Machine.jsonString(Machine.nowUtc())).append(",\n");
    j.append("  \"commit\": ").append(Machine.jsonString(Machine.commit())).append(",\n");
    j.append("  \"device\": ")
        .append(
            Machine.jsonString(
                Machine.cpuModel()
                    + ", "
                    + Machine.cores()
                    + " cores"
                    + (cuda ? "; " + dev.segcam.backend.BackendProbe.cuda().describe() : "")))
        .append(",\n");
    j.append("  \"backend\": ").append(Machine.jsonString(backend.toString())).append(",\n");
    j.append("  \"load_average\": {\"start\": ")
        .append(Machine.loadJson(loadStart))
        .append(", \"end\": ")
        .append(Machine.loadJson(Machine.loadAverage()))
        .append("},\n");
    j.append("  \"java\": ")
        .append(Machine.jsonString(System.getProperty("java.vm.version")))
        .append(",\n");
    j.append("  \"jvm_args\": ")
        .append(
            Machine.jsonString(
                String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments())))
        .append(",\n");
    j.append("  \"run\": ")
        .append(
            Machine.jsonString(
                String.format(
                    Locale.ROOT,
                    "%s, 64x64 synthetic scenes (SceneGenerator) as raw rgb24 on stdin, classes 1"
                        + " and 3 over the whole image, grad-cam at the default layer, batch %d,"
                        + " %d engine threads, smooth 0.5, PNG sequence + JSON lines",
                    model,
                    batch,
                    threads)))
        .append(",\n");
    j.append("  \"frames\": ").append(frames).append(",\n");
    j.append("  \"sample_every\": ").append(EVERY).append(",\n");
    j.append("  \"seconds\": ").append(String.format(Locale.ROOT, "%.1f", seconds)).append(",\n");
    j.append("  \"frames_per_s\": ")
        .append(String.format(Locale.ROOT, "%.2f", frames / seconds))
        .append(",\n");
    j.append("  \"frames_per_s_pipeline\": ")
        .append(String.format(Locale.ROOT, "%.2f", r.framesPerSecond()))
        .append(",\n");
    j.append("  \"gc_ms_total\": ")
        .append(String.format(Locale.ROOT, "%.0f", s.stream().mapToDouble(Sample::gcMs).sum()))
        .append(",\n");
    j.append("  \"complete\": {\"frames\": ")
        .append(r.frames())
        .append(", \"failed\": ")
        .append(r.failed())
        .append(", \"jsonl_lines\": ")
        .append(lines.size())
        .append(", \"jsonl_errors\": ")
        .append(badLines)
        .append(", \"pngs\": ")
        .append(pngCount)
        .append(", \"leftover_temp_files\": ")
        .append(leftoverTmp)
        .append(", \"ok\": ")
        .append(complete)
        .append("},\n");
    j.append("  \"slack\": ")
        .append(
            Machine.jsonString(
                String.format(
                    Locale.ROOT,
                    "memory: mean(last %d) <= mean(first %d) * %.2f + %.0f MB (heap also its minimum); counts: max(last)"
                        + " <= max(first) + %d",
                    WINDOW,
                    WINDOW,
                    1 + SLACK_FRACTION,
                    SLACK_MB,
                    COUNT_SLACK)))
        .append(",\n");
    j.append("  \"first_vs_last\": {").append(checks).append("\n  },\n");
    j.append("  \"flat\": ").append(flat).append(",\n");
    j.append("  \"before_run\": ").append(before.json()).append(",\n");
    j.append("  \"after_run\": ").append(after.json()).append(",\n");
    j.append("  \"released_after_run\": ").append(released).append(",\n");
    j.append("  \"per_thousand\": [").append(perK).append("\n  ],\n");
    j.append("  \"samples\": [");
    for (int i = 0; i < s.size(); i++) {
      j.append(i == 0 ? "\n" : ",\n").append("    ").append(s.get(i).json());
    }
    j.append("\n  ]\n}\n");
    Machine.write(out, j.toString());
    System.out.println("soak: " + frames + " frames in " + String.format("%.1f s", seconds));
    System.out.println("first vs last " + WINDOW + " frames:" + checks);
    System.out.println(
        "flat: " + flat + ", complete: " + complete + ", released: " + released + "; " + out);
    System.exit(flat && complete && released ? 0 : 1);
  }

  private static boolean memCheck(
      StringBuilder b,
      String name,
      List<Sample> first,
      List<Sample> last,
      ToDoubleFunction<Sample> f) {
    double a = mean(first, f);
    double z = mean(last, f);
    boolean ok = z <= a * (1 + SLACK_FRACTION) + SLACK_MB;
    b.append(b.length() == 0 ? "\n" : ",\n")
        .append(
            String.format(
                Locale.ROOT,
                "    \"%s\": {\"first\": %.2f, \"last\": %.2f, \"delta\": %.2f, \"flat\": %b}",
                name,
                a,
                z,
                z - a,
                ok));
    return ok;
  }

  private static boolean floorCheck(
      StringBuilder b,
      String name,
      List<Sample> first,
      List<Sample> last,
      ToDoubleFunction<Sample> f) {
    double a = s(first, f).min().orElse(Double.NaN);
    double z = s(last, f).min().orElse(Double.NaN);
    boolean ok = z <= a * (1 + SLACK_FRACTION) + SLACK_MB;
    b.append(",\n")
        .append(
            String.format(
                Locale.ROOT,
                "    \"%s\": {\"first\": %.2f, \"last\": %.2f, \"delta\": %.2f, \"flat\": %b}",
                name,
                a,
                z,
                z - a,
                ok));
    return ok;
  }

  private static java.util.stream.DoubleStream s(List<Sample> s, ToDoubleFunction<Sample> f) {
    return s.stream().mapToDouble(f);
  }

  private static boolean countCheck(
      StringBuilder b,
      String name,
      List<Sample> first,
      List<Sample> last,
      ToDoubleFunction<Sample> f) {
    int a = (int) max(first, f);
    int z = (int) max(last, f);
    boolean ok = z <= a + COUNT_SLACK;
    b.append(b.length() == 0 ? "\n" : ",\n")
        .append(
            String.format(
                Locale.ROOT,
                "    \"%s\": {\"first_max\": %d, \"last_max\": %d, \"delta\": %d, \"flat\": %b}",
                name,
                a,
                z,
                z - a,
                ok));
    return ok;
  }

  /** Samples taken at frames in (from, to]. */
  private static List<Sample> window(List<Sample> s, long from, long to) {
    return s.stream().filter(x -> x.frame() > from && x.frame() <= to).toList();
  }

  private static double mean(List<Sample> s, ToDoubleFunction<Sample> f) {
    return s.stream().mapToDouble(f).average().orElse(Double.NaN);
  }

  private static double max(List<Sample> s, ToDoubleFunction<Sample> f) {
    return s.stream().mapToDouble(f).max().orElse(Double.NaN);
  }

  /** Frames per second between the samples at frames from and to (GC pauses included). */
  private static double rate(List<Sample> s, long from, long to) {
    Sample a = null;
    Sample z = null;
    for (Sample x : s) {
      if (x.frame() == from) {
        a = x;
      }
      if (x.frame() == to) {
        z = x;
      }
    }
    return a == null || z == null || z.seconds() <= a.seconds()
        ? Double.NaN
        : (to - from) / (z.seconds() - a.seconds());
  }

  private static String num(double v) {
    return Double.isNaN(v) ? "null" : String.format(Locale.ROOT, "%.2f", v);
  }

  private static long countTemp(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    try (Stream<Path> l = Files.list(dir)) {
      // the sinks' temporary names: hidden, ".partial" (or ".tmp" of Images.writePng)
      return l.filter(
              p -> {
                String n = p.getFileName().toString();
                return n.startsWith(".") || n.endsWith(".partial") || n.endsWith(".tmp");
              })
          .count();
    }
  }

  private static void deleteTree(Path p) {
    try (Stream<Path> w = Files.walk(p)) {
      w.sorted((a, b) -> b.compareTo(a)).forEach(x -> x.toFile().delete());
    } catch (IOException e) {
      // best effort: a temp directory
    }
  }

  /**
   * Frames as packed rgb24 bytes, generated on demand; asks the sampler for a sample at the start
   * of every {@value #EVERY}-th frame and after the last one.
   */
  static final class SceneStream extends InputStream {
    private final int frames;
    private final SceneGenerator gen;
    private final Sampler sampler;
    private final byte[] frame;
    private int index = -1;
    private int pos;
    private boolean sampledEnd;

    SceneStream(int frames, int height, int width, Sampler sampler) {
      this.frames = frames;
      this.gen = new SceneGenerator(height, width);
      this.sampler = sampler;
      this.frame = new byte[height * width * 3];
      this.pos = frame.length;
    }

    /** Moves to the next frame when the current one is used up; false at the end. */
    private boolean fill() {
      if (pos < frame.length) {
        return true;
      }
      if (index + 1 >= frames) {
        if (!sampledEnd) {
          sampledEnd = true;
          sampler.samples.add(sampler.sample(frames));
        }
        return false;
      }
      index++;
      if (index % EVERY == 0) {
        sampler.samples.add(sampler.sample(index));
      }
      // a fixed set of 500 scenes, cycled: the generator's cost stays out of the pipeline's
      float[] rgb = gen.generate(7L, index % 500).rgb();
      for (int i = 0; i < rgb.length; i++) {
        frame[i] = (byte) Math.round(Math.max(0f, Math.min(1f, rgb[i])) * 255f);
      }
      pos = 0;
      return true;
    }

    @Override
    public int read() {
      return fill() ? frame[pos++] & 0xFF : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (len == 0) {
        return 0;
      }
      if (!fill()) {
        return -1;
      }
      int n = Math.min(len, frame.length - pos);
      System.arraycopy(frame, pos, b, off, n);
      pos += n;
      return n;
    }
  }

  /** Reads the process's figures; on CUDA runs also the device's (loaded only then). */
  static final class Sampler {
    private static final Pattern NMT_TOTAL =
        Pattern.compile("Total: reserved=(\\d+)KB, committed=(\\d+)KB");

    final List<Sample> samples = new ArrayList<>();
    private final boolean cuda;
    private final Path pngs;
    private final long t0 = System.nanoTime();
    private final boolean nmt;
    long deletedPngs;

    Sampler(boolean cuda, Path pngs) {
      this.cuda = cuda;
      this.pngs = pngs;
      this.nmt =
          ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
              .anyMatch(a -> a.startsWith("-XX:NativeMemoryTracking=") && !a.endsWith("=off"));
    }

    synchronized Sample sample(long frame) {
      deletedPngs += deletePngs();
      long g0 = System.nanoTime();
      System.gc();
      double gcMs = (System.nanoTime() - g0) / 1e6;
      var mem = ManagementFactory.getMemoryMXBean();
      // used heap as the last (full, explicit) collection left it, summed over the heap pools
      long heap = 0;
      for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
        if (p.getType() == MemoryType.HEAP && p.getCollectionUsage() != null) {
          heap += p.getCollectionUsage().getUsed();
        }
      }
      long direct = 0;
      for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
        direct += b.getMemoryUsed();
      }
      String status = readStatus();
      Sample s =
          new Sample(
              frame,
              (System.nanoTime() - t0) / 1e9,
              heap / 1048576.0,
              mem.getHeapMemoryUsage().getCommitted() / 1048576.0,
              mem.getNonHeapMemoryUsage().getUsed() / 1048576.0,
              direct / 1048576.0,
              statusKb(status, "VmRSS") / 1024.0,
              nmt ? nativeCommittedMb() : Double.NaN,
              cuda ? DeviceMemory.usedMb() : Double.NaN,
              ManagementFactory.getThreadMXBean().getThreadCount(),
              (int) statusKb(status, "Threads"),
              fdCount(),
              gcMs);
      return s;
    }

    /** Deletes the finished PNGs (final names only: those are whole); returns how many. */
    long deletePngs() {
      if (!Files.isDirectory(pngs)) {
        return 0;
      }
      long n = 0;
      try (Stream<Path> l = Files.list(pngs)) {
        for (Path p : (Iterable<Path>) l::iterator) {
          String name = p.getFileName().toString();
          if (name.startsWith("frame_") && name.endsWith(".png") && Files.deleteIfExists(p)) {
            n++;
          }
        }
      } catch (IOException e) {
        throw new java.io.UncheckedIOException("clearing " + pngs, e);
      }
      return n;
    }

    private static String readStatus() {
      try {
        return Files.readString(Path.of("/proc/self/status"));
      } catch (IOException e) {
        return "";
      }
    }

    /** A "Name: 123 kB" (or plain count) line of /proc/self/status, or -1. */
    private static double statusKb(String status, String key) {
      for (String line : status.split("\n")) {
        if (line.startsWith(key + ":")) {
          String v = line.substring(key.length() + 1).trim().split("\\s+")[0];
          return Double.parseDouble(v);
        }
      }
      return -1;
    }

    private static int fdCount() {
      try (Stream<Path> l = Files.list(Path.of("/proc/self/fd"))) {
        return (int) l.count() - 1; // the listing's own descriptor
      } catch (IOException e) {
        return -1;
      }
    }

    /** The JVM's committed native memory (NMT summary "Total"), in MB. */
    private static double nativeCommittedMb() {
      try {
        Object r =
            ManagementFactory.getPlatformMBeanServer()
                .invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"),
                    "vmNativeMemory",
                    new Object[] {new String[] {"summary"}},
                    new String[] {String[].class.getName()});
        Matcher m = NMT_TOTAL.matcher(String.valueOf(r));
        return m.find() ? Long.parseLong(m.group(2)) / 1024.0 : Double.NaN;
      } catch (Exception e) {
        return Double.NaN;
      }
    }
  }
}
