package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.BackendProbe;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.Target;
import dev.segcam.image.Images;
import dev.segcam.image.Panels;
import dev.segcam.ir.FloatTensor;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code segcam explain} end to end on the shipped scene-unet and the sample scenes. */
class ExplainCommandTest {
  static final Path MODEL = Path.of("weights/scene-unet");
  static final int SAMPLES = 6;

  /**
   * Seg-Grad-CAM on the default layer must heat a class's true region more than the rest of the
   * image: mean heat inside / mean heat outside per unit area, for every (sample, class in its
   * label map). Measured on samples 0-5 with the shipped weights (both tests below print them; the
   * CLI's predicted region and the true-region mask agree to 0.1%): objects (disc, bar, shadow)
   * 10.6 .. 368, minimum 10.56 (bar in scene_05); background 2.94 .. 72, minimum 2.94 (scene_02).
   * Background is the weaker case by nature: it covers 80-95% of each scene, so "outside" is a few
   * small objects whose borders catch the blur of the bilinear upsampling. Thresholds are about
   * half the observed minima, rounded down, so retrained weights or engine changes have headroom,
   * while a flat map (ratio 1) or one lighting the wrong class (< 1) still fails.
   */
  static final double MIN_RATIO_OBJECT = 5.0;

  static final double MIN_RATIO_BACKGROUND = 1.5;

  static double minRatio(int c) {
    return c == 0 ? MIN_RATIO_BACKGROUND : MIN_RATIO_OBJECT;
  }

  @TempDir static Path shared;
  static Path allOut;
  static Run all;

  record Run(int code, String out, String err) {}

  static Run run(String... args) {
    CommandLine cl = Main.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  /**
   * `explain MODEL IMAGE --class 1 --whole --backend cpu --out OUT` plus more: the run the CLI
   * tests of single models share.
   */
  static Run explainClass1(Path model, Path image, Path out, String... more) {
    String[] base = {
      "explain",
      model.toString(),
      image.toString(),
      "--class",
      "1",
      "--whole",
      "--backend",
      "cpu",
      "--out",
      out.toString()
    };
    String[] args = java.util.Arrays.copyOf(base, base.length + more.length);
    System.arraycopy(more, 0, args, base.length, more.length);
    return run(args);
  }

  /** The default layer as the shared run printed it ("layer: NAME (default: ..."). */
  static String defaultLayer() {
    assertEquals(0, all.code(), all.err());
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("(?m)^layer: (\\S+) \\(default").matcher(all.out());
    assertTrue(m.find(), all.out());
    return m.group(1);
  }

  static Path sample(int i) {
    return Path.of(String.format(Locale.ROOT, "samples/scene_%02d.png", i));
  }

  @BeforeAll
  static void explainAllSamples() {
    allOut = shared.resolve("all");
    List<String> args = new ArrayList<>(List.of("explain", MODEL.toString()));
    for (int i = 0; i < SAMPLES; i++) {
      args.add(sample(i).toString());
    }
    args.addAll(List.of("--out", allOut.toString(), "--backend", "cpu"));
    all = run(args.toArray(String[]::new));
  }

  @Test
  void writesDecodablePngsAndParseableJson() throws IOException {
    assertEquals(0, all.code(), all.err());
    assertTrue(all.out().contains("layer: "), all.out());
    assertTrue(all.out().contains("(default:"), all.out());
    // non-TTY stderr: one plain progress line per image, no carriage returns
    assertFalse(all.err().contains("\r"), all.err());
    assertTrue(all.err().contains("[6/6] scene_05.png"), all.err());
    try (Stream<Path> s = Files.list(allOut)) {
      List<String> names = s.map(p -> p.getFileName().toString()).sorted().toList();
      assertEquals(
          List.of("scene_00", "scene_01", "scene_02", "scene_03", "scene_04", "scene_05"),
          names,
          "one folder per image and no staging folder left behind");
    }
    for (int i = 0; i < SAMPLES; i++) {
      Path dir = allOut.resolve(String.format(Locale.ROOT, "scene_%02d", i));
      Object doc = MiniJson.parse(Files.readString(dir.resolve("explain.json")));
      assertEquals("gradcam", MiniJson.path(doc, "method"));
      assertEquals("logits", MiniJson.path(doc, "score_mode"));
      assertEquals("cpu", MiniJson.path(doc, "backend"));
      for (String k : List.of("import", "forward", "backward", "cam", "write")) {
        double ms = (Double) MiniJson.path(doc, "timings_ms", k);
        assertTrue(ms >= 0, k + " " + ms);
      }
      List<?> results = (List<?>) MiniJson.path(doc, "results");
      assertFalse(results.isEmpty());
      for (int r = 0; r < results.size(); r++) {
        List<?> w = (List<?>) MiniJson.path(doc, "results", r, "weights");
        assertEquals(16, w.size(), "one weight per channel of the default layer");
        assertTrue((Double) MiniJson.path(doc, "results", r, "score") != 0);
        for (String f : List.of("heatmap", "overlay")) {
          BufferedImage img = decode(allOut.resolve((String) MiniJson.path(doc, "results", r, f)));
          assertEquals(64, img.getWidth());
          assertEquals(64, img.getHeight());
        }
      }
      BufferedImage seg = decode(dir.resolve("segmentation.png"));
      assertTrue(seg.getWidth() > 64, "segmentation carries a legend strip");
      String panel = (String) MiniJson.path(doc, "panels", 0);
      BufferedImage p = decode(allOut.resolve(panel));
      // image | segmentation | one CAM per class | legend
      assertTrue(p.getWidth() > (3 + results.size()) * ExplainCommand.TILE, "panel " + p);
    }
  }

  static BufferedImage decode(Path f) throws IOException {
    assertTrue(Files.isRegularFile(f), f + " missing");
    BufferedImage img = ImageIO.read(f.toFile());
    assertNotNull(img, f + " does not decode");
    return img;
  }

  /** The true label map of sample i: pixel value = class. */
  static int[] trueLabels(int i) throws IOException {
    BufferedImage l =
        ImageIO.read(
            Path.of(String.format(Locale.ROOT, "samples/scene_%02d_labels.png", i)).toFile());
    int[] v = new int[l.getWidth() * l.getHeight()];
    l.getRaster().getSamples(0, 0, l.getWidth(), l.getHeight(), 0, v);
    return v;
  }

  static double ratio(float[] heat, int[] labels, int c) {
    double in = 0;
    double outSum = 0;
    int nIn = 0;
    for (int p = 0; p < heat.length; p++) {
      if (labels[p] == c) {
        in += heat[p];
        nIn++;
      } else {
        outSum += heat[p];
      }
    }
    double meanIn = in / nIn;
    double meanOut = outSum / (heat.length - nIn);
    return meanIn / Math.max(meanOut, 1e-6);
  }

  @Test
  void heatIsInsideTheTrueRegion() throws IOException {
    assertEquals(0, all.code(), all.err());
    StringBuilder report = new StringBuilder("inside/outside mean heat (CLI, predicted region):");
    double min = Double.MAX_VALUE;
    List<String> failures = new ArrayList<>();
    for (int i = 0; i < SAMPLES; i++) {
      int[] labels = trueLabels(i);
      Path dir = allOut.resolve(String.format(Locale.ROOT, "scene_%02d", i));
      Object doc = MiniJson.parse(Files.readString(dir.resolve("explain.json")));
      List<?> results = (List<?>) MiniJson.path(doc, "results");
      for (int c = 0; c < 4; c++) {
        boolean present = false;
        for (int l : labels) {
          present |= l == c;
        }
        if (!present) {
          continue;
        }
        String file = null;
        for (int r = 0; r < results.size(); r++) {
          if (((Double) MiniJson.path(doc, "results", r, "target", "class")).intValue() == c) {
            file = (String) MiniJson.path(doc, "results", r, "heatmap");
          }
        }
        assertNotNull(file, "sample " + i + ": no heatmap for true class " + c);
        BufferedImage h = decode(allOut.resolve(file));
        float[] heat = new float[64 * 64];
        for (int p = 0; p < heat.length; p++) {
          heat[p] = h.getRaster().getSample(p % 64, p / 64, 0) / 255f;
        }
        double q = ratio(heat, labels, c);
        min = Math.min(min, q);
        report.append(String.format(Locale.ROOT, " s%d/c%d=%.2f", i, c, q));
        if (!(q >= minRatio(c))) {
          failures.add(String.format(Locale.ROOT, "sample %d class %d: %.3f", i, c, q));
        }
      }
    }
    report.append(String.format(Locale.ROOT, "; min %.2f", min));
    System.out.println(report);
    assertTrue(failures.isEmpty(), failures + " below the thresholds; " + report);
  }

  /** The same criterion with the true region itself as M (through the Java API, no files). */
  @Test
  void heatIsInsideTheTrueRegionWithTrueMasks() throws IOException {
    StringBuilder report = new StringBuilder("inside/outside mean heat (API, true-region mask):");
    double min = Double.MAX_VALUE;
    List<String> failures = new ArrayList<>();
    try (Explainer ex = Explainer.open(MODEL, Backends::cpu)) {
      for (int i = 0; i < SAMPLES; i++) {
        int[] labels = trueLabels(i);
        FloatTensor img = Images.readTensor(sample(i));
        List<Target> targets = new ArrayList<>();
        for (int c = 0; c < 4; c++) {
          boolean[][] m = new boolean[64][64];
          boolean any = false;
          for (int p = 0; p < labels.length; p++) {
            m[p / 64][p % 64] = labels[p] == c;
            any |= labels[p] == c;
          }
          if (any) {
            targets.add(Target.mask(c, m));
          }
        }
        // the layer these thresholds were set on (the last feature layer). Mask targets now
        // default to dec1_2/conv1 (LayerChoice), where the region matters; there the same
        // ratios are >= 2.5 (one bar at 4.3 < 5), the trade-off docs/seg-gradcam-table.md shows.
        for (CamResult r :
            ex.explain(img, targets, List.of(ex.defaultLayer()), CamMethod.GRAD_CAM)) {
          int c = r.target().classIndex();
          double q = ratio(r.heatmap().data(), labels, c);
          min = Math.min(min, q);
          report.append(String.format(Locale.ROOT, " s%d/c%d=%.2f", i, c, q));
          if (!(q >= minRatio(c))) {
            failures.add(String.format(Locale.ROOT, "sample %d class %d: %.3f", i, c, q));
          }
        }
      }
    }
    report.append(String.format(Locale.ROOT, "; min %.2f", min));
    System.out.println(report);
    assertTrue(failures.isEmpty(), failures + " below the thresholds; " + report);
  }

  static void assertOneLineError(Run r, String contains) {
    assertEquals(Main.EXIT_ERROR, r.code(), r.out() + r.err());
    // progress lines ("segcam: [i/n] ...") of images done before the error may precede it
    List<String> lines = r.err().strip().lines().filter(l -> !l.startsWith("segcam: [")).toList();
    assertEquals(1, lines.size(), r.err());
    assertTrue(lines.get(0).startsWith("segcam: error: "), r.err());
    assertFalse(r.err().contains("\tat "), r.err());
    assertTrue(r.err().contains(contains), r.err());
  }

  @Test
  void classOutOfRange(@TempDir Path tmp) {
    Path out = tmp.resolve("out");
    Run r =
        run(
            "explain",
            MODEL.toString(),
            sample(0).toString(),
            "--class",
            "7",
            "--out",
            out.toString(),
            "--backend",
            "cpu");
    assertOneLineError(r, "class 7 is out of range: the model has 4 classes (0..3)");
    assertFalse(Files.exists(out), "no output folder after a failed run");

    Run named =
        run(
            "explain",
            MODEL.toString(),
            sample(0).toString(),
            "--class",
            "shadw",
            "--out",
            out.toString(),
            "--backend",
            "cpu");
    assertOneLineError(named, "did you mean [shadow");
  }

  @Test
  void unknownLayerSuggestsNames(@TempDir Path tmp) {
    Path out = tmp.resolve("out");
    Run r =
        run(
            "explain",
            MODEL.toString(),
            sample(0).toString(),
            "--layer",
            defaultLayer() + "x",
            "--out",
            out.toString(),
            "--backend",
            "cpu");
    assertOneLineError(
        r, "unknown layer '" + defaultLayer() + "x'; did you mean [" + defaultLayer() + ",");
    assertFalse(Files.exists(out));
  }

  @Test
  void badPixel(@TempDir Path tmp) {
    Path out = tmp.resolve("out");
    Run r =
        run(
            "explain",
            MODEL.toString(),
            sample(0).toString(),
            "--class",
            "bar",
            "--pixel",
            "64,3",
            "--out",
            out.toString(),
            "--backend",
            "cpu");
    assertOneLineError(r, "pixel (x=64, y=3) is outside the model output of 64x64");
    assertFalse(Files.exists(out));

    Run malformed =
        run(
            "explain",
            MODEL.toString(),
            sample(0).toString(),
            "--pixel",
            "3",
            "--out",
            out.toString());
    assertEquals(Main.EXIT_USAGE, malformed.code(), malformed.err());
    assertTrue(malformed.err().contains("'3' is not X,Y"), malformed.err());
  }

  @Test
  void missingModelDir(@TempDir Path tmp) {
    Run r =
        run(
            "explain",
            tmp.resolve("nope").toString(),
            sample(0).toString(),
            "--out",
            tmp.resolve("out").toString());
    assertOneLineError(r, "no such model directory");
    assertFalse(Files.exists(tmp.resolve("out")));
  }

  @Test
  void corruptImageLeavesNoPartialOutputs(@TempDir Path tmp) throws IOException {
    Path bad = tmp.resolve("broken.png");
    byte[] good = Files.readAllBytes(sample(1));
    Files.write(bad, java.util.Arrays.copyOf(good, 60)); // a PNG cut after its header
    Path out = tmp.resolve("out");
    Files.createDirectories(out);
    Files.writeString(out.resolve("keep.txt"), "an earlier file");
    // the first image succeeds, the second fails: nothing of the run may stay
    Run r =
        run(
            "explain",
            MODEL.toString(),
            sample(0).toString(),
            bad.toString(),
            "--out",
            out.toString(),
            "--backend",
            "cpu");
    assertOneLineError(r, "broken.png");
    try (Stream<Path> s = Files.list(out)) {
      assertEquals(List.of("keep.txt"), s.map(p -> p.getFileName().toString()).toList());
    }
  }

  @Test
  void usageErrorsExitTwo(@TempDir Path tmp) {
    Run r =
        run(
            "explain",
            MODEL.toString(),
            sample(0).toString(),
            "--method",
            "magic",
            "--out",
            tmp.toString());
    assertEquals(Main.EXIT_USAGE, r.code());
    assertTrue(r.err().startsWith("segcam: "), r.err());
    assertTrue(r.err().contains("Try 'segcam explain --help'"), r.err());
    Run noOut = run("explain", MODEL.toString(), sample(0).toString());
    assertEquals(Main.EXIT_USAGE, noOut.code());
    assertTrue(noOut.err().contains("--out"), noOut.err());
  }

  @Test
  void cudaWithoutGpuIsAClearError(@TempDir Path tmp) {
    Assumptions.assumeFalse(BackendProbe.cuda().available(), "a GPU is usable here");
    Run r =
        run(
            "explain",
            MODEL.toString(),
            sample(0).toString(),
            "--backend",
            "cuda",
            "--out",
            tmp.resolve("out").toString());
    assertOneLineError(r, "backend cuda requested but CUDA unavailable: ");
    Run auto =
        run(
            "explain",
            MODEL.toString(),
            sample(0).toString(),
            "--class",
            "bar",
            "--out",
            tmp.resolve("auto").toString());
    assertEquals(0, auto.code(), auto.err());
    assertTrue(
        auto.err().contains("segcam: note: backend auto -> cpu: CUDA unavailable"), auto.err());
    assertEquals(1, auto.err().strip().lines().count(), auto.err());
  }

  @Test
  void otherSizesAreResizedAndJsonGoesToStdout(@TempDir Path tmp) throws IOException {
    BufferedImage big = Images.resize(Images.read(sample(3)), 100, 80);
    Path in = tmp.resolve("big scene.png");
    Images.writePng(big, in);
    Path out = tmp.resolve("out");
    Run r =
        run(
            "explain",
            MODEL.toString(),
            in.toString(),
            "--class",
            "disc",
            "--class",
            "3",
            "--method",
            "gradcam++",
            "--score",
            "probs",
            "--box",
            "10,10,50,60",
            "--json",
            "--out",
            out.toString(),
            "--backend",
            "cpu");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.err().contains("is 100x80, resized (bilinear) to the model input 64x64"), r.err());
    Object doc = MiniJson.parse(r.out());
    Object img = MiniJson.path(doc, "images", 0);
    assertEquals(true, MiniJson.path(img, "resized"));
    assertEquals(List.of(100.0, 80.0), MiniJson.path(img, "image_size"));
    assertEquals("gradcam++", MiniJson.path(img, "method"));
    assertEquals("probs", MiniJson.path(img, "score_mode"));
    String heat = (String) MiniJson.path(img, "results", 1, "heatmap");
    String layer = ExplainCommand.slug((String) MiniJson.path(img, "results", 1, "layer"));
    assertEquals("big_scene/3-shadow.box-10-10-50-60." + layer + ".heatmap.png", heat);
    assertEquals(64, decode(out.resolve(heat)).getWidth());
    // the overlay at the image's own size, beside the model-size files
    String full = (String) MiniJson.path(img, "results", 1, "overlay_full");
    assertEquals("big_scene/3-shadow.box-10-10-50-60." + layer + ".overlay.full.png", full);
    BufferedImage fullImg = decode(out.resolve(full));
    assertEquals(100, fullImg.getWidth());
    assertEquals(80, fullImg.getHeight());
    // the panel at the image's own size too, beside the model-size panel: each tile 100x80
    String panel = (String) MiniJson.path(img, "panels", 0);
    assertEquals("big_scene/panel." + layer + ".png", panel);
    String panelFull = (String) MiniJson.path(img, "panels_full", 0);
    assertEquals("big_scene/panel." + layer + ".full.png", panelFull);
    BufferedImage modelPanel = decode(out.resolve(panel));
    BufferedImage fullPanel = decode(out.resolve(panelFull));
    int cams = 0;
    for (Object res : (List<?>) MiniJson.path(img, "results")) {
      cams += layer.equals(ExplainCommand.slug((String) MiniJson.path(res, "layer"))) ? 1 : 0;
    }
    int tiles = cams + Panels.SEG_GRAD_CAM_EXTRA_TILES;
    int gap = 8;
    assertEquals(gap + tiles * (100 + gap), fullPanel.getWidth());
    assertEquals(gap + tiles * (ExplainCommand.TILE + gap), modelPanel.getWidth());
    assertEquals(modelPanel.getHeight() - ExplainCommand.TILE + 100, fullPanel.getHeight());
    // tile 0 is the original image at its own size, pixel for pixel (one row: 100 high cells,
    // the 80 high image centred); tile 2 (the first CAM) differs from it (heat blended in)
    int top = fullPanel.getHeight() - gap - 100 + (100 - 80) / 2;
    int differing = 0;
    for (int y = 0; y < 80; y++) {
      for (int x = 0; x < 100; x++) {
        int want = big.getRGB(x, y) & 0xFFFFFF;
        assertEquals(
            want, fullPanel.getRGB(gap + x, top + y) & 0xFFFFFF, "image tile " + x + "," + y);
        differing +=
            (fullPanel.getRGB(gap + 2 * (100 + gap) + x, top + y) & 0xFFFFFF) != want ? 1 : 0;
      }
    }
    assertTrue(differing > 100 * 80 / 2, differing + " CAM tile pixels differ from the image");
    assertTrue(Files.isRegularFile(out.resolve("big_scene/explain.json")));
  }

  @Test
  void maskAndPixelRegions(@TempDir Path tmp) throws IOException {
    // the true shadow region of scene_02 as a mask file
    int[] labels = trueLabels(2);
    BufferedImage m = new BufferedImage(64, 64, BufferedImage.TYPE_BYTE_GRAY);
    for (int p = 0; p < labels.length; p++) {
      m.getRaster().setSample(p % 64, p / 64, 0, labels[p] == 3 ? 255 : 0);
    }
    Path maskFile = tmp.resolve("shadow-mask.png");
    Images.writePng(m, maskFile);
    Path out = tmp.resolve("out");
    Run r =
        run(
            "explain",
            MODEL.toString(),
            sample(2).toString(),
            "--class",
            "shadow",
            "--mask",
            maskFile.toString(),
            "--out",
            out.toString(),
            "--backend",
            "cpu");
    assertEquals(0, r.code(), r.err());
    Object doc = MiniJson.parse(Files.readString(out.resolve("scene_02/explain.json")));
    assertEquals(1, ((List<?>) MiniJson.path(doc, "results")).size());
    String heat = (String) MiniJson.path(doc, "results", 0, "heatmap");
    assertTrue(heat.startsWith("scene_02/3-shadow.mask."), heat);
    BufferedImage h = decode(out.resolve(heat));
    float[] v = new float[64 * 64];
    for (int p = 0; p < v.length; p++) {
      v[p] = h.getRaster().getSample(p % 64, p / 64, 0) / 255f;
    }
    assertTrue(ratio(v, labels, 3) >= MIN_RATIO_OBJECT, "mask target heat " + ratio(v, labels, 3));

    // --pixel without --class: the class predicted at that pixel (a disc pixel of scene_02)
    int disc = -1;
    for (int p = 0; p < labels.length && disc < 0; p++) {
      disc = labels[p] == 1 ? p : -1;
    }
    int x = disc % 64 + 1;
    int y = disc / 64 + 2; // inside the disc rather than on its first (rim) pixel
    Path out2 = tmp.resolve("out2");
    Run px =
        run(
            "explain",
            MODEL.toString(),
            sample(2).toString(),
            "--pixel",
            x + "," + y,
            "--out",
            out2.toString(),
            "--backend",
            "cpu");
    assertEquals(0, px.code(), px.err());
    Object d2 = MiniJson.parse(Files.readString(out2.resolve("scene_02/explain.json")));
    assertEquals(1.0, MiniJson.path(d2, "results", 0, "target", "class"));
    assertEquals(
        "pixel (x=" + x + ", y=" + y + ")", MiniJson.path(d2, "results", 0, "target", "region"));
  }
}
