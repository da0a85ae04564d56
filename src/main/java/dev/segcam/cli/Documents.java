package dev.segcam.cli;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.segcam.io.Json;
import java.util.ArrayList;
import java.util.List;

/**
 * The schemas of the JSON documents the CLI writes, one record each (members in snake_case, in this
 * order; README "JSON documents" describes them). {@link Json} writes and reads them.
 */
final class Documents {
  private Documents() {}

  /** DIR/IMAGE/explain.json: one image's run. */
  record ExplainImage(
      String segcam,
      String image,
      int[] imageSize,
      int[] inputSize,
      boolean resized,
      String model,
      String backend,
      String backendReason,
      String method,
      String scoreMode,
      List<ClassCount> classes,
      ImageTimings timingsMs,
      List<Result> results,
      String segmentation,
      List<String> panels,
      List<String> panelsFull) {}

  /** A class of the model and how many output pixels predict it. */
  record ClassCount(int index, String name, long predictedPixels) {}

  /** Milliseconds of one image's stages. */
  record ImageTimings(
      @JsonProperty("import") double importMs,
      double forward,
      double backward,
      double cam,
      double write,
      double imageTotal) {}

  /** One (target, layer) map. */
  record Result(
      Target target,
      String layer,
      int[] layerSize,
      String method,
      Float score,
      Float heatMax,
      @JsonInclude(JsonInclude.Include.ALWAYS) List<Float> weights,
      String heatmap,
      String overlay,
      String overlayFull,
      String guided,
      String guidedGradCam) {}

  /** What was explained: a class over a region. */
  record Target(@JsonProperty("class") int classIndex, String name, String region) {}

  /** {@code explain --json} on stdout: the run, with every image's document. */
  record ExplainRun(String out, List<ExplainImage> images, List<Skipped> skipped, double totalMs) {}

  /** An image that failed under --keep-going, with the error's line. */
  record Skipped(String image, String error) {}

  /** {@code bench --json FILE}. */
  record Bench(
      String benchmark,
      String device,
      String backend,
      String date,
      String commit,
      String model,
      String layer,
      int[] input,
      int batchRequested,
      int iterations,
      int warmup,
      Quantiles ms,
      double framesPerS,
      Latency latency) {}

  /**
   * {@code bench --latency}: batch-1 frame times after the warm-up, the collector's pauses over the
   * timed frames, and the heap allocated per frame by all threads (null without --latency).
   */
  record Latency(
      double p50Ms,
      double p99Ms,
      double maxMs,
      long gcCount,
      long gcMs,
      double allocatedBytesPerFrame) {}

  /** Median and the 10th and 90th percentiles, in ms. */
  record Quantiles(double median, double p10, double p90) {}

  /** Channel weights as a list, non-finite ones null; null when the method has none. */
  static List<Float> weights(float[] w) {
    if (w == null) {
      return null;
    }
    List<Float> l = new ArrayList<>(w.length);
    for (float v : w) {
      l.add(Json.finite(v));
    }
    return l;
  }
}
