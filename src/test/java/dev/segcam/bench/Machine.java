package dev.segcam.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** What a result file records about where and when it was measured. */
final class Machine {
  private Machine() {}

  /** "model name" of /proc/cpuinfo, or os.arch when unreadable. */
  static String cpuModel() {
    try {
      for (String line : Files.readAllLines(Paths.get("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux: fall through
    }
    return System.getProperty("os.arch");
  }

  /**
   * The vector instruction-set flags of /proc/cpuinfo that matter to the CPU kernels (avx2, fma,
   * avx512*, amx*), in the kernel's order, or an empty list when unreadable.
   */
  static List<String> cpuFlags() {
    try {
      for (String line : Files.readAllLines(Paths.get("/proc/cpuinfo"))) {
        if (line.startsWith("flags")) {
          return java.util.Arrays.stream(line.substring(line.indexOf(':') + 1).trim().split("\\s+"))
              .filter(
                  f ->
                      f.equals("avx2")
                          || f.equals("fma")
                          || f.startsWith("avx512")
                          || f.startsWith("amx"))
              .toList();
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return List.of();
  }

  /** MemTotal of /proc/meminfo in MB, or -1. */
  static long memTotalMb() {
    return memInfoMb("MemTotal");
  }

  /** MemAvailable of /proc/meminfo in MB (what can be had without swapping), or -1. */
  static long memAvailableMb() {
    return memInfoMb("MemAvailable");
  }

  private static long memInfoMb(String field) {
    try {
      for (String line : Files.readAllLines(Paths.get("/proc/meminfo"))) {
        if (line.startsWith(field + ":")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return -1;
  }

  static int cores() {
    return Runtime.getRuntime().availableProcessors();
  }

  /** The three load averages of /proc/loadavg, or null. */
  static double[] loadAverage() {
    try {
      String[] f = Files.readString(Paths.get("/proc/loadavg")).trim().split("\\s+");
      return new double[] {
        Double.parseDouble(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2])
      };
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  static String loadJson(double[] l) {
    return l == null
        ? "null"
        : String.format("{\"1min\": %.2f, \"5min\": %.2f, \"15min\": %.2f}", l[0], l[1], l[2]);
  }

  static String nowUtc() {
    return Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
  }

  /** git rev-parse HEAD (plus "-dirty" when the tree has changes), or "unknown". */
  static String commit() {
    String head = git(List.of("git", "rev-parse", "HEAD"));
    if (head == null) {
      return "unknown";
    }
    String status = git(List.of("git", "status", "--porcelain", "--untracked-files=no"));
    return status != null && !status.isBlank() ? head + "-dirty" : head;
  }

  private static String git(List<String> cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes()).trim();
      if (!p.waitFor(20, TimeUnit.SECONDS) || p.exitValue() != 0) {
        return null;
      }
      return out;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /** {@code "java": version, "jvm_args": this JVM's flags} (a JSON object's members). */
  static String jvmJson() {
    return "\"java\": "
        + jsonString(System.getProperty("java.vm.version"))
        + ", \"jvm_args\": "
        + jsonString(
            String.join(
                " ",
                java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()));
  }

  static String jsonString(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }

  static void write(Path file, String text) {
    try {
      if (file.getParent() != null) {
        Files.createDirectories(file.getParent());
      }
      Files.writeString(file, text);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("writing " + file, e);
    }
  }
}
