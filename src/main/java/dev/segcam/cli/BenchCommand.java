package dev.segcam.cli;

import dev.segcam.SegcamException;
import dev.segcam.backend.DeviceOutOfMemoryException;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.Labels;
import dev.segcam.cam.Target;
import dev.segcam.io.AtomicFile;
import dev.segcam.io.Json;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import dev.segcam.ir.TokenGrids;
import dev.segcam.savedmodel.ImportedModel;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.video.VideoRun;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.function.IntConsumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code segcam bench}: times the whole Seg-Grad-CAM step (forward, score, backward to the layer,
 * CAM, upsampling, normalisation) on one model with random inputs, and saves medians as JSON. The
 * peer comparisons (TensorFlow-CPU, PyTorch) need their runtimes and live in bench/*.sh.
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description =
        "Time Seg-Grad-CAM (forward + backward to the layer + CAM) on MODEL_DIR with random"
            + " inputs; print median/p10/p90 and frames/s, optionally save JSON.")
public final class BenchCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin SharedOptions shared = new SharedOptions();

  @Parameters(index = "0", paramLabel = "MODEL_DIR", description = "SavedModel directory.")
  Path model;

  @Mixin ScoreOptions.Layer layer = new ScoreOptions.Layer();

  @Mixin ScoreOptions.Output scoreOutput = new ScoreOptions.Output();

  @Option(
      names = {"-c", "--class"},
      paramLabel = Vocabulary.CLASS_LABEL,
      defaultValue = "0",
      description =
          Vocabulary.CLASS_HELP + ", scored over the whole image. Default: ${DEFAULT-VALUE}.")
  String cls;

  @Option(
      names = {"-b", "--batch"},
      paramLabel = "N",
      defaultValue = "1",
      description = "Images per call. Default: ${DEFAULT-VALUE}.")
  int batch;

  @Option(
      names = {"-s", "--size"},
      paramLabel = Vocabulary.SIZE_LABEL,
      converter = Vocabulary.SizeConverter.class,
      description = "Input width x height, needed when the model's input size is dynamic.")
  String size;

  @Option(
      names = "--iterations",
      paramLabel = "N",
      defaultValue = "20",
      description = "Timed runs. Default: ${DEFAULT-VALUE}.")
  int iterations;

  @Option(
      names = "--warmup",
      paramLabel = "N",
      defaultValue = "3",
      description = "Untimed runs first. Default: ${DEFAULT-VALUE}.")
  int warmup;

  @Option(names = "--json", paramLabel = "FILE", description = "Save the figures as JSON here.")
  Path json;

  @Option(
      names = "--latency",
      description =
          "Latency mode: batch 1, --iterations frames after the warm-up; adds p50/p99/max, the GC"
              + " pauses and the heap allocated per frame (all threads) to the output and JSON.")
  boolean latency;

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    if (batch < 1) {
      throw Vocabulary.badValue(spec, "--batch", batch, "must be >= 1");
    }
    if (iterations < 1) {
      throw Vocabulary.badValue(spec, "--iterations", iterations, "must be >= 1");
    }
    if (warmup < 0) {
      throw Vocabulary.badValue(spec, "--warmup", warmup, "must be >= 0");
    }
    if (latency && batch != 1) {
      throw Vocabulary.badValue(spec, "--batch", batch, "must be 1 with --latency");
    }
    // with --size, the model is imported at that size: shape arithmetic on a dynamic input folds
    int[] sized = size == null ? null : VideoRun.parseSize(size);
    ImportedModel imported =
        sized == null
            ? SavedModelImporter.load(model)
            : SavedModelImporter.loadAtImageSize(model, null, sized[1], sized[0]);
    // a token layer (N, L, C) is timed on its grid view, as explain explains it
    TokenGrids.Rewritten tokens =
        TokenGrids.apply(
            imported.graph(), layer.name == null ? List.of() : List.of(layer.name), imported::node);
    Graph graph = tokens.graph();
    String benchLayer = layer.name == null ? null : tokens.layers().get(0);
    Shape in = graph.node(graph.inputs().get(0)).shape();
    int h = in.dim(1);
    int w = in.dim(2);
    if (size != null) {
      int[] wh = VideoRun.parseSize(size);
      w = wh[0];
      h = wh[1];
    }
    if (in.rank() != 4 || h <= 0 || w <= 0) {
      throw new SegcamException(
          "model input " + in + " has no fixed height/width: give --size WxH");
    }
    Path labelsFile = model.resolve("labels.txt");
    int classIndex =
        VideoRun.classIndex(cls, Files.isRegularFile(labelsFile) ? Labels.load(labelsFile) : null);
    int c = in.dim(3);
    Backends.Opened opened =
        Backends.open(
            shared.backend,
            graph,
            line -> spec.commandLine().getErr().println("segcam: note: " + line));
    Random rng = new Random(1);
    float[] data = new float[batch * h * w * c];
    for (int i = 0; i < data.length; i++) {
      data[i] = rng.nextFloat();
    }
    FloatTensor images = new FloatTensor(Shape.of(batch, h, w, c), data);
    double[] ms = new double[iterations];
    int used; // the batch the figures are at: less than asked when the device ran out of memory
    String usedLayer;
    LatencyMeter meter = new LatencyMeter();
    try (Explainer ex = new Explainer(opened.backend())) {
      ex.output(
          imported,
          scoreOutput.node,
          line -> spec.commandLine().getErr().println("segcam: note: " + line));
      usedLayer = benchLayer != null ? benchLayer : ex.defaultLayer();
      List<Target> targets = List.of(Target.image(classIndex));
      List<String> layers = List.of(usedLayer);
      FloatTensor[] at = {images};
      int fh = h;
      int fw = w;
      int[] calls = {0};
      used =
          timeRuns(
              batch,
              warmup,
              ms,
              n -> {
                if (calls[0]++ == warmup) {
                  meter.start();
                }
                if (at[0].shape().dim(0) != n) {
                  at[0] =
                      new FloatTensor(Shape.of(n, fh, fw, c), Arrays.copyOf(data, n * fh * fw * c));
                }
                ex.explain(at[0], targets, layers, CamMethod.GRAD_CAM);
              },
              spec.commandLine().getErr());
      meter.stop(iterations);
    }
    double[] sorted = ms.clone();
    Arrays.sort(sorted);
    double med = quantile(sorted, 0.5);
    double p10 = quantile(sorted, 0.1);
    double p90 = quantile(sorted, 0.9);
    double fps = used * 1000.0 / med;
    out.printf(
        "bench: %s, layer %s, input %dx%dx%d, batch %s, backend %s%n",
        model,
        usedLayer,
        h,
        w,
        c,
        used == batch ? String.valueOf(batch) : used + " (" + batch + " ran out of device memory)",
        opened.name());
    out.printf("  %s%n", opened.reason());
    Documents.Latency lat = latency ? meter.latency(sorted) : null;
    if (lat != null) {
      out.printf(
          "  latency over %d frames: p50 %.2f ms, p99 %.2f ms, max %.2f ms; GC %d pauses, %d ms;"
              + " %s%n",
          iterations,
          lat.p50Ms(),
          lat.p99Ms(),
          lat.maxMs(),
          lat.gcCount(),
          lat.gcMs(),
          lat.allocatedBytesPerFrame() < 0
              ? "heap allocation not measured (this Java runtime has no jdk.management)"
              : String.format("%.2f MB allocated per frame", lat.allocatedBytesPerFrame() / 1e6));
    }
    out.printf(
        "  %d runs: median %.2f ms, p10 %.2f ms, p90 %.2f ms, %.1f frames/s%n",
        iterations, med, p10, p90, fps);
    if (json != null) {
      String doc =
          Json.pretty(
              new Documents.Bench(
                  "segcam-bench",
                  opened.name() + ": " + cpuModel() + ", " + cores() + " cores",
                  opened.reason(),
                  Instant.now().toString(),
                  commit(),
                  model.toString(),
                  usedLayer,
                  new int[] {used, h, w, c},
                  batch,
                  iterations,
                  warmup,
                  new Documents.Quantiles(med, p10, p90),
                  fps,
                  lat));
      AtomicFile.write(json, doc.getBytes(StandardCharsets.UTF_8));
      out.println("  wrote " + json);
    }
    out.flush();
    return 0;
  }

  /**
   * Times {@code warmup} untimed then {@code ms.length} timed calls of {@code call} at the batch in
   * use. On {@link DeviceOutOfMemoryException} the batch halves, with a line on {@code err}, and
   * warm-up and timing start again so every figure is at one batch size; at 1 it is an error.
   * Returns the batch the figures were taken at.
   */
  static int timeRuns(int batch, int warmup, double[] ms, IntConsumer call, PrintWriter err) {
    int used = batch;
    for (int i = 0; i < warmup + ms.length; i++) {
      long t0 = System.nanoTime();
      try {
        call.accept(used);
      } catch (DeviceOutOfMemoryException e) {
        if (used == 1) {
          throw new SegcamException(
              "out of device memory with a batch of 1 (" + e.getMessage() + ")", e);
        }
        used =
            e.halvedBatch(
                used,
                line -> {
                  err.println(line);
                  err.flush();
                });
        i = -1;
        continue;
      }
      if (i >= warmup) {
        ms[i - warmup] = (System.nanoTime() - t0) / 1e6;
      }
    }
    return used;
  }

  private static double quantile(double[] sorted, double q) {
    int i = (int) Math.round(q * (sorted.length - 1));
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
  }

  private static int cores() {
    return Runtime.getRuntime().availableProcessors();
  }

  private static String cpuModel() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (l.startsWith("model name")) {
          return l.substring(l.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux: the OS name below is the best we have
    }
    return System.getProperty("os.arch");
  }

  private static String commit() {
    try {
      Process p = new ProcessBuilder("git", "rev-parse", "HEAD").redirectErrorStream(true).start();
      String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      return p.waitFor() == 0 ? s : "unknown";
    } catch (IOException | InterruptedException e) {
      return "unknown";
    }
  }
}
