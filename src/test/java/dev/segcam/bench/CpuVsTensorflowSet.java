package dev.segcam.bench;

import dev.segcam.backend.onednn.OneDnnProbe;
import dev.segcam.cam.CamResult;
import dev.segcam.ir.Graph;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Issue #15 point 4: Seg-Grad-CAM on segcam's CPU backend against TensorFlow-CPU (and the PyTorch
 * peers, {@link Peers}) over the benchmark set ({@link BenchSet}: scene-unet 64x64, the 1.9M U-Net
 * at 256 and 512, the 124-class U-Net and the classic 31M U-Net at 512; batch 1 and 8), in one run.
 * A program, not a test. Per configuration:
 *
 * <ol>
 *   <li>export the model (TensorFlow Java, fixed batch) and import it with segcam;
 *   <li>peak memory: each side alone in a child JVM with this JVM's flags ({@link PeakRss}), VmHWM
 *       after two steps;
 *   <li>the maps agree (score, weights, raw, upsampled, heatmap: rtol 1e-3, atol 1e-4·max, as
 *       {@link CpuVsTensorflow}) before any timing, else no timing for it;
 *   <li>warm-up, then the sides interleaved (the order rotates every iteration), wall and process
 *       CPU time, medians, ratios.
 * </ol>
 *
 * The JSON (rewritten after every configuration, so a run cut short keeps what it measured) holds
 * the CPU model, cores, oneDNN's ISA and the cpuinfo vector flags, load averages, commit and JVM
 * flags, per configuration the times, ratios and peak memory, and batch-8-over-batch-1 per model;
 * {@link MeasuredDoc} turns it into README's "Measured" section.
 *
 * <p>Args (all optional): {@code --models scene-unet:64,unet:256,unet:512,unet124:512,classic:512
 * --batches 1,8 --iterations N (default per configuration) --warmup 1 --warmup-s 5 --threads
 * <cores> --memory true --peers torch-hand,pytorch-grad-cam|none --engine onednn|java --out
 * bench/results/cpu-vs-tensorflow-set.json --readme README.md|none}. Child mode: {@code
 * --memory-only segcam|tensorflow --config model:size:batch --steps 2 --rss-limit-mb <90% of
 * MemAvailable>}.
 */
public final class CpuVsTensorflowSet {
  static final String DEFAULT_OUT = "bench/results/cpu-vs-tensorflow-set.json";

  /**
   * Share of MemAvailable a memory child may hold before it stops itself ({@link PeakRss#watch}),
   * and the parent's bound for both sides together: on a machine without swap the kernel's OOM
   * killer would otherwise pick a process, not necessarily ours.
   */
  static final double RSS_SHARE = 0.9;

  /**
   * The peers run beside both sides only while the two take at most this share of the memory budget
   * ({@link #RSS_SHARE} of MemAvailable): each peer process is about as large as a side.
   */
  static final double PEERS_BESIDE = 0.5;

  /** Steps a memory child runs (the first allocates, the second shows what a warm step adds). */
  static final int MEMORY_STEPS = 2;

  private CpuVsTensorflowSet() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> o = CpuVsTensorflow.parse(args);
    int threads = Integer.parseInt(o.getOrDefault("threads", "" + Machine.cores()));
    boolean java = o.getOrDefault("engine", "onednn").equals("java");
    if (o.containsKey("memory-only")) {
      child(o, threads, java);
      return;
    }
    List<BenchSet.Config> configs =
        BenchSet.configs(
            o.getOrDefault("models", BenchSet.DEFAULT_MODELS),
            o.getOrDefault("batches", BenchSet.DEFAULT_BATCHES));
    int iterations = Integer.parseInt(o.getOrDefault("iterations", "-1"));
    int warmup = Integer.parseInt(o.getOrDefault("warmup", "1"));
    double warmupS = Double.parseDouble(o.getOrDefault("warmup-s", "" + BenchSet.DEFAULT_WARMUP_S));
    boolean memory = Boolean.parseBoolean(o.getOrDefault("memory", "true"));
    String peersArg = o.getOrDefault("peers", String.join(",", Peers.NAMES));
    List<String> peers = peersArg.equals("none") ? List.of() : List.of(peersArg.split(","));
    Path out = Paths.get(o.getOrDefault("out", DEFAULT_OUT));
    String readme = o.getOrDefault("readme", "README.md");

    Header h = new Header(Machine.nowUtc(), Machine.commit(), Machine.loadAverage());
    System.out.printf(
        "cpu-vs-tensorflow set: %d configurations; %s, %d cores, %s; load %s; JVM %s (max heap"
            + " %d MB)%n",
        configs.size(),
        Machine.cpuModel(),
        Machine.cores(),
        OneDnnProbe.status().describe(),
        Machine.loadJson(h.load()),
        ManagementFactory.getRuntimeMXBean().getInputArguments(),
        Runtime.getRuntime().maxMemory() >> 20);
    List<String> results = new ArrayList<>();
    Map<String, double[]> medians = new LinkedHashMap<>(); // id -> {segcam, tf}
    for (BenchSet.Config c : configs) {
      int iters = iterations >= 0 ? iterations : c.defaultIterations();
      System.out.printf(
          Locale.ROOT,
          "%n== %s: %d iterations, warm-up %d steps and %.1f s%n",
          c.id(),
          iters,
          warmup,
          warmupS);
      String json;
      try {
        json = runConfig(c, iters, warmup, warmupS, threads, java, memory, peers, medians);
      } catch (OutOfMemoryError | RuntimeException e) {
        System.out.println("  FAILED: " + e);
        json = configJson(c, iters, warmup, Machine.loadAverage(), null, e.toString());
      }
      results.add(json);
      System.gc(); // give the heap back before the next configuration's children start
      Machine.write(out, SetJson.document(h, threads, java, configs, results, medians));
      System.out.println("  wrote " + out);
    }
    if (!readme.equals("none")) {
      MeasuredDoc.update(Paths.get(readme), out);
      System.out.println("README section regenerated in " + readme + " from " + out);
    }
  }

  /** When and where the run started. */
  record Header(String date, String commit, double[] load) {}

  private static String runConfig(
      BenchSet.Config c,
      int iters,
      int warmup,
      double warmupS,
      int threads,
      boolean java,
      boolean memory,
      List<String> peerNames,
      Map<String, double[]> medians) {
    double[] load = Machine.loadAverage();
    long t0 = System.nanoTime();
    BenchSet.Model m = BenchSet.prepare(c, true);
    Graph graph = BenchSet.graph(m);
    System.out.printf(
        "  %s in %s (%.1f s export + import)%n",
        m.description(), m.dir(), (System.nanoTime() - t0) / 1e9);

    Map<String, PeakRss.Result> mem = new LinkedHashMap<>();
    if (memory) {
      List<String> extra = List.of("--threads", "" + threads, "--engine", java ? "java" : "onednn");
      for (String side : List.of("segcam", "tensorflow")) {
        mem.put(side, PeakRss.measure(side, c, extra));
        System.out.printf("  peak RSS %s: %s%n", side, mem.get(side).json());
      }
    }

    double both = 0;
    for (Map.Entry<String, PeakRss.Result> e : mem.entrySet()) {
      if (e.getValue().outOfMemory()) {
        // the same side in this JVM, next to the other, would not fit either (or be killed)
        return configJson(
            c,
            iters,
            warmup,
            load,
            new SetJson.Measured(m, "-", null, mem, null, Map.of(), Map.of()),
            e.getKey() + " ran out of memory in its child JVM: not timed");
      }
      both += Math.max(0, e.getValue().peakMb());
    }
    long avail = Machine.memAvailableMb();
    if (avail > 0 && both > RSS_SHARE * avail) {
      return configJson(
          c,
          iters,
          warmup,
          load,
          new SetJson.Measured(m, "-", null, mem, null, Map.of(), Map.of()),
          String.format(
              Locale.ROOT,
              "both sides in one JVM would need ~%.0f MB, %d MB available: not timed",
              both,
              avail));
    }
    List<BenchSet.Side> sides = new ArrayList<>();
    Map<String, String> peerOff = new LinkedHashMap<>();
    try (BenchSet.Segcam seg = new BenchSet.Segcam(graph, c, m, threads, java);
        BenchSet.Tf tf = new BenchSet.Tf(c, m, threads)) {
      System.out.println("  segcam engine: " + seg.engine);
      Agreement a = agreement(seg, tf);
      a.report().forEach(s -> System.out.println("    " + s));
      if (!a.ok()) {
        System.out.println("  the maps disagree: no timing for " + c.id());
        SetJson.Timing none = null;
        return configJson(
            c,
            iters,
            warmup,
            load,
            new SetJson.Measured(m, seg.engine, a, mem, none, peerOff, Map.of()),
            "maps disagree");
      }
      sides.add(seg);
      sides.add(tf);
      List<String> peersHere = peerNames;
      if (!peerNames.isEmpty() && avail > 0 && both > PEERS_BESIDE * RSS_SHARE * avail) {
        // each PyTorch peer is a process of about the same size as a side: the run of
        // 2026-12-05 was killed by the kernel at the classic U-Net's batch 8 (segcam 8.8 GB and
        // TensorFlow 6.8 GB in this JVM, the peers 8 GB beside it, 24 GB in all)
        String why =
            String.format(
                Locale.ROOT,
                "not run: segcam and TensorFlow need ~%.0f MB of the %d MB available, the peers'"
                    + " processes would not fit beside them",
                both,
                avail);
        peerNames.forEach(p -> peerOff.put(p, why));
        System.out.println("  peers off: " + why);
        peersHere = List.of();
      }
      List<Peers.Side> peers = openPeers(peersHere, c, m, graph, seg, a, threads, peerOff);
      sides.addAll(peers);
      SetJson.Timing t;
      int warmedUp;
      try {
        warmedUp = BenchSet.warmUp(sides, warmup, warmupS);
        System.out.printf(Locale.ROOT, "  warm-up: %d steps per side%n", warmedUp);
        t = interleave(sides, iters);
      } finally {
        peers.forEach(Peers.Side::close);
      }
      Map<String, double[]> peerFigures = new LinkedHashMap<>();
      for (Peers.Side p : peers) {
        peerFigures.put(p.name(), new double[] {p.agreement, p.peakRssMb});
      }
      double segMed = t.wall().get("segcam").median();
      double tfMed = t.wall().get("tensorflow").median();
      medians.put(c.id(), new double[] {segMed, tfMed});
      System.out.printf(
          Locale.ROOT,
          "  segcam %.1f ms, tensorflow %.1f ms (medians): ratio %.2f; CPU-time ratio %.2f%n",
          segMed,
          tfMed,
          segMed / tfMed,
          t.cpu().get("segcam").median() / t.cpu().get("tensorflow").median());
      return configJson(
          c,
          iters,
          warmedUp,
          load,
          new SetJson.Measured(m, seg.engine, a, mem, t, peerOff, peerFigures),
          null);
    }
  }

  /** Exports the model for the peers once and opens each; an off peer's reason goes in off. */
  private static List<Peers.Side> openPeers(
      List<String> names,
      BenchSet.Config c,
      BenchSet.Model m,
      Graph graph,
      BenchSet.Segcam seg,
      Agreement a,
      int threads,
      Map<String, String> off) {
    List<Peers.Side> out = new ArrayList<>();
    if (names.isEmpty()) {
      return out;
    }
    String why = Peers.missing();
    Path dir = null;
    if (why == null) {
      try {
        dir = Peers.export(c, m, graph, seg.explainer.logitsNode(), BenchSet.images(c), seg.layer);
      } catch (RuntimeException e) {
        why = "export for the peers failed: " + e.getMessage();
      }
    }
    for (String p : names) {
      Peers.Opened po =
          why != null
              ? new Peers.Opened(null, why)
              : Peers.open(p, dir, c.batch(), threads, a.segcamHeat(), a.segcamMap());
      if (po.side() == null) {
        off.put(p, po.offReason());
        System.out.println("  peer " + p + " off: " + po.offReason());
      } else {
        System.out.printf(
            Locale.ROOT,
            "  peer %s agrees with segcam: %.3g of max (normalised maps)%n",
            p,
            po.side().agreement);
        out.add(po.side());
      }
    }
    return out;
  }

  /** The agreement check's verdict, its lines, and segcam's upsampled maps (for the peers). */
  record Agreement(
      boolean ok,
      List<String> report,
      double maxErrRelToMax,
      int labelMismatches,
      float[] segcamMap,
      float[] segcamHeat) {}

  /** segcam's maps against TensorFlow's, every element, before any timing. */
  static Agreement agreement(BenchSet.Segcam seg, BenchSet.Tf tf) {
    List<CamResult> rs = seg.explain();
    TfGradCam.Maps t = tf.run();
    float score = 0;
    List<float[]> w = new ArrayList<>();
    List<float[]> raw = new ArrayList<>();
    List<float[]> up = new ArrayList<>();
    List<float[]> heat = new ArrayList<>();
    List<int[]> labels = new ArrayList<>();
    for (CamResult r : rs) {
      score += r.score();
      w.add(r.weights());
      raw.add(r.rawMap().data());
      up.add(r.upsampled().data());
      heat.add(r.heatmap().data());
      labels.add(r.predicted().classes());
    }
    List<String> report = new ArrayList<>();
    boolean ok = true;
    ok &=
        CpuVsTensorflow.agree("score (sum)", new float[] {t.score()}, new float[] {score}, report);
    ok &= CpuVsTensorflow.agree("weights", t.weights(), TorchPeerCheck.concat(w), report);
    ok &= CpuVsTensorflow.agree("raw map", t.raw(), TorchPeerCheck.concat(raw), report);
    float[] segUp = TorchPeerCheck.concat(up);
    ok &= CpuVsTensorflow.agree("upsampled map", t.upsampled(), segUp, report);
    ok &= CpuVsTensorflow.agree("heatmap", t.heatmap(), TorchPeerCheck.concat(heat), report);
    int diff = 0;
    int k = 0;
    for (int[] l : labels) {
      for (int v : l) {
        diff += k < t.predicted().length && t.predicted()[k] == v ? 0 : 1;
        k++;
      }
    }
    diff += Math.abs(t.predicted().length - k);
    report.add(String.format("predicted labels: %d of %d differ", diff, t.predicted().length));
    return new Agreement(
        ok,
        report,
        CpuVsTensorflow.maxRelToMax(t.upsampled(), segUp),
        diff,
        segUp,
        TorchPeerCheck.concat(heat));
  }

  /** Every side once per iteration, the order rotating (side i first in iteration i mod n). */
  static SetJson.Timing interleave(List<BenchSet.Side> sides, int iters) {
    Map<String, double[]> wall = new LinkedHashMap<>();
    Map<String, double[]> cpu = new LinkedHashMap<>();
    for (BenchSet.Side s : sides) {
      wall.put(s.name(), new double[iters]);
      cpu.put(s.name(), new double[iters]);
    }
    for (int i = 0; i < iters; i++) {
      StringBuilder line = new StringBuilder(String.format("    iteration %2d:", i));
      for (int j = 0; j < sides.size(); j++) {
        BenchSet.Side s = sides.get((i + j) % sides.size());
        double[] r = s.step();
        wall.get(s.name())[i] = r[0];
        cpu.get(s.name())[i] = r[1];
      }
      for (BenchSet.Side s : sides) {
        line.append(
            String.format(
                Locale.ROOT,
                "  %s %.1f ms (cpu %.1f)",
                s.name(),
                wall.get(s.name())[i],
                cpu.get(s.name())[i]));
      }
      System.out.println(line + "  load " + Machine.loadJson(Machine.loadAverage()));
    }
    Map<String, Stats> w = new LinkedHashMap<>();
    Map<String, Stats> c = new LinkedHashMap<>();
    wall.forEach((k, v) -> w.put(k, Stats.of(v)));
    cpu.forEach((k, v) -> c.put(k, Stats.of(v)));
    return new SetJson.Timing(w, c);
  }

  private static String configJson(
      BenchSet.Config c,
      int iters,
      int warmup,
      double[] load,
      SetJson.Measured measured,
      String error) {
    return SetJson.config(c, iters, warmup, load, measured, error);
  }

  /** {@code --memory-only SIDE}: load one side, run it, print its VmRSS and VmHWM. */
  private static void child(Map<String, String> o, int threads, boolean java) {
    BenchSet.Config c = BenchSet.Config.parse(o.get("config"));
    int steps = Integer.parseInt(o.getOrDefault("steps", "" + MEMORY_STEPS));
    BenchSet.Model m = BenchSet.prepare(c, false);
    String side = o.get("memory-only");
    PeakRss.watch(
        Long.parseLong(
            o.getOrDefault("rss-limit-mb", "" + (long) (RSS_SHARE * Machine.memAvailableMb()))));
    try {
      childSteps(c, m, side, steps, threads, java);
    } catch (OutOfMemoryError e) {
      System.out.printf(
          Locale.ROOT,
          "%s %s (max heap %d MB, peak RSS %.1f MB)%n",
          PeakRss.OOM,
          e.getMessage(),
          Runtime.getRuntime().maxMemory() >> 20,
          PeakRss.statusMb("VmHWM"));
      System.exit(3);
    }
    System.out.printf(Locale.ROOT, "%s %.1f%n", PeakRss.PEAK, PeakRss.statusMb("VmHWM"));
    System.exit(0); // TF's and oneDNN's native threads must not keep the child alive
  }

  private static void childSteps(
      BenchSet.Config c, BenchSet.Model m, String side, int steps, int threads, boolean java) {
    try (BenchSet.Side s =
        switch (side) {
          case "segcam" -> new BenchSet.Segcam(BenchSet.graph(m), c, m, threads, java);
          case "tensorflow" -> new BenchSet.Tf(c, m, threads);
          default ->
              throw new IllegalArgumentException(
                  "--memory-only takes segcam or tensorflow, got " + side);
        }) {
      System.out.printf(Locale.ROOT, "%s %.1f%n", PeakRss.LOADED, PeakRss.statusMb("VmRSS"));
      for (int i = 0; i < steps; i++) {
        double[] r = s.step();
        System.out.printf(Locale.ROOT, "step %d: %.1f ms%n", i, r[0]);
      }
    }
  }
}
