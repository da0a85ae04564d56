package dev.segcam.bench;

import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.Target;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.SavedModelImporter;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The benchmark set of issue #15 point 4 ({@link CpuVsTensorflowSet}): which models at which sizes
 * and batches, how many timed iterations each gets by default, where each model's SavedModel is,
 * and the two in-process sides (segcam's Explainer, {@link TfGradCam}) of one configuration.
 */
final class BenchSet {
  private BenchSet() {}

  /** The whole set (model:size), each at every batch of {@link #DEFAULT_BATCHES}. */
  static final String DEFAULT_MODELS = "scene-unet:64,unet:256,unet:512,unet124:512,classic:512";

  static final String DEFAULT_BATCHES = "1,8";

  /** The seed of the exported U-Nets' weights (BenchModels' too). */
  static final long WEIGHT_SEED = 20261123;

  /** The image's seed (uniform [0,1) pixels; batch 8 repeats the same image). */
  static final long IMAGE_SEED = 20261123 ^ 0x5eed;

  /** The class scored over the centre box (half the image each way). */
  static final int TARGET_CLASS = 1;

  /** One configuration: a model at a square input size and a batch. */
  record Config(String model, int size, int batch) {
    String id() {
      return model + "-" + size + "-b" + batch;
    }

    /** model:size:batch, the form {@code --config} takes. */
    String arg() {
      return model + ":" + size + ":" + batch;
    }

    static Config parse(String s) {
      String[] f = s.split(":");
      if (f.length != 3) {
        throw new IllegalArgumentException("--config is model:size:batch, got " + s);
      }
      return new Config(f[0], Integer.parseInt(f[1]), Integer.parseInt(f[2]));
    }

    /**
     * Timed iterations that keep the whole set under ~25 minutes on an idle 2-core machine (the
     * issue's times: the classic 31M U-Net at 512x512 costs ~7 s per batch-1 step on each side).
     */
    int defaultIterations() {
      long pixels = (long) size * size * batch;
      double scale = model.equals("classic") ? 8 : 1;
      double work = pixels * scale; // ~ the step's time
      if (work <= 64L * 64 * 8) {
        return 30;
      }
      if (work <= 256L * 256) {
        return 20;
      }
      if (work <= 256L * 256 * 8) {
        return 6;
      }
      if (work <= 512L * 512 * 8) {
        return 4;
      }
      return 2;
    }
  }

  /**
   * The set's configurations, in order (model, then batch): each {@code model:size} at every batch
   * of {@code batches}, each {@code model:size:batch} at that batch only.
   */
  static List<Config> configs(String models, String batches) {
    List<Config> out = new ArrayList<>();
    for (String m : models.split(",")) {
      String[] f = m.trim().split(":");
      if (f.length != 2 && f.length != 3) {
        throw new IllegalArgumentException("--models is model:size[:batch],...; got " + m);
      }
      model(f[0]); // unknown names fail here, before anything runs
      for (String b : f.length == 3 ? new String[] {f[2]} : batches.split(",")) {
        out.add(new Config(f[0], Integer.parseInt(f[1]), Integer.parseInt(b.trim())));
      }
    }
    return out;
  }

  /** A model of the set as a SavedModel and the TF names the benchmark feeds and fetches. */
  record Model(
      String description, Path dir, String inputOp, String logitsOp, String layerTf, int classes) {}

  private static BenchModels.Spec model(String name) {
    return switch (name) {
      case "scene-unet", "unet" -> null;
      case "unet124" -> BenchModels.UNET124;
      case "classic" -> BenchModels.CLASSIC;
      default ->
          throw new IllegalArgumentException(
              "unknown model " + name + " (scene-unet, unet, unet124, classic)");
    };
  }

  /** Where a configuration's SavedModel lives (the U-Nets are exported per batch: fixed shapes). */
  static Path dir(Config c) {
    return c.model().equals("scene-unet")
        ? Paths.get("weights", "scene-unet")
        : Paths.get("target", "bench", "set", c.model() + "-" + c.size() + "-b" + c.batch());
  }

  /**
   * The configuration's model; with export, the U-Nets are built and exported first (TensorFlow
   * Java, the same weights for every batch), else an earlier export is used.
   */
  static Model prepare(Config c, boolean export) {
    if (c.model().equals("scene-unet")) {
      if (c.size() != 64) {
        throw new IllegalArgumentException("scene-unet takes 64x64 images, got " + c.size());
      }
      return new Model(
          "scene-unet (118k params, the shipped SavedModel)",
          dir(c),
          "image",
          "logits",
          "mid_3/conv2/Relu",
          4);
    }
    Path dir = dir(c);
    BenchModels.Spec spec = model(c.model());
    int[] channels = spec == null ? BenchUnet.CHANNELS : spec.channels();
    int classes = spec == null ? 4 : spec.classes();
    long params;
    if (export || !Files.exists(dir.resolve("saved_model.pb"))) {
      BenchUnet.Exported e =
          BenchUnet.export(
              dir,
              c.size(),
              c.batch(),
              channels,
              classes,
              spec != null && spec.softmax(),
              WEIGHT_SEED);
      params = e.parameters();
    } else {
      params = -1;
    }
    String what =
        switch (c.model()) {
          case "unet" -> "1.9M U-Net";
          case "unet124" -> "124-class U-Net (Conv2DTranspose decoder)";
          default -> "classic 31M U-Net";
        };
    return new Model(
        params < 0 ? what : String.format(Locale.ROOT, "%s (%d params)", what, params),
        dir,
        "input",
        "head/bias_add",
        "bottleneck_b/relu",
        classes);
  }

  /** (batch,size,size,3): one uniform random image, repeated. */
  static FloatTensor images(Config c) {
    Random rng = new Random(IMAGE_SEED);
    int n = c.size() * c.size() * 3;
    float[] one = new float[n];
    for (int i = 0; i < n; i++) {
      one[i] = rng.nextFloat();
    }
    float[] all = new float[n * c.batch()];
    for (int b = 0; b < c.batch(); b++) {
      System.arraycopy(one, 0, all, b * n, n);
    }
    return new FloatTensor(Shape.of(c.batch(), c.size(), c.size(), 3), all);
  }

  /** The target: class {@link #TARGET_CLASS}, sum of its logits over the centre box. */
  static Target target(Config c) {
    int x0 = c.size() / 4;
    int x1 = 3 * c.size() / 4;
    return Target.box(TARGET_CLASS, x0, x0, x1, x1);
  }

  /** TensorFlow's score seed for {@link #target}: 1 at (b, y, x, class) in the box. */
  static float[] seed(Config c, int classes) {
    int s = c.size();
    float[] seed = new float[c.batch() * s * s * classes];
    for (int b = 0; b < c.batch(); b++) {
      for (int y = s / 4; y < 3 * s / 4; y++) {
        for (int x = s / 4; x < 3 * s / 4; x++) {
          seed[((b * s + y) * s + x) * classes + TARGET_CLASS] = 1f;
        }
      }
    }
    return seed;
  }

  /** One side's Seg-Grad-CAM step, timed by its caller or by itself (peers in another process). */
  interface Side extends AutoCloseable {
    String name();

    /** Runs one step; returns {wall ms, CPU ms of the process that ran it}. */
    double[] step();

    @Override
    void close();
  }

  /**
   * Default least wall time of the warm-up ({@link #warmUp}), seconds. Measured on scene-unet at
   * 64x64 batch 1 (2 cores, 2026-12-05): with one warm-up step segcam's median over the next 30
   * steps was 1.53x TensorFlow's, over steps 30-99 1.35x and over steps 100-199 0.95x: its Java
   * code is still being JIT-compiled (TensorFlow's C++ is not) for about the first 100 steps, about
   * 2 s of both sides' time. Bigger models pass this in their first step.
   */
  static final double DEFAULT_WARMUP_S = 5;

  /** Upper bound on warm-up steps per side, whatever the time (a side of microseconds). */
  static final int MAX_WARMUP_STEPS = 1000;

  /**
   * Steps every side (in order) until at least minSteps rounds have run and at least minSeconds of
   * wall time has passed, at most {@link #MAX_WARMUP_STEPS} rounds (but never fewer than minSteps);
   * returns the rounds run.
   */
  static int warmUp(List<? extends Side> sides, int minSteps, double minSeconds) {
    long t0 = System.nanoTime();
    long minNanos = (long) (minSeconds * 1e9);
    int rounds = 0;
    while (rounds < minSteps || (rounds < MAX_WARMUP_STEPS && System.nanoTime() - t0 < minNanos)) {
      sides.forEach(Side::step);
      rounds++;
    }
    return rounds;
  }

  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  /** Wall and process CPU ms of r, this JVM's CPU (all its threads, native ones included). */
  static double[] timed(Runnable r) {
    long c0 = OS.getProcessCpuTime();
    long t0 = System.nanoTime();
    r.run();
    return new double[] {(System.nanoTime() - t0) / 1e6, (OS.getProcessCpuTime() - c0) / 1e6};
  }

  /** segcam as `./segcam` runs it: CpuCamBackend.open (oneDNN when it loads), Explainer. */
  static final class Segcam implements Side {
    final Explainer explainer;
    final String engine;
    final String layer;
    private final FloatTensor images;
    private final Target target;

    Segcam(Graph graph, Config c, Model m, int threads, boolean javaEngine) {
      List<String> notes = new ArrayList<>();
      CpuCamBackend backend = CpuCamBackend.open(graph, threads, javaEngine, notes::add);
      this.engine = backend.engine() + (notes.isEmpty() ? "" : " (" + notes.get(0) + ")");
      this.explainer = new Explainer(backend);
      explainer.normalization(dev.segcam.backend.Normalization.perMap());
      this.layer = CpuVsTensorflow.irLayer(graph, m.layerTf());
      this.images = images(c);
      this.target = target(c);
    }

    List<CamResult> explain() {
      return explainer.explain(images, List.of(target), List.of(layer), CamMethod.GRAD_CAM);
    }

    @Override
    public String name() {
      return "segcam";
    }

    @Override
    public double[] step() {
      return timed(this::explain);
    }

    @Override
    public void close() {
      explainer.close();
    }
  }

  /** TensorFlow-CPU: {@link TfGradCam}, the whole step in one Session.run. */
  static final class Tf implements Side {
    final TfGradCam tf;
    private final float[] image;

    Tf(Config c, Model m, int threads) {
      this.tf =
          new TfGradCam(
              m.dir(),
              m.inputOp(),
              m.logitsOp(),
              m.layerTf(),
              c.batch(),
              seed(c, m.classes()),
              threads,
              threads);
      this.image = images(c).data();
    }

    TfGradCam.Maps run() {
      return tf.run(image);
    }

    @Override
    public String name() {
      return "tensorflow";
    }

    @Override
    public double[] step() {
      return timed(this::run);
    }

    @Override
    public void close() {
      tf.close();
    }
  }

  /** Imports a configuration's SavedModel with segcam at the configuration's input shape. */
  static Graph graph(Model m) {
    return SavedModelImporter.load(m.dir()).graph();
  }
}
