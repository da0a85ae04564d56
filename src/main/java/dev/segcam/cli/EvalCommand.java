package dev.segcam.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.segcam.SegcamException;
import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.Labels;
import dev.segcam.cam.LayerChoice;
import dev.segcam.cam.Target;
import dev.segcam.eval.CurvePlot;
import dev.segcam.eval.Faithfulness;
import dev.segcam.eval.Localization;
import dev.segcam.image.Images;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.ImportedModel;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.video.VideoRun;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code segcam eval MODEL_DIR IMAGE... --out DIR}: how faithful and how well placed the
 * Seg-Grad-CAM maps are (dev.segcam.eval): deletion and insertion curves with their AUCs, pointing
 * game and energy in the true mask (with {@code --truth}), and the region sensitivity against the
 * whole-image map of the same class. Writes eval.json and one curve plot per map.
 */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = "Faithfulness and localisation metrics of Seg-Grad-CAM maps.",
    footerHeading = "%nOutputs in DIR:%n",
    footer = {
      "  eval.json                          every metric and curve, and their means",
      "  <image>/C-NAME.LAYER.curves.png    deletion and insertion curves of one map",
      "Nothing is written unless the whole run succeeds.",
      "Exit codes: 0 ok, 1 error (one line on stderr), 2 bad command line."
    })
public final class EvalCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin SharedOptions shared = new SharedOptions();

  @Parameters(index = "0", paramLabel = "MODEL_DIR", description = "SavedModel directory.")
  Path model;

  @Parameters(index = "1..*", arity = "1..*", paramLabel = "IMAGE", description = "Images.")
  List<Path> images;

  @Option(
      names = {"-c", "--class"},
      paramLabel = "C",
      description = "Class (index or name; repeatable). Default: every class predicted.")
  List<String> classes = new ArrayList<>();

  @ArgGroup(exclusive = true, multiplicity = "0..1", heading = "Region M (pick one):%n")
  RegionOption region;

  @Option(
      names = {"-l", "--layer"},
      paramLabel = "NAME",
      description = "Feature layer (repeatable). Default: as segcam explain chooses it.")
  List<String> layers = new ArrayList<>();

  @Option(
      names = {"-m", "--method"},
      paramLabel = "METHOD",
      defaultValue = "gradcam",
      converter = Vocabulary.MethodConverter.class,
      description = "gradcam, gradcam++, hirescam, xgradcam or layercam. Default: gradcam.")
  CamMethod method = CamMethod.GRAD_CAM;

  @Option(
      names = "--truth",
      paramLabel = "FILE",
      description =
          "Ground-truth label image per IMAGE, in order (grey value = class index, at the model"
              + " output's size): adds pointing game and energy in mask.")
  List<Path> truths = new ArrayList<>();

  @Option(
      names = "--steps",
      paramLabel = "N",
      defaultValue = "16",
      description = "Deletion/insertion steps (N+1 points per curve). Default: ${DEFAULT-VALUE}.")
  int steps = Faithfulness.DEFAULT_STEPS;

  @Option(
      names = "--baseline",
      paramLabel = "blur|black",
      defaultValue = "blur",
      description = "What removed pixels become: a Gaussian blur of the image, or black.")
  String baseline = "blur";

  @Option(
      names = "--blur-sigma",
      paramLabel = "PX",
      defaultValue = "4",
      description = "Blur standard deviation in pixels. Default: ${DEFAULT-VALUE}.")
  double sigma = Faithfulness.DEFAULT_BLUR_SIGMA;

  @Option(
      names = "--pointing-tolerance",
      paramLabel = "PX",
      defaultValue = "0",
      description = "Pointing game hit radius in pixels. Default: ${DEFAULT-VALUE}.")
  int tolerance;

  @Option(
      names = {"-o", "--out"},
      paramLabel = "DIR",
      required = true,
      description = "Output directory.")
  Path out;

  @Option(names = "--json", description = "Print eval.json on stdout instead of the text table.")
  boolean json;

  private PrintWriter err;
  private Progress progress;

  @Override
  public Integer call() throws JsonProcessingException {
    PrintWriter stdout = spec.commandLine().getOut();
    err = spec.commandLine().getErr();
    check();
    Faithfulness.Options opt =
        new Faithfulness.Options(
            steps,
            baseline.equals("blur") ? new Faithfulness.Blur(sigma) : new Faithfulness.Constant(0f),
            Faithfulness.DEFAULT_BATCH);
    ImportedModel imported = SavedModelImporter.load(model);
    Graph graph = imported.graph();
    Path lf = model.resolve(Explainer.LABELS_FILE);
    Labels labels = Files.isRegularFile(lf) ? Labels.load(lf) : null;
    Backends.Opened opened = Backends.open(shared.backend, graph, this::note);
    ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    ObjectNode root = om.createObjectNode();
    Map<String, List<Double>> sums = new LinkedHashMap<>();
    try (Explainer ex = new Explainer(opened.backend())) {
      ex.labels(labels);
      String input = graph.inputs().get(0);
      Shape in = graph.node(input).shape();
      if (graph.node(input).op() instanceof Op.Input i) {
        in = i.shape();
      }
      if (in.rank() != 4) {
        throw new SegcamException("model input '" + input + "' is " + in + ", not (N,H,W,C)");
      }
      Shape ls = graph.node(ex.logitsNode()).shape();
      int ch = ls.dim(ls.rank() - 1);
      int classCount = ch == 1 ? 2 : ch;
      List<Integer> cls = new ArrayList<>();
      for (String c : classes) {
        cls.add(resolve(c, labels, classCount));
      }
      LayerChoice.Choice choice =
          ex.defaultLayer(
              List.of(RegionOption.ownRegion(region) ? Target.pixel(0, 0, 0) : Target.image(0)));
      List<String> lays =
          layers.isEmpty()
              ? List.of(choice.layer())
              : layers.stream().map(imported::layer).distinct().toList();
      root.put("model", model.toString());
      root.put("method", VideoRun.methodName(method));
      root.putPOJO("layers", lays);
      root.put("steps", steps);
      root.put("baseline", baseline.equals("blur") ? "blur sigma " + sigma + " px" : "black");
      root.put("score", "mean class probability over the region");
      root.put("backend", opened.name());
      if (!json) {
        stdout.println(
            "layer"
                + (lays.size() > 1 ? "s" : "")
                + ": "
                + String.join(", ", lays)
                + (layers.isEmpty() ? " (default: " + choice.reason() + ")" : ""));
      }
      ArrayNode imgs = root.putArray("images");
      progress = new Progress(err, images.size(), Progress.stderrIsTty());
      try (Staging st = new Staging(out)) {
        try {
          for (int i = 0; i < images.size(); i++) {
            imgs.add(one(ex, in, cls, lays, opt, i, st, om, sums, classCount, labels));
            progress.step(i + 1, images.get(i).getFileName().toString());
          }
        } catch (RuntimeException e) {
          progress.abort();
          throw e;
        }
        ObjectNode mean = root.putObject("mean");
        for (Map.Entry<String, List<Double>> e : sums.entrySet()) {
          double m = e.getValue().stream().mapToDouble(Double::doubleValue).average().orElse(0);
          mean.put(e.getKey(), m);
        }
        String doc = om.writeValueAsString(root);
        st.text("eval.json", doc + "\n");
        st.commit();
        if (json) {
          stdout.println(doc);
        } else {
          table(stdout, root);
        }
        stdout.flush();
      }
    }
    return 0;
  }

  private ObjectNode one(
      Explainer ex,
      Shape in,
      List<Integer> wanted,
      List<String> lays,
      Faithfulness.Options opt,
      int index,
      Staging st,
      ObjectMapper om,
      Map<String, List<Double>> sums,
      int classCount,
      Labels labels) {
    Path file = images.get(index);
    int h = in.dim(1) > 0 ? in.dim(1) : Images.read(file).getHeight();
    int w = in.dim(2) > 0 ? in.dim(2) : Images.read(file).getWidth();
    FloatTensor img = Images.readTensor(file, h, w);
    if (in.dim(3) == 1) {
      float[] v = img.data();
      float[] g = new float[h * w];
      for (int p = 0; p < g.length; p++) {
        g[p] = (v[3 * p] + v[3 * p + 1] + v[3 * p + 2]) / 3f;
      }
      img = new FloatTensor(Shape.of(1, h, w, 1), g);
    }
    List<Integer> cls = wanted.isEmpty() ? predictedClasses(ex, img) : wanted;
    List<Target> targets = new ArrayList<>();
    for (int c : cls) {
      targets.add(RegionOption.target(region, c));
    }
    boolean whole = region != null && region.whole;
    if (!whole) {
      for (int c : cls) {
        targets.add(Target.image(c)); // the reference for region sensitivity
      }
    }
    List<CamResult> all;
    try {
      all = ex.explain(img, targets, lays, method);
    } catch (SegcamException e) {
      throw new SegcamException(file + ": " + e.getMessage(), e);
    }
    int per = cls.size() * lays.size();
    List<CamResult> rs = all.subList(0, per);
    List<Faithfulness.Curves> cs = Faithfulness.curves(ex, img, rs, opt, null);
    int[] truth = truths.isEmpty() ? null : truth(truths.get(index), rs.get(0));
    ObjectNode o = om.createObjectNode();
    o.put("image", file.toString());
    ArrayNode arr = o.putArray("results");
    String stem = ExplainCommand.stem(file);
    List<String> names = new ArrayList<>();
    for (int c = 0; c < classCount; c++) {
      names.add(labels == null ? "class " + c : labels.name(c));
    }
    for (int j = 0; j < rs.size(); j++) {
      CamResult r = rs.get(j);
      Faithfulness.Curves c = cs.get(j);
      int k = r.target().classIndex();
      ObjectNode x = arr.addObject();
      x.put("class", k);
      x.put("class_name", names.get(k));
      x.put("region", r.target().region().describe());
      x.put("layer", r.layer());
      x.put("score", r.score());
      x.put("deletion_auc", c.deletion().auc());
      x.put("insertion_auc", c.insertion().auc());
      x.putPOJO("deletion_curve", c.deletion().scores());
      x.putPOJO("insertion_curve", c.insertion().scores());
      add(sums, "deletion_auc", c.deletion().auc());
      add(sums, "insertion_auc", c.insertion().auc());
      if (truth != null) {
        boolean[] m = new boolean[truth.length];
        for (int p = 0; p < m.length; p++) {
          m[p] = truth[p] == k;
        }
        boolean hit = Localization.pointingGame(r.heatmap(), m, tolerance);
        double e = Localization.energyInMask(r.heatmap(), m);
        x.put("pointing", hit);
        x.put("energy_in_mask", e);
        add(sums, "pointing", hit ? 1 : 0);
        add(sums, "energy_in_mask", e);
      }
      if (!whole) {
        CamResult ref = all.get(per + j);
        double s = Localization.regionSensitivity(r.upsampled(), ref.upsampled());
        x.put("region_sensitivity_vs_whole", s);
        add(sums, "region_sensitivity_vs_whole", s);
      }
      String plot =
          stem
              + "/"
              + ExplainCommand.targetSlug(r.target(), names)
              + "."
              + ExplainCommand.slug(r.layer())
              + ".curves.png";
      st.png(
          plot,
          CurvePlot.plot(
              file.getFileName() + ": " + names.get(k) + ", " + r.layer() + ", " + stem, c));
      x.put("plot", plot);
    }
    return o;
  }

  private static void add(Map<String, List<Double>> sums, String k, double v) {
    if (!Double.isNaN(v)) {
      sums.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
    }
  }

  private static List<Integer> predictedClasses(Explainer ex, FloatTensor img) {
    CamBackend b = ex.backend();
    try (CamTensor t = b.upload(img);
        CamBackend.Forward f = b.forward(b.graph().inputs().get(0), t, Set.of(ex.logitsNode()))) {
      FloatTensor v = f.value(ex.logitsNode()).toHost();
      int ch = v.shape().dim(v.shape().rank() - 1);
      TreeSet<Integer> seen = new TreeSet<>();
      float[] d = v.data();
      for (int p = 0; p < d.length / ch; p++) {
        int best = 0;
        for (int c = 1; c < ch; c++) {
          best = d[p * ch + c] > d[p * ch + best] ? c : best;
        }
        seen.add(ch == 1 ? (d[p] > 0 ? 1 : 0) : best);
      }
      return List.copyOf(seen);
    }
  }

  private static int[] truth(Path file, CamResult r) {
    BufferedImage t = Images.read(file);
    int h = r.heatmap().shape().dim(0);
    int w = r.heatmap().shape().dim(1);
    if (t.getHeight() != h || t.getWidth() != w) {
      throw new SegcamException(
          "ground truth "
              + file
              + " is "
              + t.getWidth()
              + "x"
              + t.getHeight()
              + " but the maps are "
              + w
              + "x"
              + h);
    }
    int[] v = new int[h * w];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        v[y * w + x] = t.getRaster().getSample(x, y, 0);
      }
    }
    return v;
  }

  private static int resolve(String c, Labels labels, int classCount) {
    String s = c.trim();
    int idx = s.matches("\\d{1,9}") ? Integer.parseInt(s) : labels == null ? -1 : labels.index(s);
    if (idx < 0 || idx >= classCount) {
      throw new SegcamException(
          "class '" + c + "' is not an index 0.." + (classCount - 1) + " or a known class name");
    }
    return idx;
  }

  private void check() {
    if (!Files.isDirectory(model)) {
      throw new SegcamException("no such model directory: " + model);
    }
    for (Path p : images) {
      if (!Files.isRegularFile(p)) {
        throw new SegcamException("no such image: " + p);
      }
    }
    if (!truths.isEmpty() && truths.size() != images.size()) {
      throw new SegcamException(
          "--truth given "
              + truths.size()
              + " times for "
              + images.size()
              + " images; give one ground-truth file per image, in the same order");
    }
    for (Path p : truths) {
      if (!Files.isRegularFile(p)) {
        throw new SegcamException("no such ground-truth file: " + p);
      }
    }
    if (!baseline.equals("blur") && !baseline.equals("black")) {
      throw new SegcamException("--baseline must be blur or black, got '" + baseline + "'");
    }
  }

  private static void table(PrintWriter out, ObjectNode root) {
    out.printf(Locale.ROOT, "%-28s %-14s %-16s %8s %8s%n", "image", "class", "layer", "del", "ins");
    root.get("images")
        .forEach(
            im ->
                im.get("results")
                    .forEach(
                        r ->
                            out.printf(
                                Locale.ROOT,
                                "%-28s %-14s %-16s %8.3f %8.3f%n",
                                Path.of(im.get("image").asText()).getFileName(),
                                r.get("class_name").asText(),
                                r.get("layer").asText(),
                                r.get("deletion_auc").asDouble(),
                                r.get("insertion_auc").asDouble())));
    StringBuilder s = new StringBuilder("mean:");
    root.get("mean")
        .fields()
        .forEachRemaining(
            e ->
                s.append(
                    String.format(Locale.ROOT, " %s %.3f", e.getKey(), e.getValue().asDouble())));
    out.println(s);
  }

  private void note(String s) {
    if (progress != null) {
      progress.clear();
    }
    err.println("segcam: note: " + s);
    err.flush();
  }
}
