package dev.segcam.cli;

import dev.segcam.SegcamException;
import dev.segcam.cam.CamException;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.Labels;
import dev.segcam.cam.LayerChoice;
import dev.segcam.cam.Target;
import dev.segcam.image.ImageSizes;
import dev.segcam.io.Json;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.ir.TokenGrids;
import dev.segcam.savedmodel.ImportedModel;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.video.VideoRun;
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
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

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

  @Mixin ScoreOptions.Output scoreOutput = new ScoreOptions.Output();

  @Mixin ScoreOptions.Mode score = new ScoreOptions.Mode();

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
  Progress progress;

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
      ex.output(imported, scoreOutput.node, this::note);
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
              docs.add(ImageExplanation.explain(this, run, ex, timed, st, images.get(i), stdout));
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
  record Run(
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
    Target kind = RegionOption.ownRegion(region) ? Target.pixel(0, 0, 0) : Target.predicted(0);
    String defaultReason = null;
    if (defaultLayer) {
      LayerChoice.Choice choice = ex.defaultLayer(List.of(kind.withScore(score.mode)));
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
          if (gradientOnly && RegionOption.ownRegion(region) && ex.linearToScores(l)) {
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

  void note(String s) {
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
}
