package dev.segcam.video;

import dev.segcam.image.Images;
import java.awt.image.BufferedImage;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * An overlay video encoded by ffmpeg from rawvideo rgb24 on its stdin: H.264 (libx264) in
 * .mp4/.mkv/.mov when this ffmpeg has it, else MPEG-4 part 2; .avi always MPEG-4 part 2. ffmpeg
 * writes OUT.partial (the container named with -f, since the suffix no longer says it), renamed to
 * OUT after ffmpeg exits cleanly. ffmpeg starts with the first frame, whose size fixes the video's;
 * later frames of another size are scaled to it. If ffmpeg dies, the write fails with its exit
 * status and stderr.
 */
public final class FfmpegVideoSink implements FrameSink {
  private static final long KILL_WAIT_S = 5;
  private final Ffmpeg ffmpeg;
  private final PartialFile file;
  private final String container;
  private final String codec;
  private final double fps;
  private volatile Ffmpeg.Proc proc;
  private OutputStream stdin;
  private int width;
  private int height;
  private byte[] rgb;
  private int[] scratch;
  private long written;
  private boolean done;

  public FfmpegVideoSink(Ffmpeg ffmpeg, Path out, double fps) {
    this.ffmpeg = ffmpeg;
    this.container = container(out);
    this.file = new PartialFile(out);
    file.beforeUndo(this::kill);
    this.fps = fps > 0 ? fps : 25;
    boolean h264 = !container.equals("avi") && ffmpeg.hasEncoder("libx264");
    this.codec = h264 ? "libx264" : "mpeg4";
  }

  /** The ffmpeg muxer for a file name, or a clear error for suffixes we do not write. */
  public static String container(Path out) {
    String n = out.getFileName().toString().toLowerCase(Locale.ROOT);
    if (n.endsWith(".mp4") || n.endsWith(".m4v")) {
      return "mp4";
    }
    if (n.endsWith(".avi")) {
      return "avi";
    }
    if (n.endsWith(".mkv")) {
      return "matroska";
    }
    if (n.endsWith(".mov")) {
      return "mov";
    }
    throw new VideoException(
        out
            + ": unknown video suffix; write .mp4, .mkv, .mov or .avi (or a directory for PNGs,"
            + " or .jsonl)");
  }

  public static boolean isVideoName(Path out) {
    try {
      container(out);
      return true;
    } catch (VideoException e) {
      return false;
    }
  }

  public String codec() {
    return codec;
  }

  private void start(int w, int h) {
    width = w;
    height = h;
    rgb = new byte[w * h * 3];
    scratch = new int[w * h];
    List<String> a = new ArrayList<>();
    a.addAll(List.of("-hide_banner", "-loglevel", "error", "-y"));
    a.addAll(List.of("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", w + "x" + h));
    a.addAll(List.of("-r", String.format(Locale.ROOT, "%.6f", fps), "-i", "-"));
    // yuv420p (what players expect) needs even sides: pad by one pixel when odd
    a.addAll(List.of("-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p"));
    a.addAll(List.of("-c:v", codec));
    if (codec.equals("libx264")) {
      a.addAll(List.of("-preset", "veryfast", "-crf", "18"));
    } else {
      a.addAll(List.of("-q:v", "2"));
    }
    a.addAll(List.of("-f", container, file.partial.toString()));
    proc = ffmpeg.start(a, true);
    stdin = new BufferedOutputStream(proc.process.getOutputStream(), 1 << 16);
  }

  @Override
  public void write(FrameItem item) {
    BufferedImage img = item.output != null ? item.output : item.frame;
    if (img == null) {
      if (proc == null) {
        return; // nothing decoded yet to size the video by; the run reports the frame
      }
      img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB); // keep the timeline
    }
    if (proc == null) {
      start(img.getWidth(), img.getHeight());
    }
    if (img.getWidth() != width || img.getHeight() != height) {
      img = Images.resize(img, width, height);
    }
    Frames.toRgb24(img, rgb, scratch);
    try {
      stdin.write(rgb);
      written++;
    } catch (IOException e) {
      throw died("while writing frame " + item.index, e);
    }
  }

  private VideoException died(String when, Exception e) {
    int code = proc.waitFor(10);
    return new VideoException(
        "ffmpeg encoding "
            + file.target
            + " "
            + Ffmpeg.Proc.describeExit(code)
            + " "
            + when
            // "Stream closed" only says Java noticed the exit first; a broken pipe says no more
            + (e == null || "Stream closed".equals(e.getMessage())
                ? ""
                : " (" + e.getMessage() + ")")
            + tail(),
        e);
  }

  private String tail() {
    String t = proc.stderrTail();
    return t.isEmpty() ? "" : "; ffmpeg said: " + t;
  }

  @Override
  public void finish() {
    if (proc == null) {
      throw new VideoException(
          "no frame could be decoded, so no video was written to " + file.target);
    }
    try {
      stdin.close();
    } catch (IOException e) {
      throw died("while finishing the file", e);
    }
    int code = proc.waitFor(120);
    if (code != 0) {
      throw died("after the last frame", null);
    }
    file.commit();
    done = true;
  }

  @Override
  public void abort() {
    Ffmpeg.Proc p = proc;
    if (p != null && !done) {
      try {
        stdin.close(); // lets a live ffmpeg finish the frames it has
      } catch (IOException ignored) {
        // it is dead already
      }
      p.waitFor(10);
    }
    if (!done && written == 0) {
      file.discard();
    } else {
      file.release();
    }
  }

  /** At a signal: stops ffmpeg at once, so it does not write the partial file after it goes. */
  private void kill() {
    Ffmpeg.Proc p = proc;
    if (p != null) {
      p.process.destroyForcibly();
      try {
        p.process.waitFor(KILL_WAIT_S, java.util.concurrent.TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public String leftover() {
    return done ? "" : file.leftover();
  }

  @Override
  public void cancel() {
    // nothing: a write blocked on a full pipe resumes when ffmpeg reads or dies
  }

  @Override
  public String describe() {
    return "video " + file.target + " (" + codec + ")";
  }

  public long written() {
    return written;
  }
}
