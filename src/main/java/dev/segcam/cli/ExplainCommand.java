package dev.segcam.cli;

import dev.segcam.SegcamException;
import dev.segcam.cam.CamException;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.GuidedGradCam;
import dev.segcam.cam.LabelMap;
import dev.segcam.cam.Labels;
import dev.segcam.cam.LayerChoice;
import dev.segcam.cam.Prediction;
import dev.segcam.cam.ScoreMode;
import dev.segcam.cam.Target;
import dev.segcam.image.Images;
import dev.segcam.image.Overlays;
import dev.segcam.image.Panels;
import dev.segcam.io.Json;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.ir.TokenGrids;
import dev.segcam.savedmodel.ImportedModel;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.video.VideoRun;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code segcam explain MODEL_DIR IMAGE... --out DIR}: Seg-Grad-CAM heatmaps for every (image,
 * target, layer), written as PNGs and a JSON per image. See README.md "segcam explain" for the file
 * layout; the names below are the contract.
 */
@Command(
    name = "explain",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = "Seg-Grad-CAM heatmaps of a segmentation SavedModel for one or more images.",
    footerHeading = "%nOutputs, per image, in DIR/<image name without extension>/:%n",
    footer = {
      "  segmentation.png             predicted classes over the image, with a legend",
      "  C-NAME.LAYER.heatmap.png     the CAM as grey levels, R=G=B (255 = hottest)",
      "  C-NAME.LAYER.overlay.png     the CAM in jet, alpha-blended over the image",
      "  C-NAME.LAYER.overlay.full.png  the same at the image's own size (resized images)",
      "  panel.LAYER.png              image | segmentation | a CAM per target | colour bar |",
      "                               legend of the classes present",
      "  panel.LAYER.full.png         the same at the image's own size (resized images)",
      "  explain.json                 targets, scores, channel weights, timings (ms)",
      "C-NAME is the class index and name (e.g. 3-shadow), plus the region unless it",
      "is --predicted (e.g. 3-shadow.box-0-0-8-8); in LAYER, '/' becomes '_'.",
      "Nothing is written unless the whole run succeeds (see --keep-going); each image's",
      "folder is replaced as a whole. Ctrl-C/SIGTERM leave DIR as it was.",
      "Exit codes: 0 ok, 1 error (one line on stderr), 2 bad command line,",
      "130/143 stopped by SIGINT/SIGTERM."
    })
public final class ExplainCommand implements Callable<Integer> {
  /** Opacity of the jet heatmap over the image in overlays and panels. */
  static final float HEAT_ALPHA = 0.5f;

  /** Opacity of class colours in the segmentation overlay. */
  static final float SEG_ALPHA = 0.6f;

  /** Longest side of each panel tile in pixels. */
  static final int TILE = 192;

  @Spec CommandSpec spec;

  @Mixin SharedOptions shared = new SharedOptions();

  @Parameters(index = "0", paramLabel = "MODEL_DIR", description = "SavedModel directory.")
  Path model;

  @Parameters(
      index = "1..*",
      arity = "1..*",
      paramLabel = "IMAGE",
      description = "Images (PNG, JPEG, BMP, GIF, TIFF, WBMP) to explain.")
  List<Path> images;

  @Option(
      names = {"-c", "--class"},
      paramLabel = "C",
      description =
          "Class to explain, by index or name (repeatable). Default: every class the model predicts"
              + " somewhere in the image (with --pixel: the class predicted at that pixel).")
  List<String> classes = new ArrayList<>();

  @ArgGroup(exclusive = true, multiplicity = "0..1", heading = "Region M (pick one):%n")
  RegionOption region;

  /** Where the score is summed; at most one. */
  static final class RegionOption {
    @Option(names = "--predicted", description = Vocabulary.PREDICTED_HELP)
    boolean predicted;

    @Option(names = "--component", description = Vocabulary.COMPONENT_HELP)
    boolean component;

    @Option(
        names = "--pixel",
        paramLabel = "X,Y",
        converter = IntsConverter.Pair.class,
        description = "One pixel: column X, row Y, from the top-left, in the model output grid.")
    Ints pixel;

    @Option(
        names = "--box",
        paramLabel = "X0,Y0,X1,Y1",
        converter = IntsConverter.Quad.class,
        description = "The box X0 <= x < X1, Y0 <= y < Y1 of the model output grid.")
    Ints box;

    @Option(
        names = "--mask",
        paramLabel = "FILE",
        description =
            "A mask image (nonzero = inside) of the output's or the (model-sized) input's size.")
    Path mask;

    @Option(names = "--whole", description = Vocabulary.WHOLE_HELP)
    boolean whole;
  }

  @Option(
      names = {"-l", "--layer"},
      paramLabel = "NAME",
      description =
          "Feature layer (node name as `segcam layers` prints it; repeatable; a token layer"
              + " (N,L,C) as NAME:HxW, or NAME alone when a reshape in the graph gives its grid)."
              + " Default: the last"
              + " conv/activation before the classifier head; with a region of the target's own"
              + " (--box, --pixel, --mask, --component), the last layer whose path to the scores"
              + " is not linear (README).")
  List<String> layers = new ArrayList<>();

  @Option(
      names = {"-m", "--method"},
      paramLabel = Vocabulary.METHOD_LABEL,
      defaultValue = "gradcam",
      converter = Vocabulary.ExplainMethodConverter.class,
      description = Vocabulary.EXPLAIN_METHOD_HELP)
  void method(Vocabulary.ExplainMethod m) {
    method = m.method();
    guided = m.guided();
  }

  CamMethod method = CamMethod.GRAD_CAM;

  /** {@code --method guided-gradcam}: Grad-CAM plus the guided and Guided Grad-CAM maps. */
  boolean guided;

  @Option(
      names = "--output",
      paramLabel = Vocabulary.OUTPUT_LABEL,
      description = Vocabulary.OUTPUT_HELP)
  String scoreOutput;

  @Option(
      names = "--score",
      paramLabel = Vocabulary.SCORE_LABEL,
      defaultValue = "logits",
      converter = Vocabulary.ScoreConverter.class,
      description = Vocabulary.SCORE_HELP)
  ScoreMode score = ScoreMode.LOGITS;

  @Option(
      names = {"-o", "--out"},
      paramLabel = "DIR",
      required = true,
      description =
          "Output directory (created if missing). Each image's folder in it is replaced as a"
              + " whole, so it never mixes two runs.")
  Path out;

  @Option(
      names = "--keep-going",
      description =
          "With several images: an image that fails (unreadable, no such class in it...) is"
              + " reported in one line and skipped, the others are written; exit code 1 if any"
              + " failed. Without it, one failure writes nothing.")
  boolean keepGoing;

  @Option(
      names = "--json",
      description =
          "Print the run as one JSON document on stdout instead of text (explain.json files are"
              + " written either way).")
  boolean json;

  @Option(
      names = "--labels",
      paramLabel = "FILE",
      description = "Class names, one per line (default: labels.txt next to the model, if any).")
  Path labelsFile;

  private PrintWriter err;
  private Progress progress;

  @Override
  public Integer call() {
    PrintWriter stdout = spec.commandLine().getOut();
    err = spec.commandLine().getErr();
    long tRun = System.nanoTime();
    checkInputs();

    long t0 = System.nanoTime();
    // images of one size: the model is imported at it, so shape arithmetic on a dynamic input
    // folds to constants (dynamic crops, reshapes and resizes become static)
    int[] hw = ImageSizes.common(images);
    ImportedModel imported =
        hw == null
            ? SavedModelImporter.load(model)
            : SavedModelImporter.loadAtImageSize(model, null, hw[0], hw[1]);
    double importMs = (System.nanoTime() - t0) / 1e6;
    // token layers (N, L, C) are explained on their grid (NAME:HxW, or the graph's reshape)
    TokenGrids.Rewritten tokens = TokenGrids.apply(imported.graph(), layers, imported::node);
    Graph graph = tokens.graph();
    layers = new ArrayList<>(tokens.layers());

    Labels labels = loadLabels();
    Backends.Opened opened = Backends.open(shared.backend, graph, this::note);
    TimedCamBackend timed = new TimedCamBackend(opened.backend());
    try (Explainer ex = new Explainer(timed)) {
      ex.labels(labels);
      ex.output(imported, scoreOutput, this::note);
      Run run = plan(ex, graph, labels, opened, importMs);
      if (!json) {
        stdout.println(run.header());
        stdout.flush();
      }
      List<Documents.ExplainImage> docs = new ArrayList<>();
      progress = new Progress(err, images.size(), Progress.stderrIsTty());
      List<Documents.Skipped> skipped = new ArrayList<>();
      try (Staging st = new Staging(out)) {
        try {
          for (int i = 0; i < images.size(); i++) {
            int mark = st.mark();
            try {
              docs.add(explainOne(run, ex, timed, st, images.get(i), stdout));
            } catch (SegcamException e) {
              if (!keepGoing) {
                throw e;
              }
              // a bad image (unreadable, empty region...): say so, drop its files, go on
              st.dropSince(mark);
              skipped.add(new Documents.Skipped(images.get(i).toString(), e.getMessage()));
              progress.clear();
              err.println("segcam: error: " + e.getMessage().replace('\n', ' ') + " (skipped)");
              err.flush();
            }
            progress.step(i + 1, images.get(i).getFileName().toString());
          }
        } catch (RuntimeException e) {
          progress.abort();
          throw e;
        }
        if (docs.isEmpty()) {
          throw new SegcamException(
              "all "
                  + images.size()
                  + " images failed; nothing written (first: "
                  + skipped.get(0).error()
                  + ")");
        }
        for (String f : st.commit()) {
          note("replaced the earlier run's " + out.resolve(f) + "/ as a whole");
        }
        double totalMs = (System.nanoTime() - tRun) / 1e6;
        if (json) {
          stdout.println(
              Json.line(
                  new Documents.ExplainRun(
                      out.toString(), docs, skipped.isEmpty() ? null : skipped, Json.ms(totalMs))));
        } else {
          stdout.printf(
              Locale.ROOT, "wrote %d files to %s in %.0f ms%n", st.files().size(), out, totalMs);
        }
        stdout.flush();
        if (!skipped.isEmpty()) {
          err.println(
              "segcam: error: "
                  + skipped.size()
                  + " of "
                  + images.size()
                  + " images failed and were skipped (--keep-going); the others were written");
          err.flush();
          return Main.EXIT_ERROR;
        }
      }
    }
    return 0;
  }

  /** What is fixed for the whole run once the model is loaded. */
  private record Run(
      String input,
      int inH,
      int inW,
      int inC,
      String logits,
      int outChannels,
      int classCount,
      List<String> classNames,
      boolean labelsFromFile,
      List<Integer> classIndices,
      List<String> layers,
      String defaultReason,
      String backendName,
      String backendReason,
      double importMs) {

    String header() {
      String size = (inW > 0 ? inW : "?") + "x" + (inH > 0 ? inH : "?");
      return String.format(
          Locale.ROOT,
          "model: input '%s' %s, %d classes %s, imported in %.0f ms%n"
              + "layer%s: %s%s%n"
              + "backend: %s",
          input,
          size,
          classCount,
          classNames,
          importMs,
          layers.size() > 1 ? "s" : "",
          String.join(", ", layers),
          defaultReason != null ? " (default: " + defaultReason + ")" : "",
          backendName);
    }
  }

  private void checkInputs() {
    if (!Files.isDirectory(model)) {
      throw new SegcamException(
          Files.exists(model)
              ? "model " + model + " is not a directory (give the SavedModel folder)"
              : "no such model directory: " + model);
    }
    Map<String, Path> stems = new HashMap<>();
    for (Path p : images) {
      if (!Files.isRegularFile(p)) {
        throw new SegcamException(
            Files.exists(p) ? "image " + p + " is not a regular file" : "no such image: " + p);
      }
      Path before = stems.put(stem(p), p);
      if (before != null) {
        throw new SegcamException(
            "images "
                + before
                + " and "
                + p
                + " would both write to "
                + out.resolve(stem(p))
                + "; rename one or run them separately");
      }
    }
    if (region != null && region.mask != null && !Files.isRegularFile(region.mask)) {
      throw new SegcamException("no such mask file: " + region.mask);
    }
    if (labelsFile != null && !Files.isRegularFile(labelsFile)) {
      throw new SegcamException("no such labels file: " + labelsFile);
    }
  }

  private Labels loadLabels() {
    if (labelsFile != null) {
      return Labels.load(labelsFile);
    }
    Path auto = model.resolve("labels.txt");
    return Files.isRegularFile(auto) ? Labels.load(auto) : null;
  }

  private Run plan(
      Explainer ex, Graph graph, Labels labels, Backends.Opened opened, double importMs) {
    String input = graph.inputs().get(0);
    Shape inShape = graph.node(input).shape();
    if (graph.node(input).op() instanceof Op.Input in) {
      inShape = in.shape();
    }
    if (inShape.rank() != 4) {
      throw new SegcamException(
          "model input '" + input + "' has shape " + inShape + "; explain needs images (N,H,W,C)");
    }
    int inC = inShape.dim(3);
    if (inC != 1 && inC != 3) {
      throw new SegcamException(
          "model input '"
              + input
              + "' takes "
              + inC
              + " channels; explain feeds images as RGB (3) or grey (1)");
    }
    String logits = ex.logitsNode();
    Shape ls = graph.node(logits).shape();
    int ch = ls.dim(ls.rank() - 1);
    if (ch <= 0) {
      throw new SegcamException("the model output '" + logits + "' has no known class axis: " + ls);
    }
    int classCount = ch == 1 ? 2 : ch;
    if (labels != null && labels.size() != classCount) {
      note(
          "the labels name "
              + labels.size()
              + " classes but the model has "
              + classCount
              + "; unnamed classes are shown as 'class N'");
    }
    List<String> names = new ArrayList<>();
    for (int c = 0; c < classCount; c++) {
      names.add(labels == null ? "class " + c : labels.name(c));
    }

    List<Integer> cls = new ArrayList<>();
    for (String c : classes) {
      int idx = resolveClass(c, labels, classCount);
      if (!cls.contains(idx)) {
        cls.add(idx);
      }
    }

    boolean defaultLayer = layers.isEmpty();
    List<String> lays = new ArrayList<>();
    // the choice depends only on whether the region is the target's own (LayerChoice)
    Target kind = ownRegion(region) ? Target.pixel(0, 0, 0) : Target.predicted(0);
    String defaultReason = null;
    if (defaultLayer) {
      LayerChoice.Choice choice = ex.defaultLayer(List.of(kind.withScore(score)));
      lays.add(choice.layer());
      defaultReason = choice.reason();
    } else {
      for (String l : layers) {
        graph.node(l); // unknown names throw with the closest names as suggestions
        if (!lays.contains(l)) {
          lays.add(l);
          // Grad-CAM(++) weights come from the gradient alone; element-wise methods and
          // XGrad-CAM (weights from g*A) still move with the region at such a layer
          boolean gradientOnly =
              method == CamMethod.GRAD_CAM || method == CamMethod.GRAD_CAM_PLUS_PLUS;
          if (gradientOnly && ownRegion(region) && ex.linearToScores(l)) {
            note(
                "layer '"
                    + l
                    + "' reaches the scores only through linear ops, so every region gives the"
                    + " same "
                    + VideoRun.methodName(method)
                    + " map up to scale; the default for a region is '"
                    + ex.defaultLayer(List.of(kind)).layer()
                    + "'");
          }
        }
      }
    }
    Set<String> slugs = new HashSet<>();
    for (String l : lays) {
      if (!slugs.add(slug(l))) {
        throw new SegcamException(
            "layers "
                + lays
                + " give the same file name part '"
                + slug(l)
                + "'; explain them in separate runs");
      }
    }
    return new Run(
        input,
        inShape.dim(1),
        inShape.dim(2),
        inC,
        logits,
        ch,
        classCount,
        names,
        labels != null,
        cls,
        lays,
        defaultReason,
        opened.name(),
        opened.reason(),
        importMs);
  }

  private static int resolveClass(String c, Labels labels, int classCount) {
    String s = c.trim();
    int idx;
    if (s.matches("-?\\d+")) {
      try {
        idx = Integer.parseInt(s);
      } catch (NumberFormatException e) {
        idx = Integer.MAX_VALUE;
      }
    } else if (labels == null) {
      throw new CamException.ClassOutOfRangeException(
          "class '"
              + c
              + "' is a name but the model has no labels.txt; give an index 0.."
              + (classCount - 1)
              + " or --labels FILE");
    } else {
      idx = labels.index(s);
    }
    if (idx < 0 || idx >= classCount) {
      throw new CamException.ClassOutOfRangeException(
          "class "
              + s
              + " is out of range: the model has "
              + classCount
              + " classes (0.."
              + (classCount - 1)
              + ")");
    }
    return idx;
  }

  /** Explains one image; returns its JSON document (also staged as explain.json). */
  private Documents.ExplainImage explainOne(
      Run run, Explainer ex, TimedCamBackend timed, Staging st, Path file, PrintWriter stdout) {
    long tImage = System.nanoTime();
    String name = file.getFileName().toString();
    String dir = stem(file);
    timed.reset();

    BufferedImage raw = Images.read(file);
    int[] origSize = {raw.getHeight(), raw.getWidth()};
    boolean resized = false;
    BufferedImage img = raw;
    int h = run.inH() > 0 ? run.inH() : raw.getHeight();
    int w = run.inW() > 0 ? run.inW() : raw.getWidth();
    if (h != raw.getHeight() || w != raw.getWidth()) {
      img = Images.resize(raw, w, h);
      resized = true;
      note(
          name
              + " is "
              + raw.getWidth()
              + "x"
              + raw.getHeight()
              + ", resized (bilinear) to the model input "
              + w
              + "x"
              + h
              + "; maps and overlays are at "
              + w
              + "x"
              + h
              + ", *.overlay.full.png and panel.*.full.png at the image's own size");
    }
    FloatTensor rgb = Images.toTensor(img);
    BufferedImage display = Images.toImage(rgb);
    FloatTensor tensor = run.inC() == 1 ? grey(rgb) : rgb;

    // which classes: the user's, else what the model sees in this image
    boolean predictedRegion = region == null || region.predicted || region.component;
    // one forward: the predicted classes pick the targets, then explain reuses the same pass
    List<CamResult> results;
    List<GuidedGradCam.Result> guidedResults = null;
    try (Prediction pred = ex.predict(tensor, run.layers())) {
      LabelMap labelMap = pred.labels().get(0);
      int[] predicted = labelMap.classes();
      int oh = labelMap.height();
      int ow = labelMap.width();
      List<Integer> cls = run.classIndices();
      if (cls.isEmpty()) {
        if (region != null && region.pixel != null) {
          int x = region.pixel.v()[0];
          int y = region.pixel.v()[1];
          if (x < 0 || y < 0 || x >= ow || y >= oh) {
            throw new CamException.PixelOutOfRangeException(
                "pixel (x="
                    + x
                    + ", y="
                    + y
                    + ") is outside the model output of "
                    + ow
                    + "x"
                    + oh
                    + " (width x height)");
          }
          cls = List.of(predicted[y * ow + x]);
        } else {
          TreeSet<Integer> present = new TreeSet<>();
          for (int p : predicted) {
            present.add(p);
          }
          cls = List.copyOf(present);
        }
      } else if (predictedRegion) {
        for (int c : cls) {
          boolean any = false;
          for (int p : predicted) {
            any |= p == c;
          }
          if (!any) {
            throw new CamException.EmptyMaskException(
                "class "
                    + c
                    + " ("
                    + run.classNames().get(c)
                    + ") is predicted nowhere in "
                    + name
                    + ", so its predicted region is empty; pick another class or a region"
                    + " (--pixel, --box, --mask, --whole)");
          }
        }
      }
      List<Target> targets = new ArrayList<>();
      for (int c : cls) {
        targets.add(target(region, c).withScore(score));
      }

      if (guided) {
        guidedResults = GuidedGradCam.explain(ex, pred, targets, run.layers(), method);
        results = guidedResults.stream().map(GuidedGradCam.Result::cam).toList();
      } else {
        results = ex.explain(pred, targets, run.layers(), method);
      }
    }
    double[] ms = timed.millis();

    long tw = System.nanoTime();
    CamResult first = results.get(0);
    int[] seg =
        toImageGrid(
            first.predicted().classes(),
            first.predicted().height(),
            first.predicted().width(),
            h,
            w);
    st.png(
        dir + "/segmentation.png",
        Overlays.segmentation(display, seg, run.classNames(), SEG_ALPHA));
    List<String[]> resultFiles = new ArrayList<>();
    for (int ri = 0; ri < results.size(); ri++) {
      CamResult r = results.get(ri);
      String base = dir + "/" + targetSlug(r.target(), run.classNames()) + "." + slug(r.layer());
      float[] heat = r.heatmap().data();
      st.png(base + ".heatmap.png", Images.toImage(new FloatTensor(Shape.of(h, w), heat)));
      st.png(
          base + ".overlay.png",
          Overlays.blend(display, heat, h, w, HEAT_ALPHA, dev.segcam.image.Colormaps.JET));
      String full = null;
      if (resized) {
        // the map upsampled to the image's own size, over the original pixels
        int fh = origSize[0];
        int fw = origSize[1];
        full = base + ".overlay.full.png";
        st.png(
            full,
            Overlays.blend(
                raw,
                Overlays.resizeMap(heat, h, w, fh, fw),
                fh,
                fw,
                HEAT_ALPHA,
                dev.segcam.image.Colormaps.JET));
      }
      String guidedPng = null;
      String guidedCamPng = null;
      if (guidedResults != null) {
        GuidedGradCam.Result g = guidedResults.get(ri);
        guidedPng = base + ".guided.png";
        guidedCamPng = base + ".guided-gradcam.png";
        st.png(guidedPng, Images.toImage(GuidedGradCam.display(g.guided())));
        st.png(guidedCamPng, Images.toImage(GuidedGradCam.display(g.guidedGradCam())));
      }
      resultFiles.add(
          new String[] {
            base + ".heatmap.png", base + ".overlay.png", full, guidedPng, guidedCamPng
          });
    }
    List<String> panels = new ArrayList<>();
    List<String> panelsFull = resized ? new ArrayList<>() : null;
    int[] segFull = null;
    if (resized) {
      segFull =
          toImageGrid(
              first.predicted().classes(),
              first.predicted().height(),
              first.predicted().width(),
              origSize[0],
              origSize[1]);
    }
    for (String layer : run.layers()) {
      List<float[]> cams = new ArrayList<>();
      List<Integer> camClasses = new ArrayList<>();
      List<String> titles = new ArrayList<>();
      List<int[]> regions = new ArrayList<>();
      for (CamResult r : results) {
        if (r.layer().equals(layer)) {
          regions.add(regionOnImage(r, h, w));
          cams.add(r.heatmap().data());
          camClasses.add(r.target().classIndex());
          titles.add(
              run.classNames().get(r.target().classIndex())
                  + ", "
                  + VideoRun.methodName(r.method())
                  + ", "
                  + r.target().region().describe()
                  + " @ "
                  + layer);
        }
      }
      String p = dir + "/panel." + slug(layer) + ".png";
      st.png(
          p,
          Panels.segGradCam(
              display, seg, run.classNames(), cams, camClasses, titles, regions, HEAT_ALPHA, TILE));
      panels.add(p);
      if (resized) {
        String pf = dir + "/panel." + slug(layer) + ".full.png";
        st.png(
            pf, fullPanel(raw, segFull, run.classNames(), cams, camClasses, titles, regions, h, w));
        panelsFull.add(pf);
      }
      if (guidedResults != null) {
        String gp = dir + "/panel." + slug(layer) + ".guided.png";
        st.png(gp, guidedPanel(display, guidedResults, layer, run.classNames()));
        panels.add(gp);
      }
    }
    double writeMs = (System.nanoTime() - tw) / 1e6;
    double imageMs = (System.nanoTime() - tImage) / 1e6;

    int[] counts = new int[run.classCount()];
    for (int p : first.predicted().classes()) {
      if (p >= 0 && p < counts.length) {
        counts[p]++;
      }
    }
    List<Documents.ClassCount> classes = new ArrayList<>();
    for (int c = 0; c < run.classCount(); c++) {
      classes.add(new Documents.ClassCount(c, run.classNames().get(c), counts[c]));
    }
    List<Documents.Result> docResults = new ArrayList<>();
    for (int i = 0; i < results.size(); i++) {
      CamResult r = results.get(i);
      float rawMax = 0;
      for (float v : r.upsampled().data()) {
        rawMax = Math.max(rawMax, v);
      }
      int c = r.target().classIndex();
      docResults.add(
          new Documents.Result(
              new Documents.Target(c, run.classNames().get(c), r.target().region().describe()),
              r.layer(),
              new int[] {r.rawMap().shape().dim(1), r.rawMap().shape().dim(0)},
              VideoRun.methodName(r.method()),
              Json.finite(r.score()),
              Json.finite(rawMax),
              Documents.weights(r.weights()),
              resultFiles.get(i)[0],
              resultFiles.get(i)[1],
              resultFiles.get(i)[2],
              resultFiles.get(i)[3],
              resultFiles.get(i)[4]));
    }
    Documents.ExplainImage doc =
        new Documents.ExplainImage(
            "0.1.0",
            file.toString(),
            new int[] {origSize[1], origSize[0]},
            new int[] {w, h},
            resized,
            model.toString(),
            run.backendName(),
            run.backendReason(),
            guided ? GUIDED_METHOD : VideoRun.methodName(method),
            score == ScoreMode.LOGITS ? "logits" : "probs",
            classes,
            new Documents.ImageTimings(
                Json.ms(run.importMs()),
                Json.ms(ms[0]),
                Json.ms(ms[1]),
                Json.ms(ms[2]),
                Json.ms(writeMs),
                Json.ms(imageMs)),
            docResults,
            dir + "/segmentation.png",
            panels,
            panelsFull);
    st.text(dir + "/explain.json", Json.pretty(doc));

    if (!json) {
      progress.clear();
      StringBuilder sb = new StringBuilder();
      sb.append(name).append(resized ? " (resized)" : "").append(": predicted");
      boolean classifier = first.predicted().height() * first.predicted().width() == 1;
      for (int c = 0; c < counts.length; c++) {
        if (counts[c] > 0) {
          // a classifier predicts one class for the image, not a pixel count
          sb.append(' ').append(run.classNames().get(c));
          sb.append(classifier ? "," : " " + counts[c] + " px,");
        }
      }
      sb.setLength(sb.length() - 1);
      sb.append(
          String.format(
              Locale.ROOT,
              "; forward %.0f ms, backward %.0f ms, cam %.0f ms, write %.0f ms",
              ms[0],
              ms[1],
              ms[2],
              writeMs));
      stdout.println(sb);
      for (int i = 0; i < results.size(); i++) {
        CamResult r = results.get(i);
        String what =
            targetSlug(r.target(), run.classNames())
                + (run.layers().size() > 1 ? " @ " + r.layer() : "");
        stdout.printf(
            Locale.ROOT,
            "  %-20s score %12.4f  -> %s%n",
            what,
            r.score(),
            out.resolve(resultFiles.get(i)[1]));
      }
      for (String p : panels) {
        stdout.println("  panel -> " + out.resolve(p));
      }
      stdout.flush();
    }
    return doc;
  }

  /** The name of {@code --method guided-gradcam} in explain.json. */
  static final String GUIDED_METHOD = "guided-gradcam";

  /** image | per target: guided backpropagation, Guided Grad-CAM (at one layer). */
  private BufferedImage guidedPanel(
      BufferedImage display,
      List<GuidedGradCam.Result> results,
      String layer,
      List<String> classNames) {
    Panels.Builder b = Panels.builder().tileSize(TILE).tile("image", display);
    for (GuidedGradCam.Result g : results) {
      if (!g.cam().layer().equals(layer)) {
        continue;
      }
      String what =
          classNames.get(g.cam().target().classIndex())
              + ", "
              + g.cam().target().region().describe();
      b.tile("guided: " + what, Images.toImage(GuidedGradCam.display(g.guided())));
      b.tile(
          "guided Grad-CAM: " + what + " @ " + layer,
          Images.toImage(GuidedGradCam.display(g.guidedGradCam())));
    }
    return b.render();
  }

  /** Whether the region option is a region of the target's own (not predicted/whole). */
  static boolean ownRegion(RegionOption region) {
    return region != null
        && (region.component || region.pixel != null || region.box != null || region.mask != null);
  }

  static Target target(RegionOption region, int c) {
    if (region == null || region.predicted) {
      return Target.predicted(c);
    }
    if (region.component) {
      return Target.largestComponent(c);
    }
    if (region.pixel != null) {
      return Target.pixel(c, region.pixel.v()[0], region.pixel.v()[1]);
    }
    if (region.box != null) {
      int[] b = region.box.v();
      if (b[2] <= b[0] || b[3] <= b[1]) {
        throw new CamException.PixelOutOfRangeException(
            "box "
                + b[0]
                + ","
                + b[1]
                + ","
                + b[2]
                + ","
                + b[3]
                + " is empty: it needs X0 < X1 and Y0 < Y1 (X1, Y1 exclusive)");
      }
      return Target.box(c, b[0], b[1], b[2], b[3]);
    }
    if (region.mask != null) {
      return Target.maskPng(c, region.mask);
    }
    return Target.image(c);
  }

  // labels (oh*ow) -> labels (h*w), nearest sample at each pixel centre
  /** The target's region M on the image grid (1 inside), for drawing; null for the whole image. */
  private static int[] regionOnImage(CamResult r, int h, int w) {
    Target.Region region = r.target().region();
    if (region instanceof Target.WholeImage) {
      return null;
    }
    int oh = r.predicted().height();
    int ow = r.predicted().width();
    float[] m = region.weights(oh, ow, h, w, r.predicted(), r.target().classIndex());
    int[] in = new int[m.length];
    for (int i = 0; i < m.length; i++) {
      in[i] = m[i] != 0 ? 1 : 0;
    }
    return toImageGrid(in, oh, ow, h, w);
  }

  /**
   * The Seg-Grad-CAM panel at the original image's own size: each map (h x w, the model's input)
   * upsampled bilinearly over the original pixels, each region outline scaled (nearest) from the
   * model grid; tiles at the image's size where the panel fits {@link Images#MAX_SIDE}.
   */
  private static BufferedImage fullPanel(
      BufferedImage raw,
      int[] segFull,
      List<String> classNames,
      List<float[]> cams,
      List<Integer> camClasses,
      List<String> titles,
      List<int[]> regions,
      int h,
      int w) {
    int fh = raw.getHeight();
    int fw = raw.getWidth();
    List<float[]> camsFull = new ArrayList<>();
    List<int[]> regionsFull = new ArrayList<>();
    for (int i = 0; i < cams.size(); i++) {
      camsFull.add(Overlays.resizeMap(cams.get(i), h, w, fh, fw));
      int[] region = regions.get(i);
      regionsFull.add(region == null ? null : toImageGrid(region, h, w, fh, fw));
    }
    int[] grid = Panels.fitGrid(cams.size() + Panels.SEG_GRAD_CAM_EXTRA_TILES, Math.max(fh, fw));
    return Panels.segGradCam(
        raw,
        segFull,
        classNames,
        camsFull,
        camClasses,
        titles,
        regionsFull,
        HEAT_ALPHA,
        grid[0],
        grid[1]);
  }

  private static int[] toImageGrid(int[] labels, int oh, int ow, int h, int w) {
    if (oh == h && ow == w) {
      return labels;
    }
    int[] outp = new int[h * w];
    for (int y = 0; y < h; y++) {
      int sy = Math.min(oh - 1, (int) ((y + 0.5) * oh / h));
      for (int x = 0; x < w; x++) {
        int sx = Math.min(ow - 1, (int) ((x + 0.5) * ow / w));
        outp[y * w + x] = labels[sy * ow + sx];
      }
    }
    return outp;
  }

  // (1,H,W,3) -> (1,H,W,1), the mean of the channels
  private static FloatTensor grey(FloatTensor rgb) {
    int[] d = rgb.shape().dims();
    float[] v = rgb.data();
    float[] g = new float[d[1] * d[2]];
    for (int i = 0; i < g.length; i++) {
      g[i] = (v[3 * i] + v[3 * i + 1] + v[3 * i + 2]) / 3f;
    }
    return new FloatTensor(Shape.of(1, d[1], d[2], 1), g);
  }

  private void note(String s) {
    if (progress != null) {
      progress.clear();
    }
    err.println("segcam: note: " + s);
    err.flush();
  }

  /** The image's file name without its extension: the name of its output folder. */
  static String stem(Path p) {
    String n = p.getFileName().toString();
    int dot = n.lastIndexOf('.');
    return slug(dot > 0 ? n.substring(0, dot) : n);
  }

  /** A name made safe for a file name: anything but letters, digits, '-', '_' becomes '_'. */
  static String slug(String s) {
    String t = s.replaceAll("[^A-Za-z0-9_-]", "_");
    return t.isEmpty() ? "_" : t;
  }

  /** "3-shadow" for the predicted region, else with the region: "3-shadow.box-0-0-8-8". */
  static String targetSlug(Target t, List<String> names) {
    String base = t.classIndex() + "-" + slug(names.get(t.classIndex()));
    Target.Region r = t.region();
    String suffix = "";
    if (r instanceof Target.Predicted p) {
      suffix = p.largestComponent() ? ".component" : "";
    } else if (r instanceof Target.Pixel p) {
      suffix = ".pixel-" + p.x() + "-" + p.y();
    } else if (r instanceof Target.Box b) {
      suffix = ".box-" + b.x0() + "-" + b.y0() + "-" + b.x1() + "-" + b.y1();
    } else if (r instanceof Target.Mask) {
      suffix = ".mask";
    } else if (r instanceof Target.WholeImage) {
      suffix = ".whole";
    }
    return base + suffix;
  }

  /** Comma-separated integers (a record, so that picocli takes the option as one value). */
  record Ints(int[] v) {}

  /** Comma-separated integers of a fixed count. */
  abstract static class IntsConverter implements ITypeConverter<Ints> {
    private final int count;
    private final String form;

    IntsConverter(int count, String form) {
      this.count = count;
      this.form = form;
    }

    @Override
    public Ints convert(String s) {
      String[] parts = s.split(",", -1);
      if (parts.length != count) {
        throw new TypeConversionException("'" + s + "' is not " + form);
      }
      int[] v = new int[count];
      for (int i = 0; i < count; i++) {
        try {
          v[i] = Integer.parseInt(parts[i].trim());
        } catch (NumberFormatException e) {
          throw new TypeConversionException("'" + s + "' is not " + form + " (integers)");
        }
      }
      return new Ints(v);
    }

    static final class Pair extends IntsConverter {
      Pair() {
        super(2, "X,Y");
      }
    }

    static final class Quad extends IntsConverter {
      Quad() {
        super(4, "X0,Y0,X1,Y1");
      }
    }
  }
}
