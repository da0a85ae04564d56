package dev.segcam.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The partition function behind {@link SegGradCamTransformer}, usable on its own with {@code
 * Dataset.mapPartitions} or {@code JavaRDD<Row>.mapPartitions}: each input row comes out with two
 * more columns, the per-target CAMs and an error string (null when the frame was explained).
 *
 * <p>The image column is either Spark's image schema (a struct with {@code origin, height, width,
 * nChannels, mode, data}, from {@code spark.read.format("image")}) or binary file bytes (from
 * {@code format("binaryFile")}, whose {@code path} column then names the frame).
 */
public final class RowExplainer
    implements MapPartitionsFunction<Row, Row>, FlatMapFunction<Iterator<Row>, Row> {
  private static final long serialVersionUID = 1L;

  /** The struct of one target's CAM in the output column (an array, one per target). */
  public static final StructType CAM =
      new StructType(
          new StructField[] {
            DataTypes.createStructField("target", DataTypes.IntegerType, false),
            DataTypes.createStructField("spec", DataTypes.StringType, false),
            DataTypes.createStructField("class", DataTypes.IntegerType, false),
            DataTypes.createStructField("layer", DataTypes.StringType, false),
            DataTypes.createStructField("score", DataTypes.FloatType, false),
            DataTypes.createStructField(
                "weights", DataTypes.createArrayType(DataTypes.FloatType, false), true),
            DataTypes.createStructField("height", DataTypes.IntegerType, false),
            DataTypes.createStructField("width", DataTypes.IntegerType, false),
            DataTypes.createStructField(
                "heatmap", DataTypes.createArrayType(DataTypes.FloatType, false), true),
            DataTypes.createStructField("heatmap_png", DataTypes.BinaryType, true),
          });

  private final FrameExplainer explainer;
  private final int batch;
  private final int imageIndex;
  private final boolean imageSchema;
  private final int pathIndex;

  /**
   * @param spec what to explain
   * @param input the input rows' schema
   * @param imageCol the image column (image struct or binary)
   * @param pathCol the path column for binary input (ignored for the image struct, whose {@code
   *     origin} names the frame); may be null
   */
  public RowExplainer(ExplainSpec spec, StructType input, String imageCol, String pathCol) {
    this.explainer = new FrameExplainer(spec);
    this.batch = spec.batch();
    this.imageIndex = fieldIndex(input, imageCol);
    DataType t = input.fields()[imageIndex].dataType();
    this.imageSchema = isImageStruct(t);
    if (!imageSchema && !(t instanceof BinaryType)) {
      throw new SparkExplainException(
          "column '"
              + imageCol
              + "' is "
              + t.simpleString()
              + "; expected Spark's image struct (format(\"image\")) or binary file bytes"
              + " (format(\"binaryFile\"))");
    }
    this.pathIndex =
        imageSchema || pathCol == null || !Arrays.asList(input.fieldNames()).contains(pathCol)
            ? -1
            : input.fieldIndex(pathCol);
  }

  /** The input schema with the CAM array and error columns appended. */
  public static StructType outputSchema(StructType input, String camsCol, String errorCol) {
    for (String c : new String[] {camsCol, errorCol}) {
      if (Arrays.asList(input.fieldNames()).contains(c)) {
        throw new SparkExplainException(
            "the input already has a column '" + c + "'; choose another output column name");
      }
    }
    return input
        .add(camsCol, new ArrayType(CAM, false), true)
        .add(errorCol, DataTypes.StringType, true);
  }

  @Override
  public Iterator<Row> call(Iterator<Row> rows) {
    return new Batching<>(rows, this::explainRows, batch);
  }

  private List<Row> explainRows(List<Row> rows) {
    List<Frame> frames = new ArrayList<>(rows.size());
    for (int i = 0; i < rows.size(); i++) {
      frames.add(frame(rows.get(i), i));
    }
    List<FrameResult> results = explainer.explain(frames);
    List<Row> out = new ArrayList<>(rows.size());
    for (int i = 0; i < rows.size(); i++) {
      out.add(append(rows.get(i), results.get(i)));
    }
    return out;
  }

  private Frame frame(Row r, int i) {
    if (imageSchema) {
      Row img = r.isNullAt(imageIndex) ? null : r.getStruct(imageIndex);
      String origin = img == null || img.isNullAt(0) ? "row " + i : img.getString(0);
      if (img == null) {
        return Frame.decoded(origin, 0, 0, 0, null); // decode names it as not an image
      }
      return Frame.decoded(
          origin,
          img.getInt(img.fieldIndex("height")),
          img.getInt(img.fieldIndex("width")),
          img.getInt(img.fieldIndex("nChannels")),
          (byte[]) img.get(img.fieldIndex("data")));
    }
    String path = pathIndex >= 0 && !r.isNullAt(pathIndex) ? r.getString(pathIndex) : "row " + i;
    byte[] bytes = r.isNullAt(imageIndex) ? new byte[0] : (byte[]) r.get(imageIndex);
    return Frame.encoded(path, bytes);
  }

  private static Row append(Row in, FrameResult res) {
    Object[] v = new Object[in.length() + 2];
    for (int i = 0; i < in.length(); i++) {
      v[i] = in.get(i);
    }
    List<Row> cams = new ArrayList<>(res.cams().size());
    for (FrameResult.Cam c : res.cams()) {
      cams.add(
          RowFactory.create(
              c.target(),
              c.spec(),
              c.classIndex(),
              c.layer(),
              c.score(),
              c.weights(),
              c.height(),
              c.width(),
              c.heatmap(),
              c.png()));
    }
    // the Row encoder takes arrays of structs as Scala sequences (primitive arrays as they are)
    v[in.length()] = res.failed() ? null : CollectionConverters.asScala(cams).toSeq();
    v[in.length() + 1] = res.error();
    return RowFactory.create(v);
  }

  static boolean isImageStruct(DataType t) {
    if (!(t instanceof StructType s)) {
      return false;
    }
    List<String> names = Arrays.asList(s.fieldNames());
    return names.containsAll(List.of("origin", "height", "width", "nChannels", "data"));
  }

  private static int fieldIndex(StructType s, String name) {
    if (name == null || !Arrays.asList(s.fieldNames()).contains(name)) {
      throw new SparkExplainException(
          "no column '"
              + name
              + "' in the input; its columns: "
              + String.join(", ", s.fieldNames()));
    }
    return s.fieldIndex(name);
  }
}
