package dev.segcam.kernels;

import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;
import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The CUDA sources in {@code kernels/*.cu} compiled for the host (g++ through {@code
 * kernels/host/cuda_host.h}, driven by {@code kernels/host/driver.cpp}), so a test can run a
 * kernel's own code without a GPU: {@link #launch} takes a grid, a block and the kernel's arguments
 * in its order, Java arrays standing for device buffers (updated in place after the launch, the
 * same array twice is the same buffer), {@link Sparse} for a large mostly-empty input.
 *
 * <p>The driver is compiled once per source state (the binary's name carries a hash of the sources
 * and flags, under target/host-kernels) with AddressSanitizer and UBSan, so an out-of-bounds index
 * or a signed int overflow in a kernel stops it with a report. One driver process serves all
 * launches of a JVM.
 */
final class HostKernels {
  /** The compiler; CI has g++, -Dsegcam.cxx picks another. */
  static final String CXX = System.getProperty("segcam.cxx", "g++");

  private static final List<String> FLAGS =
      List.of(
          "-std=c++20",
          "-pthread",
          "-O1",
          "-ffp-contract=off", // as nvcc -fmad=false: no FMA contraction
          "-fsanitize=address,undefined",
          "-fno-sanitize-recover=all",
          "-g1");

  private static final Pattern KERNEL =
      Pattern.compile("extern\\s+\"C\"\\s+__global__\\s+void\\s+(\\w+)\\s*\\(");

  /** A launch of our small test shapes takes well under a second; this means it hangs. */
  static final long LAUNCH_TIMEOUT_S = 120;

  private static final java.util.concurrent.ScheduledExecutorService WATCHDOG =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "host-kernels-watchdog");
            t.setDaemon(true);
            return t;
          });

  static final Path ROOT = Path.of(System.getProperty("user.dir"));
  static final Path KERNELS = ROOT.resolve("kernels");
  private static final Path WORK = ROOT.resolve("target/host-kernels");

  /** A float buffer of n elements, zero except at the given indices; may exceed 2^31 elements. */
  record Sparse(long n, long[] index, float[] value) {}

  private static HostKernels instance;
  private static String unavailable;

  private final Path driver;
  private Process process;
  private BufferedWriter in;
  private BufferedReader out;
  private Path stderr;

  private HostKernels(Path driver) {
    this.driver = driver;
  }

  /** Why the host kernels cannot run here (no compiler), or null. Compiles on first call. */
  static synchronized String unavailableReason() {
    get();
    return unavailable;
  }

  /** The per-JVM driver; null when {@link #unavailableReason()} is set. */
  static synchronized HostKernels get() {
    if (instance == null && unavailable == null) {
      try {
        Process p = new ProcessBuilder(CXX, "--version").redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        if (p.waitFor() != 0) {
          unavailable = CXX + " --version failed";
        }
      } catch (IOException e) {
        unavailable =
            CXX
                + " not found ("
                + e.getMessage()
                + "): the host-compiled kernel check needs a C++20 compiler (set -Dsegcam.cxx)";
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        unavailable = "interrupted";
      }
      if (unavailable == null) {
        instance = new HostKernels(compile());
      }
    }
    return instance;
  }

  /** Every {@code extern "C" __global__} kernel of kernels/*.cu, by file (sorted). */
  static Map<String, List<String>> kernelsByFile() {
    Map<String, List<String>> byFile = new LinkedHashMap<>();
    for (Path cu : sources(".cu")) {
      List<String> names = new ArrayList<>();
      Matcher m = KERNEL.matcher(read(cu));
      while (m.find()) {
        names.add(m.group(1));
      }
      byFile.put(cu.getFileName().toString(), names);
    }
    return byFile;
  }

  private static final Pattern DEFINE = Pattern.compile("(?m)^#define\\s+(\\w+)\\s+(-?\\d+)\\s*$");

  /**
   * The integer codes {@code #define <prefix>NAME value} of kernels/*.cu (ACT_*, BIN_*), by name in
   * value order: the host test passes the .cu's own codes to kernel and twin alike.
   */
  static Map<String, Integer> codes(String prefix) {
    Map<String, Integer> byName = new java.util.TreeMap<>();
    for (Path cu : sources(".cu")) {
      Matcher m = DEFINE.matcher(read(cu));
      while (m.find()) {
        if (m.group(1).startsWith(prefix)) {
          byName.put(m.group(1), Integer.parseInt(m.group(2)));
        }
      }
    }
    if (byName.isEmpty()) {
      throw new IllegalStateException("no #define " + prefix + "* in kernels/*.cu");
    }
    Map<String, Integer> ordered = new LinkedHashMap<>();
    byName.entrySet().stream()
        .sorted(Map.Entry.comparingByValue())
        .forEach(e -> ordered.put(e.getKey(), e.getValue()));
    return ordered;
  }

  private static List<Path> sources(String suffix) {
    try (Stream<Path> s = Files.list(KERNELS)) {
      return s.filter(p -> p.getFileName().toString().endsWith(suffix)).sorted().toList();
    } catch (IOException e) {
      throw new IllegalStateException("cannot list " + KERNELS, e);
    }
  }

  private static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + p, e);
    }
  }

  /**
   * Writes kernels.inc (each .cu in its own namespace, so file-local helpers cannot collide; the
   * shared .cuh headers first, at global scope) and compiles the driver unless a binary for the
   * same sources and flags exists.
   */
  private static Path compile() {
    StringBuilder inc = new StringBuilder("// generated by HostKernels from kernels/*.cu\n");
    for (Path h : sources(".cuh")) {
      inc.append("#include \"").append(h.toAbsolutePath()).append("\"\n");
    }
    StringBuilder list = new StringBuilder("#define SEGCAM_KERNELS(X)");
    for (Map.Entry<String, List<String>> e : kernelsByFile().entrySet()) {
      String ns = "k_" + e.getKey().replaceAll("\\W", "_");
      inc.append("namespace ").append(ns).append(" {\n");
      inc.append("#include \"").append(KERNELS.resolve(e.getKey()).toAbsolutePath()).append("\"\n");
      inc.append("}\n");
      for (String k : e.getValue()) {
        list.append(" X(").append(ns).append(", ").append(k).append(")");
      }
    }
    inc.append(list).append('\n');
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(inc.toString().getBytes(StandardCharsets.UTF_8));
      md.update(String.join(" ", FLAGS).getBytes(StandardCharsets.UTF_8));
      List<Path> all = new ArrayList<>(sources(".cu"));
      all.addAll(sources(".cuh"));
      try (Stream<Path> host = Files.list(KERNELS.resolve("host"))) {
        all.addAll(host.sorted().toList());
      }
      for (Path p : all) {
        md.update(Files.readAllBytes(p));
      }
      String hash = HexFormat.of().formatHex(md.digest()).substring(0, 16);
      Path dir = WORK.resolve(hash);
      Path bin = dir.resolve("driver");
      if (Files.isExecutable(bin)) {
        return bin;
      }
      Files.createDirectories(dir);
      // a private build folder, moved into place atomically: two JVMs may build at once
      Path build = Files.createTempDirectory(dir, "build");
      Files.writeString(build.resolve("kernels.inc"), inc.toString());
      List<String> cmd = new ArrayList<>(List.of(CXX));
      cmd.addAll(FLAGS);
      cmd.addAll(
          List.of(
              "-I" + build,
              "-I" + KERNELS.resolve("host"),
              KERNELS.resolve("host/driver.cpp").toString(),
              "-o",
              build.resolve("driver").toString()));
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor() != 0) {
        throw new IllegalStateException(
            "host compile of kernels/*.cu failed:\n" + String.join(" ", cmd) + "\n" + log);
      }
      Files.copy(build.resolve("kernels.inc"), dir.resolve("kernels.inc"), REPLACE_EXISTING);
      Files.move(build.resolve("driver"), bin, ATOMIC_MOVE, REPLACE_EXISTING);
      Files.delete(build.resolve("kernels.inc"));
      Files.delete(build);
      return bin;
    } catch (IOException | NoSuchAlgorithmException e) {
      throw new IllegalStateException("host compile of kernels/*.cu: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private void start() throws IOException {
    stderr = Files.createTempFile(WORK, "driver", ".stderr");
    process = new ProcessBuilder(driver.toString()).redirectError(stderr.toFile()).start();
    in =
        new BufferedWriter(
            new OutputStreamWriter(process.getOutputStream(), StandardCharsets.US_ASCII), 1 << 16);
    out =
        new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.US_ASCII), 1 << 16);
  }

  /**
   * Launches {@code kernel} with grid (gx,gy) and block (bx,by) on the host. Arguments in the
   * kernel's order: float[]/double[]/int[]/byte[] (buffers, written back), {@link Sparse}, null (a
   * null pointer), Integer, Float.
   */
  synchronized void launch(String kernel, int gx, int gy, int bx, int by, Object... args) {
    try {
      if (process == null || !process.isAlive()) {
        start();
      }
      Map<Object, Integer> buffers = new IdentityHashMap<>();
      List<Object> order = new ArrayList<>();
      StringBuilder args2 = new StringBuilder();
      for (Object a : args) {
        if (a == null) {
          args2.append(" -1");
        } else if (a instanceof Integer i) {
          args2.append(' ').append(i);
        } else if (a instanceof Float f) {
          args2.append(' ').append(Integer.toHexString(Float.floatToRawIntBits(f)));
        } else {
          Integer k = buffers.get(a);
          if (k == null) {
            k = order.size();
            buffers.put(a, k);
            order.add(a);
          }
          args2.append(' ').append(k);
        }
      }
      StringBuilder req = new StringBuilder();
      req.append("L ").append(kernel).append(' ').append(gx).append(' ').append(gy).append(" 1 ");
      req.append(bx).append(' ').append(by).append(" 1 ").append(order.size()).append('\n');
      for (Object b : order) {
        encode(req, b);
      }
      req.append(args2).append('\n');
      in.write(req.toString());
      in.flush();
      // a kernel that deadlocks (a barrier not every thread reaches) would hang the test: after
      // LAUNCH_TIMEOUT_S the driver is killed and the launch fails
      Process running = process;
      java.util.concurrent.ScheduledFuture<?> watchdog =
          WATCHDOG.schedule(running::destroyForcibly, LAUNCH_TIMEOUT_S, TimeUnit.SECONDS);
      String status;
      try {
        status = out.readLine();
      } finally {
        watchdog.cancel(false);
      }
      if (!"OK".equals(status)) {
        throw new IllegalStateException(failure(kernel, status));
      }
      for (Object b : order) {
        if (!(b instanceof Sparse)) {
          decode(out.readLine(), b, kernel);
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException(failure(kernel, e.toString()), e);
    }
  }

  private String failure(String kernel, String status) {
    String log = "";
    try {
      if (status == null && process != null) {
        process.waitFor(10, TimeUnit.SECONDS); // let the sanitizer finish its report
      }
      log = Files.readString(stderr);
      if (log.length() > 6000) {
        log = log.substring(0, 6000) + "\n...";
      }
    } catch (IOException e) {
      log = "(stderr unreadable: " + e + ")";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return "host-compiled "
        + kernel
        + " failed: "
        + (status == null
            ? "the driver died (or hung past " + LAUNCH_TIMEOUT_S + " s and was stopped)"
            : status)
        + (log.isBlank() ? "" : "\n" + log);
  }

  private static void encode(StringBuilder s, Object b) {
    if (b instanceof float[] f) {
      s.append("f ").append(f.length);
      for (float v : f) {
        s.append(' ').append(Integer.toHexString(Float.floatToRawIntBits(v)));
      }
    } else if (b instanceof double[] d) {
      s.append("d ").append(d.length);
      for (double v : d) {
        s.append(' ').append(Long.toHexString(Double.doubleToRawLongBits(v)));
      }
    } else if (b instanceof int[] a) {
      s.append("i ").append(a.length);
      for (int v : a) {
        s.append(' ').append(v);
      }
    } else if (b instanceof byte[] a) {
      s.append("b ").append(a.length);
      for (byte v : a) {
        s.append(' ').append(v & 0xFF);
      }
    } else if (b instanceof Sparse sp) {
      s.append("F ").append(sp.n()).append(' ').append(sp.index().length);
      for (int k = 0; k < sp.index().length; k++) {
        s.append(' ').append(sp.index()[k]);
        s.append(' ').append(Integer.toHexString(Float.floatToRawIntBits(sp.value()[k])));
      }
    } else {
      throw new IllegalArgumentException("not a buffer: " + b.getClass());
    }
    s.append('\n');
  }

  private static void decode(String line, Object b, String kernel) {
    if (line == null) {
      throw new IllegalStateException("host-compiled " + kernel + ": reply cut short");
    }
    String[] t = line.isBlank() ? new String[0] : line.trim().split(" ");
    int n = java.lang.reflect.Array.getLength(b);
    if (t.length != n) {
      throw new IllegalStateException(
          "host-compiled " + kernel + ": " + t.length + " values back for a buffer of " + n);
    }
    for (int k = 0; k < n; k++) {
      if (b instanceof float[] f) {
        f[k] = Float.intBitsToFloat(Integer.parseUnsignedInt(t[k], 16));
      } else if (b instanceof double[] d) {
        d[k] = Double.longBitsToDouble(Long.parseUnsignedLong(t[k], 16));
      } else if (b instanceof int[] a) {
        a[k] = Integer.parseInt(t[k]);
      } else {
        ((byte[]) b)[k] = (byte) Integer.parseInt(t[k]);
      }
    }
  }
}
