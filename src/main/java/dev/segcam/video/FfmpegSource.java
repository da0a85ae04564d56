package dev.segcam.video;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A video file decoded by {@code ffmpeg -i IN -f rawvideo -pix_fmt rgb24 -}. The frame size comes
 * from ffprobe, or from a size the caller gives (ffmpeg then scales to it). If ffmpeg fails, the
 * run fails with its stderr.
 */
public final class FfmpegSource implements FrameSource {
  private final Path file;
  private final Ffmpeg.Proc proc;
  private final RawRgbSource raw;
  private final double fps;
  private volatile boolean cancelled;

  /**
   * @param width,height output size wanted, or 0,0 for the file's own (asked from ffprobe)
   */
  public FfmpegSource(Ffmpeg ffmpeg, Path file, int width, int height) {
    if (!Files.isRegularFile(file)) {
      throw new VideoException(
          file + ": " + (Files.exists(file) ? "not a regular file" : "no such video file"));
    }
    this.file = file;
    double rate = 0;
    if (width <= 0 || height <= 0) {
      Ffmpeg.StreamInfo info = ffmpeg.probe(file);
      width = info.width();
      height = info.height();
      rate = info.fps();
    }
    this.fps = rate;
    List<String> args = new ArrayList<>();
    args.addAll(List.of("-hide_banner", "-loglevel", "error", "-nostdin", "-i", file.toString()));
    args.addAll(List.of("-an", "-sn", "-s", width + "x" + height));
    args.addAll(List.of("-f", "rawvideo", "-pix_fmt", "rgb24", "-"));
    this.proc = ffmpeg.start(args, false);
    this.raw = new RawRgbSource(proc.process.getInputStream(), width, height, file.toString());
  }

  @Override
  public FrameItem next() {
    FrameItem item = raw.next();
    // the end of the pipe, or a frame cut short: a killed or failing ffmpeg says which
    if ((item == null || item.failed()) && !cancelled) {
      int code = proc.waitFor(60);
      if (code != 0) {
        throw new VideoException(
            "ffmpeg could not decode "
                + file
                + ": it "
                + Ffmpeg.Proc.describeExit(code)
                + ": "
                + proc.stderrTail());
      }
    }
    return item;
  }

  @Override
  public double fps() {
    return fps;
  }

  @Override
  public String describe() {
    return "video " + file + " (" + raw.size() + ")";
  }

  @Override
  public void cancel() {
    cancelled = true;
    proc.kill();
  }

  @Override
  public void close() {
    proc.kill();
  }
}
