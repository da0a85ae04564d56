package dev.segcam.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.ExplainerPool;
import dev.segcam.cam.Target;
import dev.segcam.image.Images;
import dev.segcam.ir.FloatTensor;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.synth.SceneGenerator;
import dev.segcam.synth.SceneSamples;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.apache.spark.SparkException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark integration in local mode ({@code local[2,4]}: two task slots, up to four attempts per
 * task so that a retry can be tested), on the shipped scene-unet and its samples.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class SparkLocalTest {
  private static final Path MODEL = Path.of("weights/scene-unet");
  private static final Path SAMPLES = Path.of("samples");
  private static final String SAMPLE_GLOB = "scene_0[0-5].png";
  private static final List<String> TARGETS = List.of("1", "3", "0:whole", "2:box=0,0,32,32");
  private static final int FRAMES = 1000;

  private static SparkSession spark;

  @BeforeAll
  static void start() {
    spark =
        SparkSession.builder()
            .master("local[2,4]")
            .appName("segcam-test")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.hadoop.fs." + SchemeFs.SCHEME + ".impl", SchemeFs.class.getName())
            .getOrCreate();
    spark.sparkContext().setLogLevel("WARN");
  }

  @AfterAll
  static void stop() {
    if (spark != null) {
      spark.stop();
    }
    ExecutorPools.closeAll();
    assertEquals(0, ExecutorPools.open());
  }

  private static SegGradCamTransformer transformer() {
    return new SegGradCamTransformer()
        .setModelPath(MODEL.toString())
        .setTargets(TARGETS.toArray(String[]::new))
        .setBatchSize(4)
        // the same explainers and thread counts the reference below uses
        .setExplainersPerExecutor(2)
        .setThreadsPerExplainer(1);
  }

  /** Explainer's maps for one image file: one explainer, one thread, the same settings. */
  private static List<CamResult> reference(ExplainerPool pool, Path png) {
    List<Target> targets = ExplainSpec.parseTargets(TARGETS);
    FloatTensor img = Images.readTensor(png);
    return pool.withExplainer(
        ex -> ex.explain(img, targets, List.of(ex.defaultLayer()), CamMethod.GRAD_CAM));
  }

  @Test
  void mapsEqualExplainerBitwiseForBinaryAndImageSources() {
    Dataset<Row> binary =
        spark
            .read()
            .format("binaryFile")
            .option("pathGlobFilter", SAMPLE_GLOB)
            .load(SAMPLES.toString());
    Dataset<Row> images =
        spark.read().format("image").option("pathGlobFilter", SAMPLE_GLOB).load(SAMPLES.toString());
    List<Row> fromBinary =
        transformer()
            .setInputCol("content")
            .setHeatmapFloats(true)
            .transform(binary)
            .collectAsList();
    List<Row> fromImage =
        transformer().setInputCol("image").setHeatmapFloats(true).transform(images).collectAsList();
    assertEquals(6, fromBinary.size());
    assertEquals(6, fromImage.size());
    try (ExplainerPool pool =
        ExplainerPool.cpu(
            SavedModelImporter.load(MODEL).graph(), 1, 1, ex -> ex.emptyTargetsAsZero(true))) {
      int checked = 0;
      for (Row r : fromBinary) {
        checked += compare(pool, r.getString(r.fieldIndex("path")), r);
      }
      for (Row r : fromImage) {
        checked += compare(pool, r.getStruct(r.fieldIndex("image")).getString(0), r);
      }
      assertEquals(2 * 6 * TARGETS.size(), checked);
    }
  }

  private static int compare(ExplainerPool pool, String uri, Row row) {
    assertNull(row.getString(row.fieldIndex("segcam_error")), uri);
    Path file = Path.of(java.net.URI.create(uri));
    List<CamResult> ref = reference(pool, file);
    List<Row> cams = row.getList(row.fieldIndex("cams"));
    assertEquals(TARGETS.size(), cams.size(), uri);
    for (int t = 0; t < cams.size(); t++) {
      Row c = cams.get(t);
      CamResult e = ref.get(t);
      String where = file.getFileName() + " target " + TARGETS.get(t);
      assertEquals(t, c.getInt(c.fieldIndex("target")), where);
      assertEquals(e.target().classIndex(), c.getInt(c.fieldIndex("class")), where);
      assertEquals(e.layer(), c.getString(c.fieldIndex("layer")), where);
      assertEquals(
          Float.floatToIntBits(e.score()),
          Float.floatToIntBits(c.getFloat(c.fieldIndex("score"))),
          where + ": score " + e.score() + " vs " + c.getFloat(c.fieldIndex("score")));
      assertArrayEquals(e.weights(), floats(c.getList(c.fieldIndex("weights"))), where);
      float[] heat = floats(c.getList(c.fieldIndex("heatmap")));
      float[] want = e.heatmap().data();
      assertEquals(want.length, heat.length, where);
      for (int i = 0; i < want.length; i++) { // bitwise, every element
        if (Float.floatToIntBits(want[i]) != Float.floatToIntBits(heat[i])) {
          throw new AssertionError(where + ": heatmap[" + i + "] " + heat[i] + " != " + want[i]);
        }
      }
      assertArrayEquals(
          FrameExplainer.png(e.heatmap()), (byte[]) c.get(c.fieldIndex("heatmap_png")), where);
    }
    return cams.size();
  }

  private static float[] floats(List<Object> l) {
    float[] f = new float[l.size()];
    for (int i = 0; i < f.length; i++) {
      f[i] = (Float) l.get(i);
    }
    return f;
  }

  @Test
  void rddUsersGetOneResultPerFrameInOrder() throws Exception {
    List<Frame> frames = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      Path p = SAMPLES.resolve("scene_0" + i + ".png");
      frames.add(Frame.encoded(p.toString(), Files.readAllBytes(p)));
    }
    frames.add(3, Frame.encoded("broken.png", new byte[] {1, 2, 3}));
    ExplainSpec spec =
        ExplainSpec.of(MODEL.toString(), TARGETS)
            .withBatch(3)
            .withExplainers(2, 1)
            .withOutputs(true, true);
    List<FrameResult> out =
        new JavaSparkContext(spark.sparkContext())
            .parallelize(frames, 2)
            .mapPartitions(new FrameExplainer(spec))
            .collect();
    assertEquals(7, out.size());
    try (ExplainerPool pool =
        ExplainerPool.cpu(
            SavedModelImporter.load(MODEL).graph(), 1, 1, ex -> ex.emptyTargetsAsZero(true))) {
      for (int i = 0; i < out.size(); i++) {
        FrameResult r = out.get(i);
        assertEquals(frames.get(i).path(), r.path());
        if (i == 3) {
          assertTrue(r.failed() && r.error().startsWith("broken.png: "), r.error());
          continue;
        }
        assertNull(r.error());
        List<CamResult> ref = reference(pool, Path.of(r.path()));
        for (int t = 0; t < TARGETS.size(); t++) {
          assertArrayEquals(ref.get(t).heatmap().data(), r.cams().get(t).heatmap(), r.path());
          assertEquals(ref.get(t).score(), r.cams().get(t).score(), 0f, r.path());
        }
      }
    }
  }

  @Test
  void aModelOnAHadoopUriIsCopiedToLocalDiskOnceAndUsed() throws Exception {
    String uri = SchemeFs.SCHEME + "://" + MODEL.toAbsolutePath();
    Path cached = ModelFiles.cacheDir(uri);
    if (Files.exists(cached)) { // a copy left by an earlier run on this machine: copy afresh
      try (var walk = Files.walk(cached)) {
        for (Path f : (Iterable<Path>) walk.sorted(java.util.Comparator.reverseOrder())::iterator) {
          Files.delete(f);
        }
      }
    }
    Path frame = SAMPLES.resolve("scene_01.png");
    ExplainSpec spec =
        ExplainSpec.of(uri, List.of("1")).withExplainers(1, 1).withOutputs(false, true);
    List<FrameResult> out =
        new JavaSparkContext(spark.sparkContext())
            .parallelize(List.of(Frame.encoded(frame.toString(), Files.readAllBytes(frame))), 1)
            .mapPartitions(new FrameExplainer(spec))
            .collect();
    assertNull(out.get(0).error(), out.get(0).error());
    Path local = ModelFiles.local(uri);
    assertEquals(cached, local);
    assertTrue(Files.isRegularFile(local.resolve("saved_model.pb")), local.toString());
    try (ExplainerPool pool =
        ExplainerPool.cpu(
            SavedModelImporter.load(MODEL).graph(), 1, 1, ex -> ex.emptyTargetsAsZero(true))) {
      CamResult ref =
          pool.withExplainer(
                  ex ->
                      ex.explain(
                          Images.readTensor(frame),
                          List.of(Target.predicted(1)),
                          CamMethod.GRAD_CAM))
              .get(0);
      assertArrayEquals(ref.heatmap().data(), out.get(0).cams().get(0).heatmap());
    }
  }

  private static final StructType BINARY =
      new StructType()
          .add("path", DataTypes.StringType, false)
          .add("content", DataTypes.BinaryType, true);

  @Test
  void badImagesBecomeMarkedRowsOrFailTheJob() throws Exception {
    byte[] good = Files.readAllBytes(SAMPLES.resolve("scene_02.png"));
    List<Row> rows =
        List.of(
            RowFactory.create("good-1.png", good),
            RowFactory.create("text.png", "not an image".getBytes()),
            RowFactory.create("cut.png", Arrays.copyOf(good, good.length / 2)),
            RowFactory.create("empty.png", new byte[0]),
            RowFactory.create("null.png", null),
            RowFactory.create("good-2.png", good));
    Dataset<Row> df = spark.createDataFrame(rows, BINARY).repartition(1);
    SegGradCamTransformer t = transformer().setInputCol("content").setBatchSize(8);
    Map<String, Row> byPath = new HashMap<>();
    for (Row r : t.transform(df).collectAsList()) {
      byPath.put(r.getString(0), r);
    }
    assertEquals(6, byPath.size());
    for (String ok : List.of("good-1.png", "good-2.png")) {
      Row r = byPath.get(ok);
      assertNull(r.get(r.fieldIndex("segcam_error")), ok);
      assertEquals(TARGETS.size(), r.getList(r.fieldIndex("cams")).size());
    }
    for (String bad : List.of("text.png", "cut.png", "empty.png", "null.png")) {
      Row r = byPath.get(bad);
      String err = r.getString(r.fieldIndex("segcam_error"));
      assertNotNull(err, bad);
      assertTrue(err.startsWith(bad + ": "), err);
      assertTrue(r.isNullAt(r.fieldIndex("cams")), bad);
    }
    assertTrue(
        byPath.get("cut.png").getString(3).contains("truncated"),
        byPath.get("cut.png").getString(3));

    // the same frames with onError=fail: the job fails, naming the first bad frame
    SparkException e =
        assertThrows(
            SparkException.class, () -> t.setOnError("fail").transform(df).collectAsList());
    assertTrue(String.valueOf(rootMessage(e)).contains("text.png"), rootMessage(e));
  }

  private static String rootMessage(Throwable e) {
    StringBuilder s = new StringBuilder();
    for (Throwable c = e; c != null; c = c.getCause()) {
      s.append(c.getMessage()).append(" | ");
    }
    return s.toString();
  }

  @Test
  void aThousandGeneratedFramesWithARetriedTaskGiveOneRowEach(@TempDir Path tmp) throws Exception {
    long seed = new Random().nextLong();
    System.out.println("SparkLocalTest: frame seed " + seed);
    SceneGenerator gen = new SceneGenerator(64, 64);
    List<Row> rows = new ArrayList<>(FRAMES);
    for (int i = 0; i < FRAMES; i++) {
      ByteArrayOutputStream png = new ByteArrayOutputStream();
      ImageIO.write(SceneSamples.toImage(gen.generate(seed, i)), "png", png);
      rows.add(RowFactory.create("frame-" + i + ".png", png.toByteArray()));
    }
    Dataset<Row> frames = spark.createDataFrame(rows, BINARY).repartition(4);
    Dataset<Row> cams =
        new SegGradCamTransformer()
            .setModelPath(MODEL.toString())
            .setTargets("1", "3")
            .setInputCol("content")
            .setBatchSize(16)
            .transform(frames);
    // the first attempt of partition 0 dies after its frames were explained: the retry recomputes
    MapPartitionsFunction<Row, Row> flaky =
        it -> {
          TaskContext tc = TaskContext.get();
          if (tc.partitionId() == 0 && tc.attemptNumber() == 0) {
            while (it.hasNext()) {
              it.next();
            }
            throw new IllegalStateException("injected task failure (first attempt)");
          }
          return it;
        };
    Path out = tmp.resolve("cams.parquet");
    cams.mapPartitions(flaky, Encoders.row(cams.schema())).write().parquet(out.toString());

    Dataset<Row> back = spark.read().parquet(out.toString());
    assertEquals(FRAMES, back.count());
    assertEquals(FRAMES, back.select("path").distinct().count());
    assertEquals(0, back.filter("segcam_error IS NOT NULL").count());
    Set<Integer> sizes =
        new HashSet<>(back.selectExpr("size(cams)").as(Encoders.INT()).collectAsList());
    assertEquals(Set.of(2), sizes);
    assertTrue(ExecutorPools.open() >= 1, "the pools live on after the job, for the next one");
  }
}
