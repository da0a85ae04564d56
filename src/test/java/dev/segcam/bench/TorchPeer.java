package dev.segcam.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * One PyTorch Seg-Grad-CAM peer (bench/peers/torch_gradcam.py) as a child process, for benchmarks
 * that interleave it with segcam: {@link #start} loads the export that {@link TorchPeerExport}
 * wrote, lets the peer run one step and write its maps ({@link #maps}, {@link #rawMaps}), {@link
 * #agreement} compares them with segcam's, {@link #step} times one more step in the child (wall ms;
 * {@link #lastCpuMs} the child's CPU ms), {@link #close} ends it and reads its peak RSS.
 *
 * <p>The child inherits this process's environment (so OMP_WAIT_POLICY=passive from the bench
 * scripts reaches PyTorch's OpenMP threads too); its stderr goes to DIR/peer-&lt;peer&gt;.log.
 * Python: {@code /usr/bin/python3} (Debian's python3-torch), or {@code -Dsegcam.torch.python}.
 */
final class TorchPeer implements AutoCloseable {
  /** The two peers: pytorch-grad-cam's GradCAM, and the hand-written one. */
  enum Kind {
    HAND("hand"),
    PGC("pgc");

    final String arg;

    Kind(String arg) {
      this.arg = arg;
    }
  }

  static final String PYTHON = System.getProperty("segcam.torch.python", "/usr/bin/python3");
  static final Path SCRIPT = Paths.get("bench", "peers", "torch_gradcam.py");
  private static final long QUIT_WAIT_S = 30;

  private final Kind kind;
  private final Path dir;
  private final Process process;
  private final BufferedReader out;
  private final Writer in;
  private final String info;
  private double lastCpuMs = Double.NaN;
  private double peakRssMb = Double.NaN;

  private TorchPeer(Kind kind, Path dir, Process process) {
    this.kind = kind;
    this.dir = dir;
    this.process = process;
    this.out =
        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    String infoLine = null;
    for (String line = readLine(); !line.equals("READY"); line = readLine()) {
      if (line.startsWith("info ")) {
        infoLine = line.substring("info ".length());
      }
    }
    this.info = infoLine;
  }

  /**
   * Null when {@link #PYTHON} imports torch and numpy, else why not (one line), e.g. for a test's
   * skip reason.
   */
  static String unavailable() {
    try {
      Process p =
          new ProcessBuilder(PYTHON, "-c", "import torch, numpy").redirectErrorStream(true).start();
      String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      if (p.waitFor() == 0) {
        return null;
      }
      String[] lines = text.split("\n");
      return PYTHON + " cannot import torch and numpy: " + lines[lines.length - 1];
    } catch (IOException e) {
      return "cannot run " + PYTHON + ": " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted while probing " + PYTHON;
    }
  }

  /** Starts the peer on the export in dir; returns once it has run its first step (READY). */
  static TorchPeer start(Path dir, Kind kind, int batch, int threads) {
    List<String> cmd = new ArrayList<>();
    cmd.add(PYTHON);
    cmd.add(SCRIPT.toString());
    cmd.add("--model");
    cmd.add(dir.toString());
    cmd.add("--peer");
    cmd.add(kind.arg);
    cmd.add("--batch");
    cmd.add(Integer.toString(batch));
    cmd.add("--threads");
    cmd.add(Integer.toString(threads));
    try {
      Process p =
          new ProcessBuilder(cmd)
              .redirectError(dir.resolve("peer-" + kind.arg + ".log").toFile())
              .start();
      try {
        return new TorchPeer(kind, dir, p);
      } catch (RuntimeException e) {
        p.destroyForcibly();
        throw e;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("starting " + String.join(" ", cmd), e);
    }
  }

  /** The peer's info line (JSON: torch version, threads, batch, layer, stand-ins), or null. */
  String info() {
    return info;
  }

  Kind kind() {
    return kind;
  }

  /** The peer's normalised maps from its first step, (B,H,W). */
  TorchPeerExport.Npy maps() {
    return TorchPeerExport.readNpy(dir.resolve("out-" + kind.arg + ".npy"));
  }

  /** The peer's map at the layer after the ReLU, before upsampling, (B,h,w). */
  TorchPeerExport.Npy rawMaps() {
    return TorchPeerExport.readNpy(dir.resolve("out-" + kind.arg + "-raw.npy"));
  }

  /** The largest |ref - x| over every element, relative to the largest |ref|. */
  static double agreement(float[] ref, float[] x) {
    if (ref.length != x.length) {
      throw new IllegalArgumentException(
          "maps of different sizes: segcam " + ref.length + ", peer " + x.length);
    }
    double max = 0;
    double err = 0;
    for (int i = 0; i < ref.length; i++) {
      max = Math.max(max, Math.abs(ref[i]));
      double d = Math.abs((double) ref[i] - x[i]);
      err = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(err, d);
    }
    return max > 0 ? err / max : err;
  }

  /**
   * Throws unless the peer's normalised maps agree with segcam's heatmaps (B,H,W, images in order)
   * to tolOfMax (|ref - x| ≤ tolOfMax · max|ref| on every element); returns the agreement.
   */
  double requireAgreement(float[] segcamHeatmaps, double tolOfMax) {
    double a = agreement(segcamHeatmaps, maps().data());
    if (!(a <= tolOfMax)) {
      throw new IllegalStateException(
          String.format(
              Locale.ROOT,
              "torch peer %s disagrees with segcam on %s: max |diff| %.3g of max|segcam| > %.1g",
              kind.arg,
              dir,
              a,
              tolOfMax));
    }
    return a;
  }

  /** Runs one step in the child; returns its wall time in ms (measured in the child). */
  double step() {
    send("run");
    String line = readLine();
    String[] f = line.split(" ");
    if (f.length != 3 || !f[0].equals("ms")) {
      throw new IllegalStateException(
          "torch peer " + kind.arg + ": expected 'ms W C', got " + line);
    }
    lastCpuMs = Double.parseDouble(f[2]);
    return Double.parseDouble(f[1]);
  }

  /** The child's process CPU time (all threads) of the last {@link #step}, ms. */
  double lastCpuMs() {
    return lastCpuMs;
  }

  /** The child's peak resident set in MB, known after {@link #close}. */
  double peakRssMb() {
    return peakRssMb;
  }

  @Override
  public void close() {
    try {
      if (process.isAlive()) {
        send("quit");
        for (String line = out.readLine(); line != null; line = out.readLine()) {
          if (line.startsWith("peak_rss_mb ")) {
            peakRssMb = Double.parseDouble(line.substring("peak_rss_mb ".length()));
          }
        }
        if (!process.waitFor(QUIT_WAIT_S, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      }
    } catch (IOException | UncheckedIOException e) {
      process.destroyForcibly();
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  private void send(String cmd) {
    try {
      in.write(cmd + "\n");
      in.flush();
    } catch (IOException e) {
      throw new IllegalStateException("torch peer " + kind.arg + " is gone: " + logTail(), e);
    }
  }

  private String readLine() {
    try {
      String line = out.readLine();
      if (line == null) {
        throw new IllegalStateException(
            "torch peer " + kind.arg + " ended (status " + exitStatus() + "): " + logTail());
      }
      if (line.startsWith("error ")) {
        throw new IllegalStateException("torch peer " + kind.arg + ": " + line.substring(6));
      }
      return line;
    } catch (IOException e) {
      throw new UncheckedIOException("reading torch peer " + kind.arg, e);
    }
  }

  private String exitStatus() {
    try {
      return process.waitFor(QUIT_WAIT_S, TimeUnit.SECONDS)
          ? Integer.toString(process.exitValue())
          : "running";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "unknown";
    }
  }

  private String logTail() {
    Path log = dir.resolve("peer-" + kind.arg + ".log");
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size()));
    } catch (IOException e) {
      return "(no log at " + log + ")";
    }
  }
}
