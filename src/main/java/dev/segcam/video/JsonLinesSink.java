package dev.segcam.video;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.segcam.io.Json;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One JSON object per frame and line:
 *
 * <pre>{"frame":0,"source":"a.png","targets":[{"class":3,"label":"shadow","score":12.5,
 * "heat_max":0.91,"heat_mean":0.12}],"timing_ms":{"decode":0.4,"explain":20.1,...}}</pre>
 *
 * A failed frame has "error" instead of "targets"; a target whose region was empty on the frame has
 * "score":null and "empty":true. Written to OUT.partial, renamed to OUT at the end; or straight to
 * a stream (stdout, a named pipe), where a reader that goes away is reported as a closed pipe.
 */
public final class JsonLinesSink implements FrameSink {
  /** Null when writing a stream (stdout, a pipe, a device): nothing to rename there. */
  private final PartialFile file;

  /** What is written to, for messages: OUT.partial, or the stream's name. */
  private final String name;

  private final List<String> targetClasses;
  private final int[] classIndex;
  private final boolean closeAtEnd;
  private BufferedWriter out;
  private boolean done;
  private long written;

  /**
   * Writes to {@code target}: a regular file goes through OUT.partial; an existing FIFO or device
   * (a named pipe, /dev/stdout) is written directly, as it cannot be renamed.
   *
   * @param classIndex class of each target; targetClasses their names (same order)
   */
  public JsonLinesSink(Path target, int[] classIndex, List<String> targetClasses) {
    this.classIndex = classIndex.clone();
    this.targetClasses = List.copyOf(targetClasses);
    this.closeAtEnd = true;
    if (isStream(target)) {
      this.file = null;
      this.name = target.toString();
      try {
        out = writer(Files.newOutputStream(target));
      } catch (IOException e) {
        throw new VideoException("cannot write " + name + ": " + e.getMessage(), e);
      }
      return;
    }
    this.file = new PartialFile(target);
    this.name = file.partial.toString();
    try {
      out = Files.newBufferedWriter(file.partial, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new VideoException("cannot write " + file.partial + ": " + e.getMessage(), e);
    }
  }

  /**
   * Writes to a stream that stays open afterwards (stdout). Use an unbuffered stream that reports
   * errors: System.out swallows them, so a closed pipe would go unnoticed.
   */
  public JsonLinesSink(
      OutputStream stream, String name, int[] classIndex, List<String> targetClasses) {
    this.file = null;
    this.name = name;
    this.classIndex = classIndex.clone();
    this.targetClasses = List.copyOf(targetClasses);
    this.closeAtEnd = false;
    this.out = writer(stream);
  }

  /** An existing path that is neither a regular file nor a directory: a FIFO or a device. */
  public static boolean isStream(Path p) {
    return Files.exists(p) && !Files.isRegularFile(p) && !Files.isDirectory(p);
  }

  private static BufferedWriter writer(OutputStream s) {
    return new BufferedWriter(new OutputStreamWriter(s, StandardCharsets.UTF_8), 1 << 16);
  }

  /** The write error, in words: a reader that went away is a closed pipe, not a disk problem. */
  private VideoException failed(IOException e) {
    String m = String.valueOf(e.getMessage());
    if (file == null
        && (m.contains("Broken pipe")
            || m.contains("Pipe closed")
            || m.contains("Read end dead"))) {
      return new VideoException(
          "output pipe closed: the reader of "
              + name
              + " went away after "
              + written
              + " frame(s) ("
              + m
              + ")",
          e);
    }
    return new VideoException("cannot write " + name + ": " + m, e);
  }

  /** The schema of one JSON line: one frame (README "JSON documents"). */
  public record FrameLine(
      long frame,
      String source,
      Integer width,
      Integer height,
      String error,
      List<FrameTarget> targets,
      Map<String, Double> timingMs) {}

  /** One target of a frame; score null (and empty true) when its region is empty. */
  public record FrameTarget(
      @JsonProperty("class") int classIndex,
      String label,
      @JsonInclude(JsonInclude.Include.ALWAYS) Float score,
      Boolean empty,
      Float heatMax,
      Float heatMean) {}

  @Override
  public void write(FrameItem item) {
    List<FrameTarget> targets = null;
    if (!item.failed() && item.scores != null) {
      targets = new ArrayList<>();
      for (int t = 0; t < item.scores.length; t++) {
        float[] h = item.heatmaps[t];
        double max = 0;
        double sum = 0;
        for (float v : h) {
          max = Math.max(max, v);
          sum += v;
        }
        targets.add(
            new FrameTarget(
                classIndex[t],
                targetClasses.get(t),
                item.empty[t] ? null : Json.finite((float) item.scores[t]),
                item.empty[t] ? Boolean.TRUE : null,
                Json.finite((float) max),
                Json.finite((float) (h.length == 0 ? 0 : sum / h.length))));
      }
    }
    Map<String, Double> timing = new LinkedHashMap<>();
    item.timingsMs.forEach((k, v) -> timing.put(k, Json.ms(v)));
    FrameLine line =
        new FrameLine(
            item.index,
            item.name,
            item.frame == null ? null : item.frame.getWidth(),
            item.frame == null ? null : item.frame.getHeight(),
            item.failed() ? item.error : null,
            targets,
            timing);
    String text = Json.line(line) + "\n";
    try {
      out.write(text);
      out.flush(); // a reader tailing the file sees whole lines as frames finish
      written++;
    } catch (IOException e) {
      throw failed(e);
    }
  }

  @Override
  public void finish() {
    try {
      release();
    } catch (IOException e) {
      throw failed(e);
    }
    if (file != null) {
      file.commit();
    }
    done = true;
  }

  // the file is closed; a stream given by the caller (stdout) is only flushed
  private void release() throws IOException {
    if (closeAtEnd) {
      out.close();
    } else {
      out.flush();
    }
  }

  @Override
  public void abort() {
    if (!done) {
      try {
        release();
      } catch (IOException ignored) {
        // the run already failed; that error is the one reported
      }
      if (file != null && written == 0) {
        file.discard();
      } else if (file != null) {
        file.release();
      }
    }
  }

  @Override
  public String leftover() {
    return done || file == null ? "" : file.leftover();
  }

  @Override
  public String describe() {
    return "JSON lines " + (file == null ? name : file.target.toString());
  }
}
