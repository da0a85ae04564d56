package dev.segcam.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Peak resident memory of one side of the benchmark, measured in a child JVM that runs only that
 * side ({@code CpuVsTensorflowSet --memory-only SIDE}): the kernel's high-water mark VmHWM of
 * /proc/self/status, so the JVM's heap as the collector let it grow, native buffers (oneDNN's,
 * TensorFlow's) and the loaded libraries all count, as they do for a user's process.
 */
final class PeakRss {
  private PeakRss() {}

  /** The line a child prints last, parsed by {@link #measure}. */
  static final String PEAK = "peak_rss_mb";

  /** The child's VmRSS right after loading the side, before its first step. */
  static final String LOADED = "loaded_rss_mb";

  /** The line a child prints when it runs out of heap (then exits 3). */
  static final String OOM = "out_of_memory";

  /** Exit status of a process killed by SIGKILL (the kernel's OOM killer, among others). */
  private static final int KILLED = 137;

  /** A field of /proc/self/status in MB, or -1 when unreadable (not Linux). */
  static double statusMb(String field) {
    try {
      for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
        if (line.startsWith(field + ":")) {
          String[] f = line.substring(field.length() + 1).trim().split("\\s+");
          return Long.parseLong(f[0]) / 1024.0; // kB
        }
      }
    } catch (IOException | RuntimeException e) {
      // fall through
    }
    return -1;
  }

  /** How often {@link #watch} reads VmRSS. */
  private static final long WATCH_MS = 50;

  /**
   * Stops this process (exit 3, after an {@link #OOM} line) when its VmRSS passes limitMb: a daemon
   * thread reading /proc/self/status. Nothing when limitMb is not positive.
   */
  static void watch(long limitMb) {
    if (limitMb <= 0) {
      return;
    }
    Thread t =
        new Thread(
            () -> {
              while (true) {
                double rss = statusMb("VmRSS");
                if (rss > limitMb) {
                  System.out.printf(
                      Locale.ROOT,
                      "%s RSS %.0f MB passed the limit of %d MB (--rss-limit-mb, default %.0f%% of MemAvailable at the"
                          + " start)%n",
                      OOM,
                      rss,
                      limitMb,
                      100 * CpuVsTensorflowSet.RSS_SHARE);
                  System.out.flush();
                  Runtime.getRuntime().halt(3);
                }
                try {
                  Thread.sleep(WATCH_MS);
                } catch (InterruptedException e) {
                  return;
                }
              }
            },
            "rss-watch");
    t.setDaemon(true);
    t.start();
  }

  /** What one child reported. */
  record Result(double peakMb, double loadedMb, String error) {
    boolean outOfMemory() {
      return error != null && (error.contains(OOM) || error.contains("exit " + KILLED));
    }

    String json() {
      return error != null
          ? "{\"error\": " + Machine.jsonString(error) + "}"
          : String.format(
              Locale.ROOT, "{\"peak_mb\": %.1f, \"loaded_mb\": %.1f}", peakMb, loadedMb);
    }
  }

  /**
   * Runs {@code CpuVsTensorflowSet --memory-only side --config c.arg() ...extra} in a child JVM
   * with this JVM's flags and class path, echoes its output indented, and returns what it reported.
   */
  static Result measure(String side, BenchSet.Config c, List<String> extra) {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(CpuVsTensorflowSet.class.getName());
    cmd.addAll(List.of("--memory-only", side, "--config", c.arg()));
    cmd.addAll(extra);
    double peak = -1;
    double loaded = -1;
    String last = "";
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      try (BufferedReader r =
          new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          System.out.println("    [" + side + " child] " + line);
          if (!last.startsWith(OOM)) {
            last = line;
          }
          String[] f = line.trim().split("\\s+");
          if (f.length == 2 && f[0].equals(PEAK)) {
            peak = Double.parseDouble(f[1]);
          } else if (f.length == 2 && f[0].equals(LOADED)) {
            loaded = Double.parseDouble(f[1]);
          }
        }
      }
      p.waitFor();
      if (p.exitValue() != 0 || peak < 0) {
        return new Result(-1, -1, "child exit " + p.exitValue() + ": " + last);
      }
      return new Result(peak, loaded, null);
    } catch (IOException e) {
      return new Result(-1, -1, "could not start the child JVM: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(-1, -1, "interrupted");
    }
  }
}
