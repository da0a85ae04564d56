package dev.segcam.spark;

import dev.segcam.backend.BackendChoice;
import dev.segcam.cam.CamMethod;
import java.util.List;
import java.util.Locale;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;

/**
 * Seg-Grad-CAM as a Spark ML {@link Transformer}: a DataFrame of images in, the same rows out with
 * a column of per-target CAMs (class, layer, score, channel weights, heatmap as PNG and/or floats
 * at the model's size) and an error column.
 *
 * <pre>{@code
 * Dataset<Row> frames = spark.read().format("binaryFile").load("frames/*.png");
 * Dataset<Row> cams = new SegGradCamTransformer()
 *     .setModelPath("hdfs:///models/scene-unet")
 *     .setTargets("1", "3:whole")
 *     .setInputCol("content")
 *     .transform(frames);
 * cams.write().parquet("out/cams.parquet");
 * }</pre>
 *
 * <p>Each executor JVM builds one explainer pool per model and device, lazily, and closes it at
 * shutdown ({@link ExecutorPools}); see {@link RowExplainer} for the columns and {@link
 * FrameExplainer} for batching and failure behaviour.
 */
public final class SegGradCamTransformer extends Transformer {
  private static final long serialVersionUID = 1L;

  private final String uid;
  private final Param<String> modelPath;
  private final StringArrayParam targets;
  private final Param<String> layer;
  private final Param<String> method;
  private final IntParam batchSize;
  private final Param<String> backend;
  private final Param<String> onError;
  private final Param<String> inputCol;
  private final Param<String> pathCol;
  private final Param<String> outputCol;
  private final Param<String> errorCol;
  private final BooleanParam heatmapPng;
  private final BooleanParam heatmapFloats;
  private final IntParam explainersPerExecutor;
  private final IntParam threadsPerExplainer;

  public SegGradCamTransformer() {
    this(Identifiable.randomUID("segGradCam"));
  }

  public SegGradCamTransformer(String uid) {
    this.uid = uid;
    modelPath = new Param<>(this, "modelPath", "SavedModel directory: local path or Hadoop URI");
    targets =
        new StringArrayParam(
            this,
            "targets",
            "targets: C, C:predicted, C:component, C:whole, C:pixel=X,Y, C:box=...");
    layer = new Param<>(this, "layer", "feature layer (empty: the model's default layer)");
    method = new Param<>(this, "method", "gradcam, gradcam++, hirescam, xgradcam or layercam");
    batchSize = new IntParam(this, "batchSize", "frames per explainer call (>= 1)");
    backend = new Param<>(this, "backend", "auto (task's GPU, else CPU), cpu or cuda");
    onError = new Param<>(this, "onError", "a bad frame: 'mark' its row or 'fail' the task");
    inputCol = new Param<>(this, "inputCol", "image column: image struct or binary file bytes");
    pathCol = new Param<>(this, "pathCol", "path column naming binary frames");
    outputCol = new Param<>(this, "outputCol", "output column: array of per-target CAM structs");
    errorCol = new Param<>(this, "errorCol", "output column: error line, null when explained");
    heatmapPng = new BooleanParam(this, "heatmapPng", "add each heatmap as grey PNG bytes");
    heatmapFloats = new BooleanParam(this, "heatmapFloats", "add each heatmap as float array");
    explainersPerExecutor =
        new IntParam(this, "explainersPerExecutor", "explainers per executor (0: task slots)");
    threadsPerExplainer =
        new IntParam(this, "threadsPerExplainer", "CPU threads per explainer (0: cores/pool)");
    setDefault(layer, "");
    setDefault(method, "gradcam");
    setDefault(batchSize, 8);
    setDefault(backend, "auto");
    setDefault(onError, "mark");
    setDefault(inputCol, "image");
    setDefault(pathCol, "path");
    setDefault(outputCol, "cams");
    setDefault(errorCol, "segcam_error");
    setDefault(heatmapPng, true);
    setDefault(heatmapFloats, false);
    setDefault(explainersPerExecutor, 0);
    setDefault(threadsPerExplainer, 0);
  }

  @Override
  public String uid() {
    return uid;
  }

  // Param getters (Spark ML finds the params through these public no-argument methods)
  public Param<String> modelPath() {
    return modelPath;
  }

  public StringArrayParam targets() {
    return targets;
  }

  public Param<String> layer() {
    return layer;
  }

  public Param<String> method() {
    return method;
  }

  public IntParam batchSize() {
    return batchSize;
  }

  public Param<String> backend() {
    return backend;
  }

  public Param<String> onError() {
    return onError;
  }

  public Param<String> inputCol() {
    return inputCol;
  }

  public Param<String> pathCol() {
    return pathCol;
  }

  public Param<String> outputCol() {
    return outputCol;
  }

  public Param<String> errorCol() {
    return errorCol;
  }

  public BooleanParam heatmapPng() {
    return heatmapPng;
  }

  public BooleanParam heatmapFloats() {
    return heatmapFloats;
  }

  public IntParam explainersPerExecutor() {
    return explainersPerExecutor;
  }

  public IntParam threadsPerExplainer() {
    return threadsPerExplainer;
  }

  private SegGradCamTransformer put(Param<?> p, Object v) {
    @SuppressWarnings("unchecked")
    Param<Object> q = (Param<Object>) p;
    set(q, v);
    return this;
  }

  public SegGradCamTransformer setModelPath(String v) {
    return put(modelPath, v);
  }

  public SegGradCamTransformer setTargets(String... v) {
    return put(targets, v);
  }

  public SegGradCamTransformer setLayer(String v) {
    return put(layer, v == null ? "" : v);
  }

  public SegGradCamTransformer setMethod(String v) {
    return put(method, v);
  }

  public SegGradCamTransformer setBatchSize(int v) {
    return put(batchSize, v);
  }

  public SegGradCamTransformer setBackend(String v) {
    return put(backend, v);
  }

  public SegGradCamTransformer setOnError(String v) {
    return put(onError, v);
  }

  public SegGradCamTransformer setInputCol(String v) {
    return put(inputCol, v);
  }

  public SegGradCamTransformer setPathCol(String v) {
    return put(pathCol, v);
  }

  public SegGradCamTransformer setOutputCol(String v) {
    return put(outputCol, v);
  }

  public SegGradCamTransformer setErrorCol(String v) {
    return put(errorCol, v);
  }

  public SegGradCamTransformer setHeatmapPng(boolean v) {
    return put(heatmapPng, v);
  }

  public SegGradCamTransformer setHeatmapFloats(boolean v) {
    return put(heatmapFloats, v);
  }

  public SegGradCamTransformer setExplainersPerExecutor(int v) {
    return put(explainersPerExecutor, v);
  }

  public SegGradCamTransformer setThreadsPerExplainer(int v) {
    return put(threadsPerExplainer, v);
  }

  /** The parameters as the spec every task receives (checked here, on the driver). */
  public ExplainSpec spec() {
    if (!isDefined(modelPath)) {
      throw new SparkExplainException("set the model directory (setModelPath) first");
    }
    if (!isDefined(targets)) {
      throw new SparkExplainException("set at least one target (setTargets), e.g. \"3\"");
    }
    String l = getOrDefault(layer);
    return new ExplainSpec(
        getOrDefault(modelPath),
        List.of(getOrDefault(targets)),
        l.isEmpty() ? null : l,
        parseMethod(getOrDefault(method)),
        (Integer) getOrDefault(batchSize),
        BackendChoice.parse(getOrDefault(backend)),
        ExplainSpec.OnError.parse(getOrDefault(onError)),
        (Integer) getOrDefault(explainersPerExecutor),
        (Integer) getOrDefault(threadsPerExplainer),
        (Boolean) getOrDefault(heatmapPng),
        (Boolean) getOrDefault(heatmapFloats));
  }

  /** "gradcam", "gradcam++", "hirescam", "xgradcam", "layercam" or an enum name (any case). */
  static CamMethod parseMethod(String s) {
    String n = s == null ? "" : s.trim().toLowerCase(Locale.ROOT).replace("++", "plusplus");
    n = n.replace("_", "").replace("-", "");
    for (CamMethod m : CamMethod.values()) {
      if (m.name().toLowerCase(Locale.ROOT).replace("_", "").equals(n)) {
        return m;
      }
    }
    throw new SparkExplainException(
        "unknown method '" + s + "': expected gradcam, gradcam++, hirescam, xgradcam or layercam");
  }

  @Override
  public StructType transformSchema(StructType schema) {
    return RowExplainer.outputSchema(schema, getOrDefault(outputCol), getOrDefault(errorCol));
  }

  @Override
  public Dataset<Row> transform(Dataset<?> dataset) {
    StructType in = dataset.schema();
    StructType out = transformSchema(in);
    RowExplainer fn = new RowExplainer(spec(), in, getOrDefault(inputCol), getOrDefault(pathCol));
    return dataset.toDF().mapPartitions(fn, Encoders.row(out));
  }

  @Override
  public SegGradCamTransformer copy(ParamMap extra) {
    return defaultCopy(extra);
  }
}
