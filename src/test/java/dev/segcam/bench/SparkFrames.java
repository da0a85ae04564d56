package dev.segcam.bench;

import dev.segcam.spark.ExecutorPools;
import dev.segcam.spark.SegGradCamTransformer;
import dev.segcam.synth.SceneGenerator;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.apache.spark.api.java.function.ForeachPartitionFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The local Spark job of issue 17, and its throughput against {@code segcam video} on one JVM, same
 * frames, same run (interleaved rounds).
 *
 * <p>1. Synthetic 64x64 scenes (SceneGenerator, a fixed seed) are encoded by ffmpeg as an H.264
 * video and extracted again with ffmpeg into PNG frames (what a user with a video does). 2. A
 * local[2] Spark session reads samples/scene_0?.png and the extracted frames with the {@code
 * binaryFile} source, runs {@link SegGradCamTransformer} (classes 1 and 3, predicted region,
 * Grad-CAM at the default layer, batch 16), writes Parquet (all columns, the heatmaps as PNG
 * bytes), then reads the Parquet back and writes each heatmap as a PNG file. 3. {@code segcam video
 * MODEL FRAMES OUTDIR --class 1 --class 3 --batch 16 --backend cpu} explains the same frames on one
 * JVM (overlay PNG per frame), started as its own process with the shaded jar.
 *
 * <p>Args: [frames=1000] [rounds=2] [out=bench/results/spark-frames-cpu.json]
 * [work=target/spark-frames] [jar=target/segcam-0.1.0-SNAPSHOT-all.jar]
 */
public final class SparkFrames {
  private static final Path MODEL = Path.of("weights/scene-unet");
  private static final int SIZE = 64;
  private static final long SEED = 17;
  private static final int BATCH = 16;
  private static final String MASTER = "local[2]";

  public static void main(String[] args) throws Exception {
    int frames = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 2;
    Path out = Path.of(args.length > 2 ? args[2] : "bench/results/spark-frames-cpu.json");
    Path work = Path.of(args.length > 3 ? args[3] : "target/spark-frames").toAbsolutePath();
    Path jar = Path.of(args.length > 4 ? args[4] : "target/segcam-0.1.0-SNAPSHOT-all.jar");
    double[] loadStart = Machine.loadAverage();
    deleteTree(work);
    Path video = work.resolve("scenes.mp4");
    Path framesDir = work.resolve("frames");
    Files.createDirectories(framesDir);
    encodeVideo(frames, video);
    run(
        List.of(
            "ffmpeg",
            "-v",
            "error",
            "-i",
            video.toString(),
            "-start_number",
            "0",
            framesDir.resolve("frame_%06d.png").toString()));
    long extracted;
    try (Stream<Path> s = Files.list(framesDir)) {
      extracted = s.count();
    }
    if (extracted != frames) {
      throw new IllegalStateException("ffmpeg extracted " + extracted + " frames, not " + frames);
    }

    long t0 = System.nanoTime();
    SparkSession spark =
        SparkSession.builder()
            .master(MASTER)
            .appName("segcam-spark-frames")
            .config("spark.ui.enabled", "false")
            .getOrCreate();
    spark.sparkContext().setLogLevel("WARN");
    double sessionS = (System.nanoTime() - t0) / 1e9;
    // the samples job also builds the executor's explainer pool (import once per JVM)
    double samplesS = sparkJob(spark, "samples", "scene_0[0-5].png", work, 6);
    List<Double> sparkS = new ArrayList<>();
    List<Double> videoS = new ArrayList<>();
    for (int r = 0; r < rounds; r++) {
      videoS.add(videoRun(jar, framesDir, work.resolve("video-" + r)));
      System.out.printf(Locale.ROOT, "segcam video round %d: %.1f s%n", r, videoS.get(r));
      sparkS.add(sparkJob(spark, "frames-" + r, "*.png", work, frames));
      System.out.printf(Locale.ROOT, "spark job round %d: %.1f s%n", r, sparkS.get(r));
    }
    spark.stop();
    ExecutorPools.closeAll();

    double sparkMed = Stats.of(toArray(sparkS)).median();
    double videoMed = Stats.of(toArray(videoS)).median();
    StringBuilder j = new StringBuilder("{\n");
    j.append("  \"program\": \"dev.segcam.bench.SparkFrames\",\n");
    j.append("  \"date\": ").append(Machine.jsonString(Machine.nowUtc())).append(",\n");
    j.append("  \"commit\": ").append(Machine.jsonString(Machine.commit())).append(",\n");
    j.append("  \"device\": ")
        .append(Machine.jsonString(Machine.cpuModel() + ", " + Machine.cores() + " cores, CPU"))
        .append(",\n");
    j.append("  \"load_average\": {\"start\": ")
        .append(Machine.loadJson(loadStart))
        .append(", \"end\": ")
        .append(Machine.loadJson(Machine.loadAverage()))
        .append("},\n");
    j.append("  \"java\": ")
        .append(Machine.jsonString(System.getProperty("java.vm.version")))
        .append(",\n");
    j.append("  \"spark\": ").append(Machine.jsonString(spark.version())).append(",\n");
    j.append("  \"run\": ")
        .append(
            Machine.jsonString(
                frames
                    + " synthetic 64x64 scenes (SceneGenerator seed "
                    + SEED
                    + ") encoded by ffmpeg (libx264, yuv420p) and extracted again as PNG; classes 1"
                    + " and 3, predicted region, grad-cam at the default layer, batch "
                    + BATCH
                    + ", CPU backend"))
        .append(",\n");
    j.append("  \"frames\": ").append(frames).append(",\n");
    j.append("  \"spark_job\": {\"master\": \"")
        .append(MASTER)
        .append("\", \"explainers\": 2, \"threads_each\": 1, \"does\": ")
        .append(
            Machine.jsonString(
                "binaryFile read, decode, explain, heatmap PNG encode, Parquet write, Parquet read"
                    + " back, one PNG file per frame and target"))
        .append(", \"session_start_s\": ")
        .append(fmt(sessionS))
        .append(", \"samples_job_s\": ")
        .append(fmt(samplesS))
        .append(", \"seconds\": ")
        .append(list(sparkS))
        .append(", \"median_s\": ")
        .append(fmt(sparkMed))
        .append(", \"frames_per_s\": ")
        .append(fmt(frames / sparkMed))
        .append("},\n");
    j.append("  \"segcam_video\": {\"command\": ")
        .append(
            Machine.jsonString(
                "java -jar "
                    + jar.getFileName()
                    + " video weights/scene-unet FRAMES OUT --class 1 --class 3 --batch "
                    + BATCH
                    + " --backend cpu"))
        .append(", \"does\": ")
        .append(
            Machine.jsonString(
                "one JVM (start and import included): decode, explain (engine on all cores),"
                    + " overlay, one overlay PNG per frame"))
        .append(", \"seconds\": ")
        .append(list(videoS))
        .append(", \"median_s\": ")
        .append(fmt(videoMed))
        .append(", \"frames_per_s\": ")
        .append(fmt(frames / videoMed))
        .append("},\n");
    j.append("  \"spark_over_video_throughput\": ").append(fmt(videoMed / sparkMed)).append("\n");
    j.append("}\n");
    Machine.write(out, j.toString());
    System.out.print(j);
  }

  /** Reads frames with binaryFile, explains, writes Parquet then PNGs; returns wall seconds. */
  private static double sparkJob(
      SparkSession spark, String name, String glob, Path work, long expect) throws IOException {
    Path dir =
        name.equals("samples") ? Path.of("samples").toAbsolutePath() : work.resolve("frames");
    Path parquet = work.resolve("spark").resolve(name + ".parquet");
    Path pngs = work.resolve("spark").resolve(name + "-png");
    long t0 = System.nanoTime();
    Dataset<Row> in =
        spark.read().format("binaryFile").option("pathGlobFilter", glob).load(dir.toString());
    Dataset<Row> cams =
        new SegGradCamTransformer()
            .setModelPath(MODEL.toAbsolutePath().toString())
            .setTargets("1", "3")
            .setInputCol("content")
            .setBatchSize(BATCH)
            .setBackend("cpu")
            .transform(in)
            .drop("content");
    cams.write().mode("overwrite").parquet(parquet.toString());
    Dataset<Row> back = spark.read().parquet(parquet.toString());
    String pngDir = pngs.toString();
    back.foreachPartition((ForeachPartitionFunction<Row>) rows -> writePngs(rows, pngDir));
    double s = (System.nanoTime() - t0) / 1e9;
    long n = back.count();
    long errors = back.filter("segcam_error IS NOT NULL").count();
    if (n != expect || errors != 0) {
      throw new IllegalStateException(name + ": " + n + " rows, " + errors + " errors");
    }
    return s;
  }

  // one PNG per frame and target, written under a temporary name and renamed (a retried task
  // rewrites the same names)
  private static void writePngs(java.util.Iterator<Row> rows, String dir) throws IOException {
    Path d = Path.of(dir);
    Files.createDirectories(d);
    while (rows.hasNext()) {
      Row r = rows.next();
      String file =
          Path.of(java.net.URI.create(r.getString(r.fieldIndex("path")))).getFileName().toString();
      String stem = file.replaceFirst("\\.[^.]*$", "");
      List<Row> cams = r.getList(r.fieldIndex("cams"));
      for (Row c : cams) {
        Path to =
            d.resolve(stem + "." + c.getString(c.fieldIndex("spec")).replace(':', '-') + ".png");
        Path tmp = d.resolve("." + to.getFileName() + ".tmp");
        Files.write(tmp, (byte[]) c.get(c.fieldIndex("heatmap_png")));
        Files.move(tmp, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      }
    }
  }

  private static double videoRun(Path jar, Path frames, Path outDir) {
    long t0 = System.nanoTime();
    run(
        List.of(
            "java",
            "-jar",
            jar.toString(),
            "video",
            MODEL.toString(),
            frames.toString(),
            outDir.toString(),
            "--class",
            "1",
            "--class",
            "3",
            "--batch",
            String.valueOf(BATCH),
            "--backend",
            "cpu"));
    return (System.nanoTime() - t0) / 1e9;
  }

  private static void encodeVideo(int frames, Path video) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
                "-s",
                SIZE + "x" + SIZE,
                "-r",
                "25",
                "-i",
                "-",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-crf",
                "18",
                video.toString())
            .redirectOutput(ProcessBuilder.Redirect.INHERIT)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    SceneGenerator gen = new SceneGenerator(SIZE, SIZE);
    byte[] rgb = new byte[SIZE * SIZE * 3];
    try (OutputStream o = p.getOutputStream()) {
      for (int i = 0; i < frames; i++) {
        float[] f = gen.generate(SEED, i).rgb();
        for (int k = 0; k < rgb.length; k++) {
          rgb[k] = (byte) Math.round(Math.max(0f, Math.min(1f, f[k])) * 255f);
        }
        o.write(rgb);
      }
    }
    if (p.waitFor() != 0) {
      throw new IllegalStateException("ffmpeg encoding failed (exit " + p.exitValue() + ")");
    }
  }

  private static void run(List<String> cmd) {
    try {
      Process p = new ProcessBuilder(cmd).inheritIO().start();
      if (p.waitFor() != 0) {
        throw new IllegalStateException(String.join(" ", cmd) + ": exit " + p.exitValue());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(String.join(" ", cmd), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static double[] toArray(List<Double> l) {
    return l.stream().mapToDouble(Double::doubleValue).toArray();
  }

  private static String fmt(double v) {
    return String.format(Locale.ROOT, "%.2f", v);
  }

  private static String list(List<Double> l) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < l.size(); i++) {
      b.append(i == 0 ? "" : ", ").append(fmt(l.get(i)));
    }
    return b.append(']').toString();
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> w = Files.walk(p)) {
      for (Path f : (Iterable<Path>) w.sorted(Comparator.reverseOrder())::iterator) {
        Files.delete(f);
      }
    }
  }
}
