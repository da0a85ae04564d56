package dev.segcam.cli;

import dev.segcam.SegcamException;
import dev.segcam.cam.CamMethod;
import dev.segcam.image.Colormaps;
import dev.segcam.video.FramePipeline;
import dev.segcam.video.VideoRun;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code segcam video MODEL IN OUT}: Seg-Grad-CAM over every frame of a video, an image directory
 * or raw frames on stdin, written as an overlay video, PNG frames or JSON lines.
 */
@Command(
    name = "video",
    mixinStandardHelpOptions = true,
    description = {
      "Explain every frame of a video, an image directory or raw rgb24 frames on stdin.",
      "Decoding, the model, overlays and encoding run as pipelined stages; a progress line and a"
          + " summary go to stderr. Outputs are written under OUT.partial and renamed when complete."
    })
public final class VideoCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "MODEL", description = "SavedModel directory.")
  Path model;

  @Parameters(
      index = "1",
      paramLabel = "IN",
      description =
          "Image directory (sorted by name), video file (via ffmpeg), or '-' for raw rgb24"
              + " frames on stdin (needs --size).")
  String input;

  @Parameters(
      index = "2",
      paramLabel = "OUT",
      description =
          "Directory (PNG frames), .mp4/.mkv/.mov/.avi (overlay video via ffmpeg), .jsonl"
              + " (one JSON object per frame), or '-' / a named pipe for JSON lines as a stream.")
  Path output;

  @Option(
      names = {"-c", "--class"},
      paramLabel = Vocabulary.CLASS_LABEL,
      required = true,
      description =
          Vocabulary.CLASS_HELP
              + "; repeat for several (drawn side by side, batched in one backward).")
  List<String> classes = new ArrayList<>();

  @ArgGroup(exclusive = true, multiplicity = "0..1", heading = "Region M (pick one):%n")
  RegionOption region;

  /** Where the score is summed: the same flags as explain's (the ones a video can use). */
  static final class RegionOption {
    @Option(
        names = "--predicted",
        description = Vocabulary.PREDICTED_HELP + " Frames without any are marked empty.")
    boolean predicted;

    @Option(names = "--component", description = Vocabulary.COMPONENT_HELP)
    boolean component;

    @Option(names = "--whole", description = Vocabulary.WHOLE_HELP)
    boolean whole;

    String name() {
      return component ? "largest" : whole ? "image" : "predicted";
    }
  }

  @Mixin ScoreOptions.Output scoreOutput = new ScoreOptions.Output();

  @Mixin ScoreOptions.Mode score = new ScoreOptions.Mode();

  @Mixin ScoreOptions.Layer layer = new ScoreOptions.Layer();

  @Option(
      names = {"-m", "--method"},
      paramLabel = Vocabulary.METHOD_LABEL,
      defaultValue = "gradcam",
      converter = Vocabulary.MethodConverter.class,
      description = Vocabulary.METHOD_HELP)
  CamMethod method = CamMethod.GRAD_CAM;

  @Option(
      names = {"-b", "--batch"},
      paramLabel = "N",
      defaultValue = "4",
      description = "Frames per forward/backward call. Default: ${DEFAULT-VALUE}.")
  int batch;

  @Option(
      names = "--fixed-scale",
      paramLabel = "S",
      defaultValue = "auto",
      description =
          "Heatmap value drawn at full colour, the same for every frame: a number, 'auto'"
              + " (the largest value of the first batch) or 'frame' (min-max per frame, flickers)."
              + " Default: ${DEFAULT-VALUE}.")
  String fixedScale;

  @Option(
      names = "--smooth",
      paramLabel = "A",
      defaultValue = "0",
      description =
          "Exponential smoothing of heatmaps across frames: s = A*previous + (1-A)*current,"
              + " A in [0,1); 0 = off. Default: ${DEFAULT-VALUE}.")
  float smooth;

  @Option(
      names = "--alpha",
      paramLabel = "A",
      defaultValue = "0.5",
      description = "Overlay opacity in [0,1]. Default: ${DEFAULT-VALUE}.")
  float alpha;

  @Option(
      names = "--colormap",
      paramLabel = "jet|gray|hot",
      defaultValue = "jet",
      converter = Vocabulary.ColormapConverter.class,
      description = "Colour map of the heatmap. Default: ${DEFAULT-VALUE}.")
  Colormaps colormap = Colormaps.JET;

  @Mixin SharedOptions shared = new SharedOptions();

  @Option(
      names = {"-s", "--size"},
      paramLabel = Vocabulary.SIZE_LABEL,
      converter = Vocabulary.SizeConverter.class,
      description =
          "Frame size of raw input on stdin; for a video file, decode at this size"
              + " instead of the file's (skips ffprobe).")
  String size;

  @Option(
      names = "--fps",
      paramLabel = "F",
      defaultValue = "0",
      description = "Frame rate of the output video (default: the input's, or 25).")
  double fps;

  @Option(
      names = "--jsonl",
      paramLabel = "FILE",
      description = "Also write one JSON line per frame to FILE ('-': stdout).")
  Path jsonl;

  @Option(
      names = "--queue",
      paramLabel = "N",
      defaultValue = "8",
      description =
          "Frames each queue between stages holds (bounds memory). Default:" + " ${DEFAULT-VALUE}.")
  int queue;

  @Option(
      names = "--ffmpeg",
      paramLabel = "PATH",
      description = "ffmpeg executable (default: ffmpeg on PATH; ffprobe is looked up next to it).")
  String ffmpeg;

  @Override
  public Integer call() {
    VideoRun.Options o = new VideoRun.Options();
    o.model = model;
    o.input = input;
    o.output = output;
    o.classes = classes;
    o.region = region == null ? "predicted" : region.name();
    o.score = score.mode;
    o.layer = layer.name;
    o.scoreOutput = scoreOutput.node;
    o.method = method;
    o.batch = batch;
    o.fixedScale = fixedScale;
    o.smooth = smooth;
    o.alpha = alpha;
    o.colormap = colormap;
    o.backend = shared.backend;
    o.size = size;
    o.fps = fps;
    o.jsonl = jsonl;
    o.ffmpeg = ffmpeg;
    checkRanges();
    o.queue = queue;
    PrintWriter err = spec.commandLine().getErr();
    FramePipeline.Result r = VideoRun.run(o, err);
    if (r.failed() > 0) {
      throw new SegcamException(
          r.failed()
              + " of "
              + r.frames()
              + " frames failed (written without overlay, or black when undecodable; listed"
              + " above and in JSON lines); first: "
              + r.failures().get(0));
    }
    return 0;
  }

  /** Values that parse but are out of range are usage errors (exit 2), as in every command. */
  private void checkRanges() {
    if (batch < 1) {
      throw Vocabulary.badValue(spec, "--batch", batch, "must be >= 1");
    }
    if (queue < 1) {
      throw Vocabulary.badValue(spec, "--queue", queue, "must be >= 1");
    }
    if (!(alpha >= 0 && alpha <= 1)) {
      throw Vocabulary.badValue(spec, "--alpha", alpha, "must be in [0,1]");
    }
    if (!(smooth >= 0 && smooth < 1)) {
      throw Vocabulary.badValue(spec, "--smooth", smooth, "must be in [0,1)");
    }
    if (!(fps >= 0) || Double.isInfinite(fps)) {
      throw Vocabulary.badValue(spec, "--fps", fps, "must be > 0 (or 0: the input's)");
    }
    String fs = fixedScale.trim().toLowerCase(Locale.ROOT);
    if (!fs.equals("auto") && !fs.equals("frame")) {
      float f;
      try {
        f = Float.parseFloat(fs);
      } catch (NumberFormatException e) {
        f = Float.NaN;
      }
      if (!(f > 0 && Float.isFinite(f))) {
        throw Vocabulary.badValue(spec, "--fixed-scale", fixedScale, "a number > 0, auto or frame");
      }
    }
  }
}
