package dev.segcam.bench;

import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.ImportedModel;
import dev.segcam.savedmodel.SavedModelImporter;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * Exports the larger benchmark models of issue #15 as TensorFlow SavedModels, built with TensorFlow
 * Java by {@link BenchUnet} (too big for git and for unit tests: exported only when a benchmark
 * runs), imports each with segcam, and with {@code --check} compares segcam's Java-engine forward
 * with TensorFlow's on a random image (the cpu-vs-tensorflow agreement rule: rtol 1e-3, atol
 * 1e-4·max|tf|).
 *
 * <ul>
 *   <li>{@code unet124}: the 1.9M U-Net's body (32/64/128/256) with a 124-class head and a Softmax
 *       output "probs", Conv2DTranspose decoder.
 *   <li>{@code classic}: Ronneberger's U-Net, 64/128/256/512/1024 channels, 4 downsamplings, SAME
 *       convolutions, 2 classes, 31M parameters.
 * </ul>
 *
 * <pre>
 * java ... dev.segcam.bench.BenchModels [--models unet124:512,classic:512] [--dir target/bench] [--check]
 * </pre>
 */
public final class BenchModels {
  private static final double RTOL = 1e-3;
  private static final double ATOL_OF_MAX = 1e-4;

  /** One model to export. */
  record Spec(String name, int[] channels, int classes, boolean softmax) {}

  static final Spec UNET124 = new Spec("unet124", new int[] {32, 64, 128, 256}, 124, true);
  static final Spec CLASSIC = new Spec("classic", new int[] {64, 128, 256, 512, 1024}, 2, false);

  /** Exports spec for a (1,size,size,3) input under dir/name-size and returns the export. */
  static BenchUnet.Exported export(Spec spec, int size, Path dir, long seed) {
    return export(spec, size, 1, dir, seed);
  }

  /** As {@link #export(Spec, int, Path, long)} for a batch of images, under dir/name-size-bN. */
  static BenchUnet.Exported export(Spec spec, int size, int batch, Path dir, long seed) {
    String name = spec.name() + "-" + size + (batch == 1 ? "" : "-b" + batch);
    return BenchUnet.export(
        dir.resolve(name), size, batch, spec.channels(), spec.classes(), spec.softmax(), seed);
  }

  public static void main(String[] args) {
    String models = "unet124:512,classic:512";
    Path dir = Paths.get("target/bench");
    boolean check = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--models" -> models = args[++i];
        case "--dir" -> dir = Paths.get(args[++i]);
        case "--check" -> check = true;
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    for (String m : models.split(",")) {
      String[] f = m.split(":");
      Spec spec =
          switch (f[0]) {
            case "unet124" -> UNET124;
            case "classic" -> CLASSIC;
            default -> throw new IllegalArgumentException("unknown model " + f[0]);
          };
      int size = Integer.parseInt(f[1]);
      long t0 = System.nanoTime();
      BenchUnet.Exported e = export(spec, size, dir, 15);
      long t1 = System.nanoTime();
      ImportedModel im = SavedModelImporter.load(e.dir());
      Graph g = im.graph();
      String input = g.inputs().get(0);
      Map<String, Shape> shapes = g.inferShapes(Map.of(input, Shape.of(1, size, size, 3)));
      String logits = g.outputs().get("logits");
      System.out.printf(
          Locale.ROOT,
          "%s %dx%d: exported to %s in %.1f s (%d parameters), imported: %d nodes, %d parameters,"
              + " logits %s, outputs %s%n",
          spec.name(),
          size,
          size,
          e.dir(),
          (t1 - t0) / 1e9,
          e.parameters(),
          g.nodes().size(),
          IrUnet.parameters(g),
          shapes.get(logits),
          g.outputs().keySet());
      if (check) {
        check(e, g, input, logits, size);
      }
    }
  }

  private static void check(BenchUnet.Exported e, Graph g, String input, String logits, int size) {
    Random rng = new Random(15);
    float[] image = new float[size * size * 3];
    for (int i = 0; i < image.length; i++) {
      image[i] = rng.nextFloat();
    }
    float[] tf = new float[size * size * e.classes()];
    long t0 = System.nanoTime();
    try (SavedModelBundle b = SavedModelBundle.load(e.dir().toString(), "serve");
        TFloat32 in =
            TFloat32.tensorOf(
                org.tensorflow.ndarray.Shape.of(1, size, size, 3),
                DataBuffers.of(image, true, false));
        Result r = b.session().runner().feed(e.inputOp(), in).fetch(e.outputOp()).run()) {
      ((TFloat32) r.get(0)).copyTo(DataBuffers.of(tf, false, false));
    }
    long t1 = System.nanoTime();
    float[] sc;
    try (CpuEngine eng = new CpuEngine(g)) {
      sc =
          eng.forward(
                  Map.of(input, new FloatTensor(Shape.of(1, size, size, 3), image)),
                  List.of(logits))
              .get(logits)
              .data();
    }
    long t2 = System.nanoTime();
    double max = 0;
    for (float v : tf) {
      max = Math.max(max, Math.abs(v));
    }
    double atol = ATOL_OF_MAX * max;
    int bad = 0;
    double maxErr = 0;
    for (int i = 0; i < tf.length; i++) {
      double err = Math.abs(tf[i] - sc[i]);
      maxErr = Math.max(maxErr, err);
      if (!(err <= atol + RTOL * Math.abs(tf[i]))) {
        bad++;
      }
    }
    System.out.printf(
        Locale.ROOT,
        "  forward check: TensorFlow %.1f s (incl. load), segcam Java engine %.1f s; max |diff| %.3g"
            + " (max |tf| %.3g), %d of %d outside rtol %.0e atol %.0e*max -> %s%n",
        (t1 - t0) / 1e9,
        (t2 - t1) / 1e9,
        maxErr,
        max,
        bad,
        tf.length,
        RTOL,
        ATOL_OF_MAX,
        bad == 0 ? "AGREE" : "DISAGREE");
    if (bad > 0) {
      System.exit(1);
    }
  }
}
