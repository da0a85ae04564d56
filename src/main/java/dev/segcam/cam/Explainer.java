package dev.segcam.cam;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamStepException;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.KernelCamBackend;
import dev.segcam.backend.Normalization;
import dev.segcam.backend.SeedMode;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.ImportedModel;
import dev.segcam.savedmodel.SavedModelImporter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The one Seg-Grad-CAM pipeline: forward once, seed the targets' scores, backward once for all
 * targets and layers, then let the {@link CamMethod} form each map, upsample and normalise it.
 *
 * <pre>{@code
 * try (Explainer ex = new Explainer(backend)) {
 *   List<CamResult> r = ex.explain(images, List.of(Target.predicted(3)), List.of(ex.defaultLayer()),
 *       CamMethod.GRAD_CAM);
 * }
 * }</pre>
 *
 * <p>K targets on the same images share one forward; their backward runs as one batch of N*K rows;
 * every requested layer comes from that one backward. The model's graph input takes the images
 * (models with several inputs are refused); its first output is explained unless {@link
 * #output(String)} picks another.
 *
 * <p>Not thread-safe: one explainer per thread (a video pipeline runs its explain stage on one);
 * {@link ExplainerPool} lends explainers to many threads.
 */
public final class Explainer implements AutoCloseable {
  private final CamBackend backend;
  private final Graph graph;
  private final String input;
  private String output;
  private String logits;
  private boolean outputIsProbabilities;
  private Labels labels;
  private Normalization normalization = Normalization.perMap();
  private boolean emptyAsZero;

  /** An explainer over a backend; closing the explainer closes the backend. */
  public Explainer(CamBackend backend) {
    this.backend = backend;
    this.graph = backend.graph();
    if (graph.inputs().isEmpty()) {
      throw new CamException("the graph has no input to feed images to");
    }
    this.input = graph.inputs().get(0);
    output(graph.outputs().keySet().iterator().next());
  }

  /**
   * Which model output to explain: a signature output key or a node name (default: the first
   * output). When it is a Softmax or Sigmoid node, LOGITS scores are taken on its input.
   */
  public Explainer output(String keyOrNode) {
    String node = graph.outputs().getOrDefault(keyOrNode, keyOrNode);
    Node out = graph.node(node);
    boolean activated = out.inputs().size() == 1 && out.op().probabilityHead();
    this.output = node;
    this.outputIsProbabilities = activated;
    this.logits = activated ? out.inputs().get(0) : node;
    return this;
  }

  /**
   * Picks the scored output of an imported model: {@code requested} (an output key, a layer as
   * {@code segcam layers} prints it, or a TensorFlow node name) when not null; otherwise the first
   * output, and each of the import's notes (an output without gradient scored on its nearest
   * differentiable ancestor) goes to {@code note} as one line.
   */
  public Explainer output(ImportedModel model, String requested, Consumer<String> note) {
    if (requested != null) {
      return output(model.node(requested));
    }
    model.notes().forEach(note);
    return this;
  }

  /** An explainer on the pure-Java CPU engine. */
  public static Explainer cpu(Graph graph) {
    return new Explainer(CpuCamBackend.create(graph));
  }

  /** {@link #open(Path, Function)} on the CPU engine. */
  public static Explainer open(Path modelDir) {
    return open(modelDir, CpuCamBackend::create);
  }

  /**
   * Imports a SavedModel directory (its serving_default signature, or the only one) and explains it
   * on the backend that {@code backend} builds for the imported graph. A {@code labels.txt} next to
   * the model (one class name per line) is loaded as the class names.
   */
  public static Explainer open(Path modelDir, Function<Graph, CamBackend> backend) {
    Explainer ex = new Explainer(backend.apply(SavedModelImporter.load(modelDir).graph()));
    Path labels = modelDir.resolve(LABELS_FILE);
    if (Files.isRegularFile(labels)) {
      ex.labels(Labels.load(labels));
    }
    return ex;
  }

  /** The class names file {@link #open} picks up from the model directory when it is there. */
  public static final String LABELS_FILE = "labels.txt";

  /** The class names in use (from {@link #labels(Labels)} or the model's labels.txt), or null. */
  public Labels labels() {
    return labels;
  }

  /** The node whose output is explained. */
  public String outputNode() {
    return output;
  }

  /** Class names used in messages (and by callers to resolve names). */
  public Explainer labels(Labels labels) {
    this.labels = labels;
    return this;
  }

  /** How heatmaps are scaled to [0,1]; per map by default, fixed for video. */
  public Explainer normalization(Normalization normalization) {
    if (normalization == null) {
      throw new CamException("normalization must not be null");
    }
    this.normalization = normalization;
    return this;
  }

  /**
   * What a target whose region selects no pixel of an image gives: by default the call fails with
   * {@link CamException.EmptyMaskException}; with {@code true} that (image, target) gets all-zero
   * maps and a NaN score instead, and the other rows of the call are unaffected. Video sets it
   * because classes come and go between frames and it wants one forward per batch.
   *
   * <p>With this on, "region empty" is exactly "score NaN and maps all zero" (a model that outputs
   * NaN gives NaN maps as well).
   */
  public Explainer emptyTargetsAsZero(boolean on) {
    this.emptyAsZero = on;
    return this;
  }

  public CamBackend backend() {
    return backend;
  }

  /**
   * The node whose values the LOGITS score is taken on (the output, or the input of its
   * activation).
   */
  public String logitsNode() {
    return logits;
  }

  /**
   * A sensible feature layer when the caller names none, as pytorch-grad-cam users pick the last
   * conv of the encoder/decoder. The rule: walk back from the output through the head — a final
   * Softmax/Sigmoid, resizes, bias/BN, the classifier (the first Conv/MatMul met) and the pooling
   * or reshapes right before it — then take the last node, in graph order, among that point and its
   * ancestors that is a Conv2D/DepthwiseConv2D/Conv2DTranspose/Activation/BatchNorm/BiasAdd output
   * of rank 4 whose spatial size is not known to be 1x1. For a segmentation net this is the
   * activation that feeds the 1x1 classifier conv; for a classifier the last conv block before
   * global pooling.
   */
  public String defaultLayer() {
    return LayerChoice.lastFeature(graph, output);
  }

  private String suggestion() {
    try {
      return ", e.g. '" + defaultLayer() + "'";
    } catch (CamException e) {
      return "";
    }
  }

  /**
   * The default layer for these targets and why ({@link LayerChoice}): for targets with a region of
   * their own, a layer whose path to the scores is nonlinear, so that the region matters.
   */
  public LayerChoice.Choice defaultLayer(List<Target> targets) {
    ScoreMode mode = ScoreMode.LOGITS;
    for (Target t : targets) {
      if (t != null) {
        mode = t.scoreMode();
        break;
      }
    }
    Shape s = graph.node(logits).shape();
    int ch = s.rank() == 0 ? 0 : s.dim(s.rank() - 1);
    return LayerChoice.choose(graph, targets, defaultLayer(), seedNode(mode), ch == 1 ? 2 : ch);
  }

  /**
   * Whether the layer reaches the scores only through affine ops, so that every region gives the
   * same map up to scale ({@link LayerChoice#linearPath}).
   */
  public boolean linearToScores(String layer) {
    return LayerChoice.linearPath(graph, layer, logits);
  }

  /** {@link #explain(FloatTensor, List, List, CamMethod)} on {@link #defaultLayer(List)}. */
  public List<CamResult> explain(FloatTensor images, List<Target> targets, CamMethod method) {
    String layer = targets == null ? defaultLayer() : defaultLayer(targets).layer();
    return explain(images, targets, List.of(layer), method);
  }

  /**
   * Heatmaps for every (image, target, layer), in that order (image-major, then target, then
   * layer).
   *
   * @param images (N,H,W,C) float images as the model expects them (already preprocessed)
   */
  public List<CamResult> explain(
      FloatTensor images, List<Target> targets, List<String> layers, CamMethod method) {
    if (method == null) {
      throw new CamException("explain needs images, targets, layers and a method (one was null)");
    }
    return seeded(images, targets, layers, explainStep(method));
  }

  /**
   * One forward over the images, kept open so that {@link #explain(Prediction, List, List,
   * CamMethod)} explains on it without a second forward: the caller reads the predicted label maps
   * first (to pick classes, check regions), then explains. The values of {@code layers} stay
   * readable; close the prediction when done.
   */
  public Prediction predict(FloatTensor images, List<String> layers) {
    if (images == null || layers == null) {
      throw new CamException("predict needs images and layers (one was null)");
    }
    if (images.shape().rank() != 4 || images.shape().dim(0) < 1) {
      throw new CamException("images must be (N,H,W,C) with N >= 1, got " + images.shape());
    }
    Set<String> keep = new LinkedHashSet<>(layers);
    for (String l : keep) {
      graph.node(l); // UnknownNodeException with close names
    }
    keep.add(input);
    keep.add(output);
    keep.add(logits);
    CamTensor img = backend.upload(images);
    CamBackend.Forward fwd;
    try {
      fwd = backend.forward(input, img, keep);
    } catch (RuntimeException | Error e) {
      img.close();
      throw e;
    }
    try {
      CamTensor lv = fwd.value(logits);
      int[] d = nhwc(lv.shape(), "model output '" + logits + "'");
      return new Prediction(this, images, img, fwd, keep, List.of(labels(lv, d)));
    } catch (RuntimeException | Error e) {
      fwd.close();
      img.close();
      throw e;
    }
  }

  /** {@link #explain(FloatTensor, List, List, CamMethod)} on a {@link #predict}'s forward. */
  public List<CamResult> explain(
      Prediction prediction, List<Target> targets, List<String> layers, CamMethod method) {
    if (prediction == null || method == null) {
      throw new CamException("explain needs a prediction and a method (one was null)");
    }
    return seeded(null, prediction, targets, layers, explainStep(method));
  }

  /** The step of a plain explain: one backward to the layers, then the maps. */
  private SeededStep<List<CamResult>> explainStep(CamMethod method) {
    return s -> {
      Map<String, CamTensor> grads = s.fwd().backward(s.seeds(), s.layers());
      try {
        return results(s, grads, method);
      } finally {
        grads.values().forEach(CamTensor::close);
      }
    };
  }

  /**
   * The CAM maps of a seeded pass from its layer gradients, empty rows zeroed ({@link
   * #emptyTargetsAsZero}).
   */
  List<CamResult> results(Seeded s, Map<String, CamTensor> grads, CamMethod method) {
    List<CamResult> r = CamMaps.assemble(backend, normalization, s, grads, method);
    return emptyAsZero ? CamMaps.zeroEmpty(r, s.empty(), s.n()) : r;
  }

  /**
   * One forward with the targets' score seeds in place, handed to a step that runs the backward(s)
   * it needs ({@link #explain}, {@link GuidedGradCam}); the forward and seeds are closed after it.
   *
   * @param seeds seeded node -> seed (N*K rows, target-major)
   * @param scores (N*K) the targets' scores, empty[r] where row r's region is empty (and allowed)
   */
  record Seeded(
      CamBackend.Forward fwd,
      Map<String, CamTensor> seeds,
      List<Target> targets,
      List<String> layers,
      String input,
      float[] scores,
      LabelMap[] predicted,
      boolean[] empty,
      int n,
      int k,
      int inH,
      int inW) {}

  /** What runs on a {@link Seeded} pass. */
  interface SeededStep<R> {
    R run(Seeded s);
  }

  /** Validates the call, runs one forward, seeds every target, and runs {@code step} on it. */
  <R> R seeded(FloatTensor images, List<Target> targets, List<String> layers, SeededStep<R> step) {
    return seeded(images, null, targets, layers, step);
  }

  /** {@link #seeded(FloatTensor, List, List, SeededStep)} on a prediction's forward, if given. */
  <R> R seeded(
      FloatTensor images,
      Prediction prediction,
      List<Target> targets,
      List<String> layers,
      SeededStep<R> step) {
    return seeded(images, prediction, targets, layers, false, step);
  }

  /**
   * {@link #seeded(FloatTensor, Prediction, List, List, SeededStep)}; {@code toInput}: the step
   * also runs a backward down to the graph input (guided backpropagation), so the forward keeps
   * what that reads. Without it the forward keeps only what a backward from the outputs to the
   * layers reads (the CPU backend drops the rest: a backward to the input reads every ReLU's input,
   * half of all activations).
   */
  <R> R seeded(
      FloatTensor images,
      Prediction prediction,
      List<Target> targets,
      List<String> layers,
      boolean toInput,
      SeededStep<R> step) {
    if (prediction != null) {
      images = prediction.checkUsable(this, layers);
    }
    if (images == null || targets == null || layers == null) {
      throw new CamException("explain needs images, targets, layers and a method (one was null)");
    }
    // not List.contains(null): immutable lists throw a NullPointerException for it
    for (Object o : targets) {
      if (o == null) {
        throw new CamException("a target in the list is null");
      }
    }
    for (Object o : layers) {
      if (o == null) {
        throw new CamException("a layer name in the list is null");
      }
    }
    if (graph.inputs().size() != 1) {
      throw new CamException(
          "the model has "
              + graph.inputs().size()
              + " inputs "
              + graph.inputs()
              + "; only models with one image input can be explained");
    }
    if (images.shape().rank() != 4 || images.shape().dim(0) < 1) {
      throw new CamException("images must be (N,H,W,C) with N >= 1, got " + images.shape());
    }
    if (targets.isEmpty()) {
      throw new CamException("no targets given");
    }
    if (layers.isEmpty()) {
      throw new CamException("no layers given");
    }
    List<String> lays = List.copyOf(new LinkedHashSet<>(layers));
    for (String l : lays) {
      graph.node(l); // UnknownNodeException with close names
    }
    Map<String, Set<String>> depends = new LinkedHashMap<>();
    for (Target t : targets) {
      String node = seedNode(t.scoreMode());
      Set<String> anc = depends.computeIfAbsent(node, k -> LayerChoice.ancestors(graph, k));
      for (String l : lays) {
        if (!anc.contains(l)) {
          throw new CamException.LayerNotOnScorePathException(
              "the score of "
                  + t.describe(labels)
                  + " (taken on node '"
                  + node
                  + "') does not depend on layer '"
                  + l
                  + "'; pick a layer between the input and '"
                  + node
                  + "'"
                  + suggestion());
        }
      }
    }

    int n = images.shape().dim(0);
    int inH = images.shape().dim(1);
    int inW = images.shape().dim(2);
    int k = targets.size();
    int rows = n * k;
    Set<String> keep = new LinkedHashSet<>(lays);
    if (toInput) {
      keep.add(input);
    }
    keep.add(output);
    keep.add(logits);
    // a prediction's forward is reused and stays open (closing the view leaves it be)
    try (CamTensor img = prediction == null ? backend.upload(images) : null;
        CamBackend.Forward fwd =
            prediction == null ? backend.forward(input, img, keep) : prediction.view()) {
      CamTensor logitsValue = fwd.value(logits);
      int[] d = nhwc(logitsValue.shape(), "model output '" + logits + "'");
      int oh = d[1];
      int ow = d[2];
      int ch = d[3];
      int classes = ch == 1 ? 2 : ch;
      LabelMap[] predicted = prediction != null ? prediction.labelArray() : labels(logitsValue, d);

      float[] masks = new float[rows * oh * ow];
      int[] cls = new int[rows];
      boolean[] empty = new boolean[rows];
      for (int t = 0; t < k; t++) {
        Target tg = targets.get(t);
        if (tg.classIndex() >= classes) {
          throw new CamException.ClassOutOfRangeException(
              tg.describe(labels)
                  + ": class "
                  + tg.classIndex()
                  + " is out of range, the model has "
                  + classes
                  + " classes (0.."
                  + (classes - 1)
                  + (ch == 1 ? ", single sigmoid channel: 0 = background, 1 = foreground" : "")
                  + ")");
        }
        for (int i = 0; i < n; i++) {
          int r = t * n + i;
          float[] m = tg.region().weights(oh, ow, inH, inW, predicted[i], tg.classIndex());
          boolean any = false;
          for (float v : m) {
            any |= v != 0f;
          }
          if (!any && emptyAsZero) {
            empty[r] = true; // zero mask row: no score, no gradient; zero maps set below
            cls[r] = tg.classIndex();
            continue;
          }
          if (!any) {
            throw new CamException.EmptyMaskException(
                "target "
                    + t
                    + " ("
                    + tg.describe(labels)
                    + ") selects no pixel of image "
                    + i
                    + " (output "
                    + ow
                    + "x"
                    + oh
                    + "); its score would be identically zero");
          }
          System.arraycopy(m, 0, masks, r * oh * ow, oh * ow);
          cls[r] = tg.classIndex();
        }
      }

      float[] scores = new float[rows];
      Map<String, CamTensor> seeds = new LinkedHashMap<>();
      try {
        for (String node : depends.keySet()) {
          float[] nodeMasks = new float[masks.length];
          boolean[] onNode = new boolean[rows];
          SeedMode[] modes = new SeedMode[rows];
          for (int r = 0; r < rows; r++) {
            Target tg = targets.get(r / n);
            // rows scored on another node keep a zero mask here: no score, no gradient
            modes[r] = SeedMode.LINEAR;
            if (seedNode(tg.scoreMode()).equals(node)) {
              modes[r] = seedMode(tg.scoreMode(), ch);
              onNode[r] = true;
              System.arraycopy(masks, r * oh * ow, nodeMasks, r * oh * ow, oh * ow);
            }
          }
          float[] s = new float[rows];
          try (CamTensor mt =
              RegionMasks.build(
                  backend,
                  logitsValue,
                  targets,
                  onNode,
                  empty,
                  n,
                  oh,
                  ow,
                  nodeMasks,
                  !backend.onHost())) {
            seeds.put(node, backend.scoreSeed(fwd.value(node), mt, cls, modes, s));
          }
          for (int r = 0; r < rows; r++) {
            Target tg = targets.get(r / n);
            if (!seedNode(tg.scoreMode()).equals(node)) {
              continue;
            }
            scores[r] = s[r];
            if (ch == 1
                && cls[r] == 0
                && modes[r] == SeedMode.LINEAR
                && node.equals(output)
                && outputIsProbabilities) {
              // background of a sigmoid output: the seed scored -p, the probability is 1 - p
              double m = 0;
              for (int i = 0; i < oh * ow; i++) {
                m += masks[r * oh * ow + i];
              }
              scores[r] = (float) (m + s[r]);
            }
          }
        }
        return step.run(
            new Seeded(
                fwd,
                seeds,
                List.copyOf(targets),
                lays,
                input,
                scores,
                predicted,
                empty,
                n,
                k,
                inH,
                inW));
      } finally {
        seeds.values().forEach(CamTensor::close);
      }
    }
  }

  // logits (N,oh,ow,C), d its NHWC dims -> the label maps; the argmax runs on the backend
  private LabelMap[] labels(CamTensor logitsValue, int[] d) {
    try (CamTensor l = backend.argmaxChannels(logitsValue)) {
      return LabelMap.ofLabels(l.toHost().data(), d[0], d[1], d[2]);
    }
  }

  /** The node a score mode is seeded on. */
  private String seedNode(ScoreMode mode) {
    return mode == ScoreMode.PROBABILITIES && outputIsProbabilities ? output : logits;
  }

  private SeedMode seedMode(ScoreMode mode, int channels) {
    if (mode == ScoreMode.LOGITS || outputIsProbabilities) {
      return SeedMode.LINEAR;
    }
    return channels == 1 ? SeedMode.SIGMOID : SeedMode.SOFTMAX;
  }

  @Override
  public void close() {
    backend.close();
  }

  /** (N,H,W,C), or (N,C) as (N,1,1,C); a tensor of another rank is the model's fault. */
  static int[] nhwc(Shape s, String what) {
    try {
      return KernelCamBackend.nhwc(s, what);
    } catch (CamStepException e) {
      throw new CamException(e.getMessage());
    }
  }
}
