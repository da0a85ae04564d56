package dev.segcam.cli;

import dev.segcam.SegcamException;
import dev.segcam.backend.BackendChoice;
import dev.segcam.cam.ScoreMode;
import dev.segcam.image.Colormaps;
import dev.segcam.video.FramePipeline;
import dev.segcam.video.VideoRun;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
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
      paramLabel = "C",
      required = true,
      description =
          "Class to explain, index or name from MODEL/labels.txt; repeat for several"
              + " (drawn side by side, batched in one backward).")
  List<String> classes = new ArrayList<>();

  @Option(
      names = "--region",
      paramLabel = "R",
      defaultValue = "predicted",
      description =
          "Pixels whose score is explained: predicted (pixels predicted as the class;"
              + " frames without any are marked empty), largest (its largest component), image"
              + " (whole output). Default: ${DEFAULT-VALUE}.")
  String region;

  @Option(
      names = "--score",
      paramLabel = "S",
      defaultValue = "logits",
      description = "Score on logits or probabilities. Default: ${DEFAULT-VALUE}.")
  String score;

  @Option(
      names = {"-l", "--layer"},
      paramLabel = "L",
      description =
          "Feature layer (see 'segcam layers'); default: the last conv block before the"
              + " classifier.")
  String layer;

  @Option(
      names = {"-m", "--method"},
      paramLabel = "M",
      defaultValue = "grad-cam",
      description =
          "grad-cam, grad-cam++, hires-cam, xgrad-cam or layer-cam. Default:"
              + " ${DEFAULT-VALUE}.")
  String method;

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
      paramLabel = "NAME",
      defaultValue = "jet",
      description = "jet, gray or hot. Default: ${DEFAULT-VALUE}.")
  String colormap;

  @Option(
      names = "--backend",
      paramLabel = "B",
      defaultValue = "auto",
      description = "auto, cpu or cuda. Default: ${DEFAULT-VALUE}.")
  String backend;

  @Option(
      names = {"-s", "--size"},
      paramLabel = "WxH",
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
    o.region = region;
    o.score = parseScore(score);
    o.layer = layer;
    o.method = VideoRun.parseMethod(method);
    o.batch = batch;
    o.fixedScale = fixedScale;
    o.smooth = smooth;
    o.alpha = alpha;
    o.colormap = Colormaps.byName(colormap);
    o.backend = BackendChoice.parse(backend);
    o.size = size;
    o.fps = fps;
    o.jsonl = jsonl;
    o.ffmpeg = ffmpeg;
    if (queue < 1) {
      throw new SegcamException("--queue must be >= 1, got " + queue);
    }
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

  private static ScoreMode parseScore(String s) {
    String k = s.trim().toLowerCase(Locale.ROOT);
    if (k.startsWith("logit")) {
      return ScoreMode.LOGITS;
    }
    if (k.startsWith("prob")) {
      return ScoreMode.PROBABILITIES;
    }
    throw new SegcamException("--score must be logits or probabilities, got '" + s + "'");
  }
}
