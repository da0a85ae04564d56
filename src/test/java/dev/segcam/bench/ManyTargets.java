package dev.segcam.bench;

import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.LabelMap;
import dev.segcam.cam.Prediction;
import dev.segcam.cam.Target;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.savedmodel.SavedModelImporter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Issue #14 point 3: the cost of K targets on one 512x512 image of the 124-class U-Net ({@link
 * BenchModels#UNET124}: Conv2DTranspose decoder, 1x1 classifier, Softmax), sparse score seeds
 * against the dense seeds of before (the same pipeline with {@code sparseSeeds(false)}), in one
 * JVM, the variants interleaved every iteration.
 *
 * <p>Each timed run is a whole {@code Explainer.explain}: forward, label map, seeds, one batched
 * backward, Grad-CAM steps, maps on the host. Targets: the most predicted classes (the predicted
 * region of each), completed with boxes of other classes when fewer are predicted. Heap: the sum of
 * the heap pools' peak use during a run (an upper bound of the true peak), after a GC. The last
 * step tries the dense seed with K targets once and records an OutOfMemoryError when the heap (run
 * it with -Xmx1536m) does not hold it.
 *
 * <pre>
 * java -Xmx1536m ... dev.segcam.bench.ManyTargets [--targets 9] [--iterations 5] [--threads N]
 *     [--java] [--out bench/results/many-targets-cpu.json]
 * </pre>
 */
public final class ManyTargets {
  private static final int SIZE = 512;

  public static void main(String[] args) {
    int k = 9;
    int iterations = 5;
    int threads = Runtime.getRuntime().availableProcessors();
    boolean java = false;
    Path out = Paths.get("bench/results/many-targets-cpu.json");
    Path dir = Paths.get("target/bench");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--targets" -> k = Integer.parseInt(args[++i]);
        case "--iterations" -> iterations = Integer.parseInt(args[++i]);
        case "--threads" -> threads = Integer.parseInt(args[++i]);
        case "--java" -> java = true;
        case "--out" -> out = Paths.get(args[++i]);
        case "--dir" -> dir = Paths.get(args[++i]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    BenchUnet.Exported e = BenchModels.export(BenchModels.UNET124, SIZE, dir, 15);
    Graph g = SavedModelImporter.load(e.dir()).graph();
    long imageSeed = System.nanoTime();
    FloatTensor image = image(new Random(imageSeed));
    StringBuilder notes = new StringBuilder();
    CpuCamBackend sparseB = CpuCamBackend.open(g, threads, java, notes::append);
    CpuCamBackend denseB = CpuCamBackend.open(g, threads, java, notes::append);
    denseB.sparseSeeds(false);
    try (Explainer sparse = new Explainer(sparseB);
        Explainer dense = new Explainer(denseB)) {
      String layer = sparse.defaultLayer();
      List<Target> targets = targets(sparse, image, layer, k);
      List<Target> one = targets.subList(0, 1);
      List<String> layers = List.of(layer);
      System.out.printf(
          Locale.ROOT,
          "unet124 %dx%d, engine %s, %d threads, layer %s, targets %s%n",
          SIZE,
          SIZE,
          sparseB.engine(),
          threads,
          layer,
          targets);
      // warm-up, and the two paths agree on the scores
      check(sparse.explain(image, targets, layers, CamMethod.GRAD_CAM), targets.size());
      dense.explain(image, one, layers, CamMethod.GRAD_CAM);
      double[][] ms = new double[3][iterations];
      double[][] heap = new double[3][iterations];
      String[] names = {"sparse_1", "dense_1", "sparse_" + k};
      for (int it = 0; it < iterations; it++) {
        for (int j = 0; j < 3; j++) {
          int v = (j + it) % 3; // rotate the order: load drifts hit every variant alike
          Explainer ex = v == 1 ? dense : sparse;
          List<Target> ts = v == 2 ? targets : one;
          double[] r = run(ex, image, ts, layers);
          ms[v][it] = r[0];
          heap[v][it] = r[1];
          System.out.printf(
              Locale.ROOT,
              "  iter %d %-9s %8.1f ms  heap peak %6.0f MB%n",
              it,
              names[v],
              r[0],
              r[1]);
        }
      }
      String denseK;
      try {
        double[] r = run(dense, image, targets, layers);
        denseK = String.format(Locale.ROOT, "{\"ms\": %.1f, \"heap_peak_mb\": %.0f}", r[0], r[1]);
      } catch (OutOfMemoryError oom) {
        denseK = "\"OutOfMemoryError: " + oom.getMessage() + "\"";
      }
      System.out.println("dense_" + k + " once: " + denseK);
      Stats s1 = Stats.of(ms[0]);
      Stats d1 = Stats.of(ms[1]);
      Stats sk = Stats.of(ms[2]);
      double ratio = sk.median() / s1.median();
      double vsMain = s1.median() / d1.median();
      System.out.printf(
          Locale.ROOT,
          "median: sparse 1 target %.0f ms, dense 1 target %.0f ms (sparse/dense %.2f),"
              + " sparse %d targets %.0f ms: %.2fx one target%n",
          s1.median(),
          d1.median(),
          vsMain,
          k,
          sk.median(),
          ratio);
      long maxHeap = Runtime.getRuntime().maxMemory();
      String json =
          String.format(
              Locale.ROOT,
              "{\n  \"benchmark\": \"many-targets\",\n  \"device\": %s,\n  \"cores\": %d,\n"
                  + "  \"threads\": %d,\n  \"engine\": %s,\n  \"date\": %s,\n  \"commit\": %s,\n"
                  + "  \"load_average_start\": %s,\n  \"load_average_end\": %s,\n"
                  + "  \"max_heap_mb\": %d,\n  \"model\": \"unet124 (BenchModels), %dx%d, 124"
                  + " classes, Conv2DTranspose decoder, Softmax\",\n  \"layer\": %s,\n"
                  + "  \"targets\": %s,\n  \"image_seed\": %d,\n  \"iterations\": %d,\n"
                  + "  \"ms\": {\"sparse_1\": %s, \"dense_1\": %s, \"sparse_%d\": %s},\n"
                  + "  \"heap_peak_mb_median\": {\"sparse_1\": %.0f, \"dense_1\": %.0f,"
                  + " \"sparse_%d\": %.0f},\n  \"dense_%d_once\": %s,\n"
                  + "  \"ratio_k_over_1\": %.3f,\n  \"ratio_sparse1_over_dense1\": %.3f\n}\n",
              Machine.jsonString(Machine.cpuModel() + " (CPU)"),
              Machine.cores(),
              threads,
              Machine.jsonString(sparseB.engine()),
              Machine.jsonString(Machine.nowUtc()),
              Machine.jsonString(Machine.commit()),
              Machine.loadJson(LOAD_START),
              Machine.loadJson(Machine.loadAverage()),
              maxHeap >> 20,
              SIZE,
              SIZE,
              Machine.jsonString(layer),
              Machine.jsonString(targets.toString()),
              imageSeed,
              iterations,
              s1.json(),
              d1.json(),
              k,
              sk.json(),
              Stats.of(heap[0]).median(),
              Stats.of(heap[1]).median(),
              k,
              Stats.of(heap[2]).median(),
              k,
              denseK,
              ratio,
              vsMain);
      Machine.write(out, json);
      System.out.println("wrote " + out);
    }
  }

  private static final double[] LOAD_START = Machine.loadAverage();

  private static FloatTensor image(Random rng) {
    float[] v = new float[SIZE * SIZE * 3];
    for (int i = 0; i < v.length; i++) {
      v[i] = rng.nextFloat();
    }
    return new FloatTensor(dev.segcam.ir.Shape.of(1, SIZE, SIZE, 3), v);
  }

  /** The k most predicted classes (predicted region), then boxes of the next classes. */
  private static List<Target> targets(Explainer ex, FloatTensor image, String layer, int k) {
    LabelMap lm;
    try (Prediction p = ex.predict(image, List.of(layer))) {
      lm = p.labels().get(0);
    }
    List<Integer> byCount =
        IntStream.range(0, 124)
            .boxed()
            .sorted(Comparator.comparingInt((Integer c) -> -lm.count(c)))
            .toList();
    List<Target> out = new ArrayList<>();
    for (int i = 0; i < k; i++) {
      int c = byCount.get(i);
      int q = SIZE / 4;
      out.add(
          lm.count(c) > 0
              ? Target.predicted(c)
              : Target.box(c, (i % 4) * q, (i / 4 % 4) * q, (i % 4 + 1) * q, (i / 4 % 4 + 1) * q));
    }
    return out;
  }

  private static void check(List<CamResult> r, int k) {
    if (r.size() != k) {
      throw new IllegalStateException("expected " + k + " results, got " + r.size());
    }
  }

  // -> {ms, heap peak MB}
  private static double[] run(Explainer ex, FloatTensor image, List<Target> ts, List<String> l) {
    System.gc();
    List<MemoryPoolMXBean> pools = new ArrayList<>();
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
      if (p.getType() == MemoryType.HEAP) {
        p.resetPeakUsage();
        pools.add(p);
      }
    }
    long t0 = System.nanoTime();
    List<CamResult> r = ex.explain(image, ts, l, CamMethod.GRAD_CAM);
    double ms = (System.nanoTime() - t0) / 1e6;
    check(r, ts.size());
    long peak = 0;
    for (MemoryPoolMXBean p : pools) {
      peak += p.getPeakUsage().getUsed();
    }
    return new double[] {ms, peak / 1048576.0};
  }
}
