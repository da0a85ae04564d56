package dev.segcam.bench;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.Normalization;
import dev.segcam.backend.SeedMode;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.backend.cpu.CpuOpTable;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.backend.onednn.OneDnnContext;
import dev.segcam.backend.onednn.OneDnnOpTable;
import dev.segcam.backend.onednn.OneDnnProbe;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.Target;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.SavedModelImporter;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

/**
 * Seg-Grad-CAM on segcam's CPU engine against TensorFlow-CPU computing the same map for the same
 * model, in one JVM. A program, not a test: it prints and saves figures.
 *
 * <ol>
 *   <li>builds a ~1.9M-parameter U-Net ({@link BenchUnet}) with TensorFlow Java, exports it as a
 *       SavedModel under target/bench/, imports it with segcam;
 *   <li>segcam: {@link Explainer} on {@link CpuEngine} + CpuBackward (forward, masked class score,
 *       backward to the layer, channel-mean weights, weighted sum + ReLU, bilinear upsampling,
 *       min-max normalisation, argmax label map) for one image and one box target;
 *   <li>TensorFlow: {@link TfGradCam}, the same steps as TF ops in one Session.run (activation and
 *       addGradients gradient of the same score), results copied to Java arrays;
 *   <li>checks the two agree (weights, raw map, upsampled map, heatmap) before any timing;
 *   <li>warm-up, then interleaved timing (the order alternates each iteration), medians and p10/p90
 *       and their ratio;
 *   <li>a phase split (forward / seed / backward / CAM steps for segcam, forward-only for TF) and a
 *       JFR sampling profile of segcam's part;
 *   <li>writes the JSON result (device, date, commit, load average, model, threads, timings).
 * </ol>
 *
 * Args (all optional): {@code --size 256 --classes 4 --class 1 --layer bottleneck_b/relu
 * --iterations 20 --warmup 3 --threads <cores> --tf-inter-threads <threads> --phase-iterations 5
 * --profile-iterations 5 --out bench/results/cpu-vs-tensorflow.json --seed 20261123
 * --node-profile-reps 0 --engine onednn|java}. {@code --node-profile-reps N} prints per-node
 * forward/backward tables (turns on CpuBackward's timer for the whole run); with {@code
 * --iterations 0} it stops there.
 */
public final class CpuVsTensorflow {
  /** Agreement of the two maps: |tf - segcam| <= atol + rtol |tf|, atol scaled to the map. */
  static final double RTOL = 1e-3;

  /** atol as a fraction of the reference's largest magnitude (maps cancel near zero). */
  static final double ATOL_OF_MAX = 1e-4;

  private CpuVsTensorflow() {}

  public static void main(String[] args) {
    Map<String, String> o = parse(args);
    int size = Integer.parseInt(o.getOrDefault("size", "256"));
    int classes = Integer.parseInt(o.getOrDefault("classes", "4"));
    int cls = Integer.parseInt(o.getOrDefault("class", "1"));
    String layerTf = o.getOrDefault("layer", "bottleneck_b/relu");
    int iterations = Integer.parseInt(o.getOrDefault("iterations", "20"));
    int warmup = Integer.parseInt(o.getOrDefault("warmup", "3"));
    int threads = Integer.parseInt(o.getOrDefault("threads", "" + Machine.cores()));
    int tfInter = Integer.parseInt(o.getOrDefault("tf-inter-threads", "" + threads));
    int phaseIters = Integer.parseInt(o.getOrDefault("phase-iterations", "5"));
    int profileIters = Integer.parseInt(o.getOrDefault("profile-iterations", "5"));
    long seed = Long.parseLong(o.getOrDefault("seed", "20261123"));
    int nodeReps = Integer.parseInt(o.getOrDefault("node-profile-reps", "0"));
    if (nodeReps > 0) {
      // read once when CpuBackward loads, which has not happened yet
      System.setProperty("segcam.backward.profile", "true");
    }
    Path out = Paths.get(o.getOrDefault("out", "bench/results/cpu-vs-tensorflow.json"));
    double[] loadStart = Machine.loadAverage();
    String date = Machine.nowUtc();

    System.out.printf(
        "cpu-vs-tensorflow: %s, %d cores, load %s, JVM %s%n",
        Machine.cpuModel(),
        Machine.cores(),
        Machine.loadJson(loadStart),
        ManagementFactory.getRuntimeMXBean().getInputArguments());

    // ---- model: TF builds and exports, segcam imports
    long t0 = System.nanoTime();
    BenchUnet.Exported m =
        BenchUnet.export(Paths.get("target", "bench", "unet" + size), size, classes, seed);
    System.out.printf(
        "exported U-Net %dx%d, %d classes, %d parameters to %s (%.1f s)%n",
        size, size, classes, m.parameters(), m.dir(), (System.nanoTime() - t0) / 1e9);
    t0 = System.nanoTime();
    Graph graph = SavedModelImporter.load(m.dir()).graph();
    long irParams = graph.nodes().stream().mapToLong(n -> n.op().parameterCount()).sum();
    String layer = irLayer(graph, layerTf);
    String input = graph.inputs().get(0);
    System.out.printf(
        "imported: %d nodes, %d parameters, layer %s -> IR node '%s' %s (%.1f s)%n",
        graph.nodes().size(),
        irParams,
        layerTf,
        layer,
        graph.node(layer).shape(),
        (System.nanoTime() - t0) / 1e9);

    // ---- the target: class cls over the centre box (half the image each way)
    int x0 = size / 4;
    int x1 = 3 * size / 4;
    Target target = Target.box(cls, x0, x0, x1, x1);
    float[] scoreSeed = new float[size * size * classes];
    float[] mask = new float[size * size];
    for (int y = x0; y < x1; y++) {
      for (int x = x0; x < x1; x++) {
        scoreSeed[(y * size + x) * classes + cls] = 1f;
        mask[y * size + x] = 1f;
      }
    }
    Random rng = new Random(seed ^ 0x5eed);
    FloatTensor image = randomImage(rng, size);

    // --engine onednn (default, when it loads) or java: which CPU op table segcam runs
    boolean java = o.getOrDefault("engine", "onednn").equals("java");
    OneDnnContext ctx = java || !OneDnnProbe.status().available() ? null : OneDnnContext.open();
    String engineLine = ctx == null ? CpuCamBackend.JAVA_ENGINE : OneDnnProbe.status().describe();
    CpuEngine engine =
        new CpuEngine(graph, threads, ctx == null ? CpuOpTable.TABLE : OneDnnOpTable.of(ctx));
    Parallel pool = engine.parallel();
    CpuCamBackend backend =
        new CpuCamBackend(
            graph,
            CpuCamBackend.Engine.of(engine), // values and gradients reused through its arena
            pool,
            () -> {
              try (OneDnnContext c = ctx) {
                engine.close();
              }
            },
            engine.table(),
            engineLine);
    System.out.println("segcam CPU engine: " + engineLine);
    int tfIntra = threads;
    try (Explainer ex = new Explainer(backend);
        TfGradCam tf =
            new TfGradCam(
                m.dir(), m.inputOp(), m.outputOp(), layerTf, scoreSeed, tfIntra, tfInter)) {
      ex.normalization(Normalization.perMap());
      List<Target> targets = List.of(target);
      List<String> layers = List.of(layer);
      System.out.printf(
          "threads: segcam Parallel %d, TensorFlow intra-op %d, inter-op %d%n",
          pool.threads(), tfIntra, tfInter);

      // ---- agreement before timing
      CamResult r = ex.explain(image, targets, layers, CamMethod.GRAD_CAM).get(0);
      TfGradCam.Maps t = tf.run(image.data());
      List<String> report = new ArrayList<>();
      boolean ok = true;
      ok &= agree("score", new float[] {t.score()}, new float[] {r.score()}, report);
      ok &= agree("weights", t.weights(), r.weights(), report);
      ok &= agree("raw map", t.raw(), r.rawMap().data(), report);
      ok &= agree("upsampled map", t.upsampled(), r.upsampled().data(), report);
      ok &= agree("heatmap", t.heatmap(), r.heatmap().data(), report);
      int labelDiff = 0;
      for (int i = 0; i < t.predicted().length; i++) {
        labelDiff += t.predicted()[i] == r.predicted().classes()[i] ? 0 : 1;
      }
      report.add(
          String.format("predicted labels: %d of %d differ", labelDiff, t.predicted().length));
      report.forEach(s -> System.out.println("  " + s));
      if (!ok) {
        System.out.println("FAILED: the two maps disagree; no timing.");
        System.exit(1);
      }
      double maxErr = maxRelToMax(t.upsampled(), r.upsampled().data());

      // ---- warm-up and interleaved timing
      for (int i = 0; i < warmup; i++) {
        ex.explain(image, targets, layers, CamMethod.GRAD_CAM);
        tf.run(image.data());
      }
      if (nodeReps > 0) {
        nodeProfile(graph, engine, ex, image, targets, layers, input, nodeReps);
      }
      if (iterations == 0) {
        System.out.println("--iterations 0: no timing, no JSON");
        return;
      }
      double[] segMs = new double[iterations];
      double[] tfMs = new double[iterations];
      double[] segCpu = new double[iterations];
      double[] tfCpu = new double[iterations];
      for (int i = 0; i < iterations; i++) {
        if (i % 2 == 0) {
          timeSegcam(ex, image, targets, layers, segMs, segCpu, i);
          timeTf(tf, image, tfMs, tfCpu, i);
        } else {
          timeTf(tf, image, tfMs, tfCpu, i);
          timeSegcam(ex, image, targets, layers, segMs, segCpu, i);
        }
        System.out.printf(
            "  iteration %2d: segcam %8.1f ms (cpu %8.1f)   tensorflow %8.1f ms (cpu %8.1f)   load"
                + " %s%n",
            i, segMs[i], segCpu[i], tfMs[i], tfCpu[i], Machine.loadJson(Machine.loadAverage()));
      }
      Stats seg = Stats.of(segMs);
      Stats tfs = Stats.of(tfMs);
      Stats segC = Stats.of(segCpu);
      Stats tfC = Stats.of(tfCpu);
      double[] ratios = new double[iterations];
      for (int i = 0; i < iterations; i++) {
        ratios[i] = segMs[i] / tfMs[i];
      }
      Stats ratioStats = Stats.of(ratios);
      double ratio = seg.median() / tfs.median();
      System.out.println("segcam     " + seg);
      System.out.println("tensorflow " + tfs);
      System.out.println("segcam     process CPU time " + segC);
      System.out.println("tensorflow process CPU time " + tfC);
      System.out.printf("ratio of process CPU time medians %.2f%n", segC.median() / tfC.median());
      System.out.printf(
          "ratio segcam/tensorflow (medians) %.2f; per-iteration ratio median %.2f p10 %.2f p90"
              + " %.2f%n",
          ratio, ratioStats.median(), ratioStats.p10(), ratioStats.p90());

      // ---- phases
      Map<String, Stats> phases =
          phases(backend, tf, graph, ex, image, mask, cls, layer, phaseIters);
      phases.forEach((k, v) -> System.out.printf("  phase %-22s %s%n", k, v));

      // ---- sampled profile of segcam alone
      String profileJson = "null";
      if (profileIters > 0) {
        SampledProfile.Summary prof =
            SampledProfile.record(
                () -> {
                  for (int i = 0; i < profileIters; i++) {
                    ex.explain(image, targets, layers, CamMethod.GRAD_CAM);
                  }
                },
                5,
                Paths.get("target", "bench", "segcam-profile.jfr"));
        System.out.print(SampledProfile.text(prof, 15));
        profileJson = SampledProfile.json(prof, 15);
      }

      double[] loadEnd = Machine.loadAverage();
      StringBuilder js = new StringBuilder();
      js.append("{\n");
      js.append("  \"benchmark\": \"cpu-vs-tensorflow\",\n");
      js.append("  \"what\": ")
          .append(
              Machine.jsonString(
                  "Seg-Grad-CAM, batch 1, one box target (class "
                      + cls
                      + ", centre half of the image), layer "
                      + layerTf
                      + ": forward, masked logit score, backward to the layer, channel-mean"
                      + " weights, weighted sum + ReLU, bilinear upsampling, min-max"
                      + " normalisation, argmax labels; segcam Explainer on CpuEngine+CpuBackward"
                      + " vs the same steps as TF ops in one Session.run"))
          .append(",\n");
      js.append("  \"device\": {\"cpu\": ")
          .append(Machine.jsonString(Machine.cpuModel()))
          .append(", \"cores\": ")
          .append(Machine.cores())
          .append("},\n");
      js.append("  \"date\": ").append(Machine.jsonString(date)).append(",\n");
      js.append("  \"commit\": ").append(Machine.jsonString(Machine.commit())).append(",\n");
      js.append("  \"load_average\": {\"start\": ")
          .append(Machine.loadJson(loadStart))
          .append(", \"end\": ")
          .append(Machine.loadJson(loadEnd))
          .append("},\n");
      js.append("  ").append(Machine.jvmJson()).append(",\n");
      js.append(
          String.format(
              "  \"model\": {\"name\": \"unet4-32-64-128-256\", \"params\": %d, \"input\": [1, %d,"
                  + " %d, 3], \"classes\": %d, \"layer\": %s, \"layer_shape\": %s},%n",
              m.parameters(),
              size,
              size,
              classes,
              Machine.jsonString(layerTf),
              Machine.jsonString(graph.node(layer).shape().toString())));
      js.append("  \"segcam_engine\": ").append(Machine.jsonString(engineLine)).append(",\n");
      js.append(
          String.format(
              "  \"threads\": {\"segcam_parallel\": %d, \"tf_intra_op\": %d, \"tf_inter_op\":"
                  + " %d},%n",
              pool.threads(), tfIntra, tfInter));
      js.append(
          String.format(
              "  \"agreement\": {\"rtol\": %.0e, \"atol\": \"%.0e * max|ref|\","
                  + " \"upsampled_max_err_rel_to_max\": %.3e, \"label_mismatches\": %d},%n",
              RTOL, ATOL_OF_MAX, maxErr, labelDiff));
      js.append(String.format("  \"iterations\": %d, \"warmup\": %d,%n", iterations, warmup));
      js.append("  \"segcam_ms\": ").append(seg.json()).append(",\n");
      js.append("  \"tensorflow_ms\": ").append(tfs.json()).append(",\n");
      js.append(String.format("  \"ratio\": %.3f,%n", ratio));
      js.append("  \"segcam_cpu_ms\": ").append(segC.json()).append(",\n");
      js.append("  \"tensorflow_cpu_ms\": ").append(tfC.json()).append(",\n");
      js.append(String.format("  \"cpu_time_ratio\": %.3f,%n", segC.median() / tfC.median()));
      js.append("  \"ratio_per_iteration\": ").append(ratioStats.json()).append(",\n");
      js.append("  \"phases_ms\": {");
      int k = 0;
      for (Map.Entry<String, Stats> e : phases.entrySet()) {
        js.append(k++ == 0 ? "\n" : ",\n")
            .append("    ")
            .append(Machine.jsonString(e.getKey()))
            .append(": ")
            .append(e.getValue().json());
      }
      js.append("\n  },\n");
      js.append("  \"segcam_profile\": ").append(profileJson).append("\n");
      js.append("}\n");
      Machine.write(out, js.toString());
      System.out.println("wrote " + out);
    }
  }

  /**
   * CPU time of the whole process (all threads: segcam's pool, TF's native pools, GC, JIT): on a
   * machine shared with other busy processes it shows the work done, which wall time mixes with
   * waiting for a core.
   */
  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  /** Per-node forward (kernels re-run) and backward (CpuBackward's timer) tables. */
  private static void nodeProfile(
      Graph graph,
      CpuEngine engine,
      Explainer ex,
      FloatTensor image,
      List<Target> targets,
      List<String> layers,
      String input,
      int reps) {
    Map<String, FloatTensor> values = engine.forward(Map.of(input, image), null);
    System.out.print(
        NodeProfile.text(
            "forward per node (CpuOps kernels re-run on recorded inputs, median of " + reps + ")",
            NodeProfile.forward(graph, values, engine.parallel(), reps)));
    Map<String, List<NodeProfile.Row>> byNode = new LinkedHashMap<>();
    for (int r = 0; r < reps; r++) {
      for (NodeProfile.Row row :
          NodeProfile.backward(() -> ex.explain(image, targets, layers, CamMethod.GRAD_CAM))) {
        byNode.computeIfAbsent(row.node(), k -> new ArrayList<>()).add(row);
      }
    }
    List<NodeProfile.Row> med = new ArrayList<>();
    byNode.forEach(
        (k, rows) -> {
          double[] t = rows.stream().mapToDouble(NodeProfile.Row::ms).sorted().toArray();
          NodeProfile.Row first = rows.get(0);
          med.add(new NodeProfile.Row(k, first.type(), first.shape(), t[t.length / 2]));
        });
    System.out.print(
        NodeProfile.text(
            "backward per node (CpuBackward's timer, median of " + reps + " explains)", med));
  }

  /** Wall ms into wall[i], process CPU ms into cpu[i]. */
  private static void timeSegcam(
      Explainer ex,
      FloatTensor image,
      List<Target> targets,
      List<String> layers,
      double[] wall,
      double[] cpu,
      int i) {
    long c0 = OS.getProcessCpuTime();
    long t0 = System.nanoTime();
    ex.explain(image, targets, layers, CamMethod.GRAD_CAM);
    wall[i] = (System.nanoTime() - t0) / 1e6;
    cpu[i] = (OS.getProcessCpuTime() - c0) / 1e6;
  }

  private static void timeTf(TfGradCam tf, FloatTensor image, double[] wall, double[] cpu, int i) {
    long c0 = OS.getProcessCpuTime();
    long t0 = System.nanoTime();
    tf.run(image.data());
    wall[i] = (System.nanoTime() - t0) / 1e6;
    cpu[i] = (OS.getProcessCpuTime() - c0) / 1e6;
  }

  /**
   * segcam's pipeline step by step through its CamBackend (what Explainer calls), each step timed,
   * next to TF's forward alone; interleaved like the main timing.
   */
  private static Map<String, Stats> phases(
      CamBackend backend,
      TfGradCam tf,
      Graph graph,
      Explainer ex,
      FloatTensor image,
      float[] mask,
      int cls,
      String layer,
      int iters) {
    Map<String, double[]> t = new LinkedHashMap<>();
    for (String p :
        List.of(
            "segcam_forward",
            "segcam_seed",
            "segcam_backward",
            "segcam_cam_steps",
            "tensorflow_forward_only")) {
      t.put(p, new double[iters]);
    }
    if (iters == 0) {
      return new LinkedHashMap<>();
    }
    String input = graph.inputs().get(0);
    String logits = ex.logitsNode();
    int h = image.shape().dim(1);
    int w = image.shape().dim(2);
    // a new fetch set makes TF prune the graph and build an executor on its first run
    tf.forwardOnlyMs(image.data());
    for (int i = 0; i < iters; i++) {
      long a = System.nanoTime();
      try (CamTensor img = backend.upload(image);
          CamBackend.Forward f = backend.forward(input, img, Set.of(layer, logits))) {
        long b = System.nanoTime();
        float[] scores = new float[1];
        CamTensor masks = backend.upload(new FloatTensor(Shape.of(1, h, w), mask));
        CamTensor seed =
            backend.scoreSeed(
                f.value(logits), masks, new int[] {cls}, new SeedMode[] {SeedMode.LINEAR}, scores);
        long c = System.nanoTime();
        Map<String, CamTensor> g = f.backward(Map.of(logits, seed), List.of(layer));
        long d = System.nanoTime();
        CamTensor acts = f.value(layer);
        try (CamTensor wts = backend.channelMean(g.get(layer));
            CamTensor map = backend.weightedSumRelu(acts, wts);
            CamTensor up = backend.resizeBilinear(map, h, w);
            CamTensor norm = backend.normalize(up, Normalization.perMap())) {
          norm.toHost();
        }
        long e = System.nanoTime();
        t.get("segcam_forward")[i] = (b - a) / 1e6;
        t.get("segcam_seed")[i] = (c - b) / 1e6;
        t.get("segcam_backward")[i] = (d - c) / 1e6;
        t.get("segcam_cam_steps")[i] = (e - d) / 1e6;
        g.values().forEach(CamTensor::close);
        seed.close();
        masks.close();
      }
      t.get("tensorflow_forward_only")[i] = tf.forwardOnlyMs(image.data());
    }
    Map<String, Stats> out = new LinkedHashMap<>();
    t.forEach((k, v) -> out.put(k, Stats.of(v)));
    return out;
  }

  /** The IR node holding a TF tensor's value: the importer names nodes after their layer. */
  static String irLayer(Graph g, String tfName) {
    String layer = tfName.contains("/") ? tfName.substring(0, tfName.lastIndexOf('/')) : tfName;
    for (String cand : List.of(tfName, layer)) {
      if (g.contains(cand) && g.node(cand).op() instanceof Op.Activation) {
        return cand;
      }
    }
    List<String> close = new ArrayList<>();
    for (Node n : g.nodes()) {
      if (n.name().startsWith(layer)) {
        close.add(n.name() + " (" + n.op().type() + ")");
      }
    }
    throw new IllegalArgumentException(
        "no activation node for TF tensor " + tfName + " in the imported graph; nodes: " + close);
  }

  private static FloatTensor randomImage(Random rng, int size) {
    float[] a = new float[size * size * 3];
    for (int i = 0; i < a.length; i++) {
      a[i] = rng.nextFloat();
    }
    return new FloatTensor(Shape.of(1, size, size, 3), a);
  }

  /** Checks |ref - x| <= atol + rtol |ref| everywhere, atol = ATOL_OF_MAX * max|ref|. */
  static boolean agree(String what, float[] ref, float[] got, List<String> report) {
    if (ref.length != got.length) {
      report.add(what + ": length " + got.length + " != " + ref.length);
      return false;
    }
    double scale = 0;
    for (float v : ref) {
      scale = Math.max(scale, Math.abs(v));
    }
    double atol = ATOL_OF_MAX * scale;
    int bad = 0;
    double maxAbs = 0;
    double maxRel = 0;
    StringBuilder first = new StringBuilder();
    for (int i = 0; i < ref.length; i++) {
      double err = Math.abs((double) ref[i] - got[i]);
      maxAbs = Math.max(maxAbs, err);
      if (Math.abs(ref[i]) > atol) {
        maxRel = Math.max(maxRel, err / Math.abs(ref[i]));
      }
      if (!(err <= atol + RTOL * Math.abs(ref[i]))) {
        if (bad < 5) {
          first.append(String.format(" [%d] tf=%.7g segcam=%.7g", i, ref[i], got[i]));
        }
        bad++;
      }
    }
    report.add(
        String.format(
            "%-14s %7d values, max |ref| %.4g, max abs err %.3g, max rel err %.3g (where |ref| >"
                + " atol), %s%s",
            what,
            ref.length,
            scale,
            maxAbs,
            maxRel,
            bad == 0
                ? "OK"
                : bad + " outside rtol " + RTOL + " atol " + String.format("%.2g", atol),
            first));
    return bad == 0;
  }

  static double maxRelToMax(float[] ref, float[] got) {
    double scale = 0;
    double err = 0;
    for (int i = 0; i < ref.length; i++) {
      scale = Math.max(scale, Math.abs(ref[i]));
      err = Math.max(err, Math.abs((double) ref[i] - got[i]));
    }
    return scale == 0 ? err : err / scale;
  }

  static Map<String, String> parse(String[] args) {
    Map<String, String> o = new TreeMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException(
            "arguments are --name value pairs; got '" + a + "' (see the class comment)");
      }
      o.put(a.substring(2), args[++i]);
    }
    return o;
  }
}
