package dev.segcam.video;

import dev.segcam.backend.BackendChoice;
import dev.segcam.backend.CamBackend;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.Labels;
import dev.segcam.cam.ScoreMode;
import dev.segcam.cam.Target;
import dev.segcam.image.Colormaps;
import dev.segcam.image.ImageSizes;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.ImportedModel;
import dev.segcam.savedmodel.SavedModelImporter;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * One {@code segcam video} run: opens the model, the source and the sink the arguments name, wires
 * prepare → explain → overlay between them in a {@link FramePipeline}, prints a progress line and a
 * summary. The command and the tests both come through here.
 */
public final class VideoRun {
  /** Everything a run needs; fields mirror the command's options. */
  public static final class Options {
    public Path model;

    /** A directory of images, a video file, or "-" for raw rgb24 frames on {@link #stdin}. */
    public String input;

    /**
     * A directory (PNGs), a .mp4/.mkv/.mov/.avi video, a .jsonl file, or JSON lines straight to a
     * stream: "-" ({@link #stdout}), a named pipe or a device.
     */
    public Path output;

    /** Class indices or names (from MODEL/labels.txt). */
    public List<String> classes = new ArrayList<>();

    public String region = "predicted";
    public ScoreMode score = ScoreMode.LOGITS;
    public String layer;

    /** The node to score (output key, layer or TensorFlow node); null: the first output. */
    public String scoreOutput;

    public CamMethod method = CamMethod.GRAD_CAM;
    public int batch = 4;

    /** "auto", "frame" (per-map min-max) or a positive number. */
    public String fixedScale = "auto";

    public float smooth = 0f;
    public float alpha = 0.5f;
    public Colormaps colormap = Colormaps.JET;
    public BackendChoice backend = BackendChoice.AUTO;

    /** WxH: the size of raw frames on stdin, or the size a video is decoded at. */
    public String size;

    /** Frame rate of the output video when the input has none (images, raw frames). */
    public double fps = 0;

    /** Also write per-frame JSON lines here (with a video or PNG output). */
    public Path jsonl;

    /** ffmpeg executable (null: "ffmpeg" on PATH). */
    public String ffmpeg;

    public int queue = FramePipeline.DEFAULT_QUEUE;
    public int threads = Runtime.getRuntime().availableProcessors();
    public InputStream stdin = System.in;

    /** Where "-" as output goes; null: file descriptor 1, unbuffered, so write errors surface. */
    public OutputStream stdout;

    /** Wraps the opened backend (tests inject faults such as running out of device memory). */
    public UnaryOperator<CamBackend> backendWrapper;
  }

  private VideoRun() {}

  /** Runs to the end; throws a {@link VideoException} (or other SegcamException) on failure. */
  public static FramePipeline.Result run(Options o, PrintWriter err) {
    Path labelsFile = o.model.resolve("labels.txt");
    Labels labels = Files.isRegularFile(labelsFile) ? Labels.load(labelsFile) : null;
    List<Target> targets = new ArrayList<>();
    int[] classIndex = new int[o.classes.size()];
    List<String> classNames = new ArrayList<>();
    if (o.classes.isEmpty()) {
      throw new VideoException(
          "give at least one --class (an index"
              + (labels == null ? "" : " or one of " + String.join(", ", labels.names()))
              + ")");
    }
    for (int i = 0; i < o.classes.size(); i++) {
      int c = classIndex(o.classes.get(i), labels);
      classIndex[i] = c;
      classNames.add(labels == null ? "class " + c : labels.name(c));
      targets.add(target(c, o.region).withScore(o.score));
    }
    ExplainStage.ScaleMode scaleMode;
    float scale = 0;
    String fs = o.fixedScale == null ? "auto" : o.fixedScale.trim().toLowerCase(Locale.ROOT);
    if (fs.equals("auto")) {
      scaleMode = ExplainStage.ScaleMode.AUTO;
    } else if (fs.equals("frame")) {
      scaleMode = ExplainStage.ScaleMode.PER_FRAME;
    } else {
      scaleMode = ExplainStage.ScaleMode.FIXED;
      try {
        scale = Float.parseFloat(fs);
      } catch (NumberFormatException e) {
        scale = Float.NaN;
      }
      if (!(scale > 0 && Float.isFinite(scale))) {
        throw new VideoException(
            "--fixed-scale must be a number > 0, 'auto' or 'frame', got '" + o.fixedScale + "'");
      }
    }
    int[] size = o.size == null ? null : parseSize(o.size);
    OverlayStage overlay = new OverlayStage(targets.size(), o.smooth, o.alpha, o.colormap);

    // Open the cheap, fallible ends first so that a bad path fails before the model loads.
    Ffmpeg ff = null;
    boolean stdinInput = o.input.equals("-");
    Path inPath = stdinInput ? null : Path.of(o.input);
    boolean videoOut = FfmpegVideoSink.isVideoName(o.output);
    boolean videoIn = !stdinInput && !Files.isDirectory(inPath);
    if (!stdinInput && !Files.exists(inPath)) {
      throw new VideoException(o.input + ": no such file or directory");
    }
    if (stdinInput && size == null) {
      throw new VideoException(
          "raw frames on stdin ('-') need their size: --size WxH (rgb24, W*H*3 bytes per frame)");
    }
    if (videoIn || videoOut) {
      ff = Ffmpeg.locate(o.ffmpeg);
    }
    String kind = outputKind(o.output);

    // with a known frame size (--size, the video's own, or the images' when they share one) the
    // model is imported at it: shape arithmetic on a dynamic input folds to constants
    int[] hw = size != null ? new int[] {size[1], size[0]} : frameSize(inPath, videoIn, ff);
    ImportedModel imported =
        hw == null
            ? SavedModelImporter.load(o.model)
            : SavedModelImporter.loadAtImageSize(o.model, null, hw[0], hw[1]);
    Graph graph = imported.graph();
    Shape in = graph.node(graph.inputs().get(0)).shape();
    if (in.rank() != 4 || (in.dim(3) != 3 && in.dim(3) != Shape.UNKNOWN)) {
      throw new VideoException(
          "the model's input '"
              + graph.inputs().get(0)
              + "' has shape "
              + in
              + "; video frames need (N,H,W,3) RGB");
    }
    String[] why = new String[1];
    CamBackend backend = openBackend(graph, o.backend, o.threads, why);
    if (o.backendWrapper != null) {
      backend = o.backendWrapper.apply(backend);
    }
    Explainer explainer = new Explainer(backend);
    boolean handed = false;
    FrameSource source = null;
    FrameSink sink = null;
    try {
      if (labels != null) {
        explainer.labels(labels);
      }
      explainer.output(
          imported,
          o.scoreOutput,
          line -> {
            err.println("segcam: note: " + line);
            err.flush();
          });
      String layer = o.layer != null ? imported.layer(o.layer) : explainer.defaultLayer();
      graph.node(layer);
      ExplainStage explain =
          new ExplainStage(explainer, targets, layer, o.method, o.batch, scaleMode, scale)
              .log(
                  line -> {
                    err.println(line);
                    err.flush();
                  });
      handed = true; // closing the stage closes the explainer
      if (stdinInput) {
        source = new RawRgbSource(o.stdin, size[0], size[1], "stdin");
      } else if (videoIn) {
        source =
            new FfmpegSource(ff, inPath, size == null ? 0 : size[0], size == null ? 0 : size[1]);
      } else {
        source = new ImageDirectorySource(inPath);
      }
      double fps = o.fps > 0 ? o.fps : (source.fps() > 0 ? source.fps() : 25);
      List<FrameSink> sinks = new ArrayList<>();
      if (kind.equals("video")) {
        sinks.add(new FfmpegVideoSink(ff, o.output, fps));
      } else if (kind.equals("jsonl")) {
        sinks.add(jsonSink(o, o.output, classIndex, classNames));
      } else {
        sinks.add(new PngSequenceSink(o.output));
      }
      if (o.jsonl != null) {
        sinks.add(jsonSink(o, o.jsonl, classIndex, classNames));
      }
      sink = sinks.size() == 1 ? sinks.get(0) : new TeeSink(sinks);

      err.printf(
          "segcam video: %s -> %s; %s, layer %s, %s, batch %d, backend %s%n",
          source.describe(),
          sink.describe(),
          String.join(", ", targets.stream().map(t -> t.describe(labels)).toList()),
          layer,
          methodName(o.method),
          o.batch,
          why[0]);
      err.flush();
      Progress progress = new Progress(err, source.count());
      FramePipeline p =
          new FramePipeline(
              source,
              List.of(new PrepareStage(in.dim(1), in.dim(2)), explain, overlay),
              sink,
              o.queue,
              progress::frame);
      FramePipeline.Result r;
      try {
        r = p.run();
      } finally {
        progress.end();
      }
      summary(err, r, explain, sink);
      return r;
    } finally {
      if (source != null) {
        source.close();
      }
      if (!handed) {
        explainer.close();
      }
    }
  }

  /**
   * The (height, width) frames have without --size: a video's own (ffprobe), or the images' of a
   * directory when they all share one; null when unknown (the model is imported as declared).
   */
  private static int[] frameSize(Path in, boolean videoIn, Ffmpeg ff) {
    if (videoIn) {
      Ffmpeg.StreamInfo info = ff.probe(in);
      return new int[] {info.height(), info.width()};
    }
    return Files.isDirectory(in) ? ImageSizes.common(new ImageDirectorySource(in).files()) : null;
  }

  private static JsonLinesSink jsonSink(
      Options o, Path out, int[] classIndex, List<String> classNames) {
    if (out.toString().equals("-")) {
      OutputStream s = o.stdout != null ? o.stdout : new FileOutputStream(FileDescriptor.out);
      return new JsonLinesSink(s, "stdout", classIndex, classNames);
    }
    return new JsonLinesSink(out, classIndex, classNames);
  }

  private static void summary(
      PrintWriter err, FramePipeline.Result r, ExplainStage explain, FrameSink sink) {
    StringBuilder stages = new StringBuilder();
    for (String s : List.of("decode", "prepare", "explain", "overlay", "write")) {
      Double ms = r.stageMs().get(s);
      if (ms != null && r.frames() > 0) {
        stages.append(String.format(Locale.ROOT, " %s %.2f", s, ms / r.frames()));
      }
    }
    err.printf(
        Locale.ROOT,
        "segcam video: %d frames (%d failed, %d empty target region(s)) in %.2f s, %.2f frames/s%n",
        r.frames(),
        r.failed(),
        r.emptyTargets(),
        r.seconds(),
        r.framesPerSecond());
    err.printf("  ms per frame:%s%n", stages);
    if (explain.mode() == ExplainStage.ScaleMode.PER_FRAME) {
      err.println("  heatmaps scaled per frame (min-max)");
    } else {
      err.printf(
          Locale.ROOT,
          "  heatmap scale: %s%s%n",
          explain.scale() > 0 ? String.format(Locale.ROOT, "%.6g", explain.scale()) : "none",
          explain.mode() == ExplainStage.ScaleMode.AUTO
              ? " (auto: largest value of the first batch; fix it with --fixed-scale)"
              : "");
    }
    if (explain.batchInUse() != explain.batchSize()) {
      err.printf(
          "  batch: %d requested, %d in use after running out of device memory%n",
          explain.batchSize(), explain.batchInUse());
    }
    for (String f : r.failures()) {
      err.println("  failed: " + f);
    }
    err.println("  wrote " + sink.describe());
    err.flush();
  }

  /** Throttled "frames N[/total], F frames/s" on one line. */
  private static final class Progress {
    private final PrintWriter err;
    private final long total;
    private final long t0 = System.nanoTime();
    private final boolean tty = System.console() != null;
    private long last;
    private long frames;
    private boolean printed;

    Progress(PrintWriter err, long total) {
      this.err = err;
      this.total = total;
    }

    synchronized void frame(FrameItem it) {
      frames++;
      long now = System.nanoTime();
      if (now - last >= (tty ? 250_000_000L : 2_000_000_000L)) {
        last = now;
        print(now);
      }
    }

    private void print(long now) {
      double s = (now - t0) / 1e9;
      err.printf(
          Locale.ROOT,
          "%sframes %d%s, %.1f frames/s%s",
          tty ? "\r" : "",
          frames,
          total > 0 ? "/" + total : "",
          s > 0 ? frames / s : 0,
          tty ? "" : "\n");
      err.flush();
      printed = true;
    }

    synchronized void end() {
      print(System.nanoTime());
      if (tty && printed) {
        err.println();
      }
      err.flush();
    }
  }

  /** "video", "jsonl" or "png" from the output path. */
  static String outputKind(Path out) {
    String n =
        out.getFileName() == null ? "" : out.getFileName().toString().toLowerCase(Locale.ROOT);
    if (out.toString().equals("-") || JsonLinesSink.isStream(out)) {
      return "jsonl"; // stdout, a named pipe or a device: a stream of JSON lines
    }
    if (FfmpegVideoSink.isVideoName(out)) {
      return "video";
    }
    if (n.endsWith(".jsonl") || n.endsWith(".ndjson")) {
      return "jsonl";
    }
    if (Files.isDirectory(out) || !n.contains(".")) {
      return "png";
    }
    throw new VideoException(
        out
            + ": cannot tell what to write; OUT is a directory (PNG frames), a .mp4/.mkv/.mov/.avi"
            + " video or a .jsonl file");
  }

  /** Parses WxH (width x height, 1..16384 each) into {width, height}. */
  public static int[] parseSize(String s) {
    String[] p = s.trim().toLowerCase(Locale.ROOT).split("x");
    try {
      if (p.length == 2) {
        int w = Integer.parseInt(p[0]);
        int h = Integer.parseInt(p[1]);
        if (w > 0 && h > 0 && w <= 16384 && h <= 16384) {
          return new int[] {w, h};
        }
      }
    } catch (NumberFormatException e) {
      // fall through to the message
    }
    throw new VideoException("--size must be WxH with 1..16384 each (e.g. 64x64), got '" + s + "'");
  }

  public static int classIndex(String s, Labels labels) {
    try {
      int c = Integer.parseInt(s.trim());
      if (c < 0) {
        throw new VideoException("--class " + s + ": classes are numbered from 0");
      }
      return c;
    } catch (NumberFormatException e) {
      if (labels == null) {
        throw new VideoException(
            "--class '" + s + "' is not a number and the model has no labels.txt to look it up");
      }
      return labels.index(s.trim());
    }
  }

  static Target target(int c, String region) {
    String r = region == null ? "predicted" : region.trim().toLowerCase(Locale.ROOT);
    switch (r) {
      case "predicted":
        return Target.predicted(c);
      case "largest":
        return Target.largestComponent(c);
      case "image":
        return Target.image(c);
      default:
        throw new VideoException(
            "--region must be predicted, largest or image, got '" + region + "'");
    }
  }

  /**
   * The CAM backend for a graph; why[0] gets one line saying which and why. The choice is {@link
   * BackendChoice#selectForCam()}, the same policy as the other commands.
   */
  public static CamBackend openBackend(Graph g, BackendChoice choice, int threads, String[] why) {
    BackendChoice.Selection sel = choice.selectForCam();
    why[0] = sel.reason();
    if (sel.isCuda()) {
      try {
        return BackendChoice.openCudaCam(g);
      } catch (dev.segcam.SegcamException e) {
        if (choice == BackendChoice.CUDA) {
          throw e;
        }
        why[0] = "cpu: " + sel.reason() + ", but the CUDA backend failed: " + e.getMessage();
      }
    }
    CpuCamBackend cpu =
        CpuCamBackend.open(g, threads, sel.javaOnly(), line -> why[0] += "; " + line);
    why[0] = why[0] + "; " + cpu.engine();
    return cpu;
  }

  /**
   * Parses a method name. The names are those of {@link #methodName} (gradcam, gradcam++, hirescam,
   * xgradcam, layercam); case, '-', '_' and spaces are ignored (grad-cam works too), and
   * seg-grad-cam is gradcam.
   */
  public static CamMethod parseMethod(String s) {
    String k = s.trim().toLowerCase(Locale.ROOT).replaceAll("[-_ ]", "");
    if (k.equals("seggradcam")) {
      k = "gradcam";
    }
    for (CamMethod m : CamMethod.values()) {
      if (methodName(m).equals(k) || (m == CamMethod.GRAD_CAM_PLUS_PLUS && k.equals("gradcampp"))) {
        return m;
      }
    }
    throw new VideoException(
        "unknown method '" + s + "': expected gradcam, gradcam++, hirescam, xgradcam or layercam");
  }

  /** The one name of a method on every command line and in every output. */
  public static String methodName(CamMethod m) {
    return switch (m) {
      case GRAD_CAM -> "gradcam";
      case GRAD_CAM_PLUS_PLUS -> "gradcam++";
      case HIRES_CAM -> "hirescam";
      case XGRAD_CAM -> "xgradcam";
      case LAYER_CAM -> "layercam";
    };
  }
}
