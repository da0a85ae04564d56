package dev.segcam.spark;

import dev.segcam.backend.BackendChoice;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.Target;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * What a Spark job explains, shipped to every executor with the task (serializable, immutable): the
 * model (a local path or any Hadoop filesystem URI), the targets, the layer, the method, how frames
 * are batched and what a bad frame does.
 *
 * <p>Targets are strings so that they travel as plain data: {@code "3"} or {@code "3:predicted"}
 * (the pixels predicted as class 3, as in Seg-Grad-CAM), {@code "3:component"}, {@code "3:whole"},
 * {@code "3:pixel=X,Y"}, {@code "3:box=X0,Y0,X1,Y1"} (coordinates in the model's output grid).
 *
 * @param model SavedModel directory: a local path, {@code file:} URI or any Hadoop URI ({@code
 *     hdfs://}, {@code s3a://}, ...), copied to the executor's local disk once
 * @param targets one or more target specs (see above); a class predicted nowhere in a frame gives a
 *     NaN score and zero maps for that frame, as {@code segcam video} does
 * @param layer the feature layer, or null for the model's default layer
 * @param batch frames per explainer call inside a partition (at least 1)
 * @param backend auto (the GPU Spark assigned to the task, else the CPU), cpu or cuda
 * @param onError what a frame that cannot be decoded or explained does
 * @param explainers explainers per executor JVM (0: one per core / threadsEach)
 * @param threadsEach CPU threads per explainer (0: cores / explainers, at least 1)
 * @param png whether to add each heatmap as an 8-bit grey PNG
 * @param floats whether to add each heatmap as a float array (row-major, model's size)
 */
public record ExplainSpec(
    String model,
    List<String> targets,
    String layer,
    CamMethod method,
    int batch,
    BackendChoice backend,
    OnError onError,
    int explainers,
    int threadsEach,
    boolean png,
    boolean floats)
    implements Serializable {

  /** A frame that cannot be decoded or explained: fail the task, or mark its row and go on. */
  public enum OnError {
    FAIL,
    MARK;

    public static OnError parse(String s) {
      for (OnError e : values()) {
        if (e.name().equalsIgnoreCase(s == null ? "" : s.trim())) {
          return e;
        }
      }
      throw new SparkExplainException("onError must be 'fail' or 'mark', got '" + s + "'");
    }
  }

  public ExplainSpec {
    if (model == null || model.isBlank()) {
      throw new SparkExplainException("no model directory given");
    }
    if (targets == null || targets.isEmpty()) {
      throw new SparkExplainException("no targets given: name at least one class, e.g. \"3\"");
    }
    targets = List.copyOf(targets);
    parseTargets(targets); // fail on the driver, not in every task
    if (method == null || backend == null || onError == null) {
      throw new SparkExplainException("method, backend and onError must not be null");
    }
    if (batch < 1) {
      throw new SparkExplainException("batch must be >= 1, got " + batch);
    }
    if (explainers < 0 || threadsEach < 0) {
      throw new SparkExplainException(
          "explainers and threadsEach must be >= 0 (0 = automatic), got "
              + explainers
              + " and "
              + threadsEach);
    }
    if (!png && !floats) {
      throw new SparkExplainException("ask for the heatmap as PNG, as floats, or both");
    }
  }

  /** Defaults: default layer, Grad-CAM, batches of 8, auto backend, mark bad frames, PNG only. */
  public static ExplainSpec of(String model, List<String> targets) {
    return new ExplainSpec(
        model,
        targets,
        null,
        CamMethod.GRAD_CAM,
        8,
        BackendChoice.AUTO,
        OnError.MARK,
        0,
        0,
        true,
        false);
  }

  public ExplainSpec withLayer(String l) {
    return with(c -> c.layer = l);
  }

  public ExplainSpec withMethod(CamMethod m) {
    return with(c -> c.method = m);
  }

  public ExplainSpec withBatch(int b) {
    return with(c -> c.batch = b);
  }

  public ExplainSpec withBackend(BackendChoice b) {
    return with(c -> c.backend = b);
  }

  public ExplainSpec withOnError(OnError e) {
    return with(c -> c.onError = e);
  }

  public ExplainSpec withExplainers(int n, int threads) {
    return with(
        c -> {
          c.explainers = n;
          c.threadsEach = threads;
        });
  }

  public ExplainSpec withOutputs(boolean asPng, boolean asFloats) {
    return with(
        c -> {
          c.png = asPng;
          c.floats = asFloats;
        });
  }

  /** This spec with the fields {@code edit} sets on a copy of them (checked again on creation). */
  private ExplainSpec with(Consumer<Fields> edit) {
    Fields c = new Fields(this);
    edit.accept(c);
    return new ExplainSpec(
        c.model,
        c.targets,
        c.layer,
        c.method,
        c.batch,
        c.backend,
        c.onError,
        c.explainers,
        c.threadsEach,
        c.png,
        c.floats);
  }

  /** A spec's fields, mutable, for the withers. */
  private static final class Fields {
    final String model;
    final List<String> targets;
    String layer;
    CamMethod method;
    int batch;
    BackendChoice backend;
    OnError onError;
    int explainers;
    int threadsEach;
    boolean png;
    boolean floats;

    Fields(ExplainSpec s) {
      model = s.model;
      targets = s.targets;
      layer = s.layer;
      method = s.method;
      batch = s.batch;
      backend = s.backend;
      onError = s.onError;
      explainers = s.explainers;
      threadsEach = s.threadsEach;
      png = s.png;
      floats = s.floats;
    }
  }

  /** The targets as segcam {@link Target}s, in order. */
  public List<Target> parsedTargets() {
    return parseTargets(targets);
  }

  static List<Target> parseTargets(List<String> specs) {
    List<Target> out = new ArrayList<>();
    for (String s : specs) {
      out.add(parseTarget(s));
    }
    return out;
  }

  /** "3", "3:predicted", "3:component", "3:whole", "3:pixel=X,Y", "3:box=X0,Y0,X1,Y1". */
  public static Target parseTarget(String spec) {
    if (spec == null) {
      throw new SparkExplainException("a target spec is null");
    }
    String s = spec.trim().toLowerCase(Locale.ROOT);
    int colon = s.indexOf(':');
    String cls = colon < 0 ? s : s.substring(0, colon);
    String region = colon < 0 ? "predicted" : s.substring(colon + 1);
    int c;
    try {
      c = Integer.parseInt(cls);
    } catch (NumberFormatException e) {
      throw bad(spec, "the class must be an index");
    }
    if (c < 0) {
      throw bad(spec, "the class must be >= 0");
    }
    if (region.equals("predicted")) {
      return Target.predicted(c);
    }
    if (region.equals("component")) {
      return Target.largestComponent(c);
    }
    if (region.equals("whole")) {
      return Target.image(c);
    }
    if (region.startsWith("pixel=")) {
      int[] v = ints(spec, region.substring(6), 2);
      return Target.pixel(c, v[0], v[1]);
    }
    if (region.startsWith("box=")) {
      int[] v = ints(spec, region.substring(4), 4);
      if (v[0] >= v[2] || v[1] >= v[3]) {
        throw bad(spec, "the box needs X0 < X1 and Y0 < Y1");
      }
      return Target.box(c, v[0], v[1], v[2], v[3]);
    }
    throw bad(spec, "unknown region '" + region + "'");
  }

  private static int[] ints(String spec, String csv, int n) {
    String[] p = csv.split(",", -1);
    if (p.length != n) {
      throw bad(spec, "expected " + n + " comma-separated integers after '='");
    }
    int[] v = new int[n];
    for (int i = 0; i < n; i++) {
      try {
        v[i] = Integer.parseInt(p[i].trim());
      } catch (NumberFormatException e) {
        throw bad(spec, "'" + p[i] + "' is not an integer");
      }
      if (v[i] < 0) {
        throw bad(spec, "coordinates must be >= 0");
      }
    }
    return v;
  }

  private static SparkExplainException bad(String spec, String why) {
    return new SparkExplainException(
        "bad target '"
            + spec
            + "': "
            + why
            + " (expected C, C:predicted, C:component, C:whole, C:pixel=X,Y or"
            + " C:box=X0,Y0,X1,Y1)");
  }
}
