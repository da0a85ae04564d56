package dev.segcam.bench;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.SeedMode;
import dev.segcam.backend.cuda.CudaCamBackend;
import dev.segcam.backend.cuda.CudnnConv;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.cam.Explainer;
import dev.segcam.io.AtomicFile;
import dev.segcam.io.Json;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.SavedModelImporter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * segcam (CUDA, or the CPU engines for a dry run) against the two PyTorch Seg-Grad-CAM peers on the
 * same card, model and weights (issue #16 points 2-4): one model per JVM, its cases in order, the
 * JSON rewritten whole after each case (other models' cases kept), so a run cut off at any point
 * leaves a valid JSON. Driven by bench/gpu-vs-torch.sh; see bench/README.md "GPU vs PyTorch".
 *
 * <p>Per case (batch B, K targets: classes first, first+1, ... mod the class count, each over the
 * centre box of the output): segcam's maps; each peer switched to the case ({@link
 * TorchPeer#configure}) and its normalised maps compared with segcam's, every element ({@link
 * #MAP_TOLERANCE}); warm-up; then rounds in which every side runs one step, the order rotating each
 * round, until {@code --reps} rounds or {@code --case-seconds} (after at least {@link
 * #MIN_ROUNDS}). A side that fails (out of memory, a peer's error) is recorded and the others go
 * on. Past {@code --case-timeout} the case is recorded as timed out, the JSON written and the JVM
 * halted (the peers end with it).
 */
final class GpuVsTorch {
  /** Normalised maps of each peer vs segcam's, max |difference| over every element (issue #16). */
  static final double MAP_TOLERANCE = 1e-3;

  static final int MIN_ROUNDS = 3;
  static final String SEGCAM = "segcam";
  static final String SEGCAM_TF32 = "segcam-tf32";
  static final String FLOOR = "segcam-floor";

  private GpuVsTorch() {}

  /** One case: batch and number of targets. */
  record Case(int batch, int targets) {
    /** "1x1,8x1,8x8,32x1" (BATCHxTARGETS). */
    static List<Case> parse(String spec) {
      List<Case> out = new ArrayList<>();
      for (String c : spec.split(",")) {
        String[] f = c.trim().split("x");
        if (f.length != 2) {
          throw new IllegalArgumentException("case '" + c + "': expected BATCHxTARGETS, e.g. 8x1");
        }
        Case k = new Case(Integer.parseInt(f[0]), Integer.parseInt(f[1]));
        if (k.batch < 1 || k.targets < 1) {
          throw new IllegalArgumentException("case '" + c + "': batch and targets must be >= 1");
        }
        out.add(k);
      }
      return out;
    }
  }

  /** The K target classes: first, first+1, ... modulo the class count. */
  static int[] classes(int first, int k, int numClasses) {
    int[] c = new int[k];
    for (int i = 0; i < k; i++) {
      c[i] = (first + i) % numClasses;
    }
    return c;
  }

  /** max |a - b| over every element (infinite on NaN); sizes must match. */
  static double maxAbsDiff(float[] a, float[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException(
          "maps of different sizes: " + a.length + " vs " + b.length);
    }
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      double d = Math.abs((double) a[i] - b[i]);
      m = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(m, d);
    }
    return m;
  }

  /** Frames per second of a median step of batch frames. */
  static double fps(int batch, double medianMs) {
    return batch * 1000.0 / medianMs;
  }

  /** The first n images of (N,H,W,C) images. */
  static FloatTensor firstImages(FloatTensor images, int n) {
    Shape s = images.shape();
    int per = s.size() / s.dim(0);
    float[] d = new float[n * per];
    System.arraycopy(images.data(), 0, d, 0, d.length);
    return new FloatTensor(s.withDim(0, n), d);
  }

  /**
   * The interleaved timing: warm-up steps of every side, then rounds of one step per side (order
   * rotating), until reps rounds or seconds (after at least MIN_ROUNDS rounds). Sides that throw
   * are recorded in errors and dropped. Returns each surviving side's step times (ms).
   */
  static Map<String, double[]> interleave(
      Map<String, TimedStep> sides,
      int warmup,
      int reps,
      double seconds,
      Map<String, String> errors) {
    Map<String, TimedStep> live = new LinkedHashMap<>(sides);
    for (var e : sides.entrySet()) {
      try {
        for (int i = 0; i < warmup; i++) {
          e.getValue().ms();
        }
      } catch (RuntimeException ex) {
        errors.put(e.getKey(), oneLine(ex));
        live.remove(e.getKey());
      }
    }
    Map<String, List<Double>> times = new LinkedHashMap<>();
    live.keySet().forEach(k -> times.put(k, new ArrayList<>()));
    long t0 = System.nanoTime();
    for (int r = 0; r < reps; r++) {
      if (r >= MIN_ROUNDS && (System.nanoTime() - t0) / 1e9 > seconds) {
        break;
      }
      List<String> order = new ArrayList<>(live.keySet());
      java.util.Collections.rotate(order, -r);
      for (String side : order) {
        try {
          times.get(side).add(live.get(side).ms());
        } catch (RuntimeException ex) {
          errors.put(side, oneLine(ex));
          live.remove(side);
          times.remove(side);
        }
      }
    }
    Map<String, double[]> out = new LinkedHashMap<>();
    times.forEach((k, v) -> out.put(k, v.stream().mapToDouble(Double::doubleValue).toArray()));
    return out;
  }

  /** One timed step of a side, in ms. */
  interface TimedStep {
    double ms();
  }

  static String oneLine(Throwable e) {
    String m = e.getClass().getSimpleName() + ": " + e.getMessage();
    m = m.replace('\n', ' ');
    return m.length() > 400 ? m.substring(0, 400) : m;
  }

  /** The JSON document: read from the file when it exists (earlier models' cases), else new. */
  @SuppressWarnings("unchecked")
  static Map<String, Object> readOrNew(Path file, Map<String, Object> header) {
    if (Files.isRegularFile(file)) {
      try {
        Map<String, Object> doc = Json.mapper().readValue(file.toFile(), LinkedHashMap.class);
        if (doc.get("cases") instanceof List && doc.get("models") instanceof List) {
          return doc;
        }
      } catch (IOException e) {
        System.out.println("gpu-vs-torch: " + file + " unreadable, starting a new one: " + e);
      }
    }
    Map<String, Object> doc = new LinkedHashMap<>(header);
    doc.put("models", new ArrayList<>());
    doc.put("cases", new ArrayList<>());
    return doc;
  }

  static synchronized void write(Path file, Map<String, Object> doc) {
    try {
      if (file.getParent() != null) {
        Files.createDirectories(file.getParent());
      }
      AtomicFile.write(file, Json.pretty(doc).getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException("writing " + file, e);
    }
  }

  @SuppressWarnings("unchecked")
  private static void add(Map<String, Object> doc, String list, Map<String, Object> item) {
    ((List<Object>) doc.get(list)).add(item);
  }

  public static void main(String[] args) {
    Map<String, String> o = TorchPeerExport.options(args);
    new Run(o).run();
  }

  /** One model's run. */
  private static final class Run {
    final String model;
    final int size;
    final String backend;
    final String device;
    final boolean tf32;
    final boolean graphs;
    final List<Case> cases;
    final int warmup;
    final int reps;
    final double caseSeconds;
    final long caseTimeoutMs;
    final long deadlineMs;
    final int threads;
    final Path json;
    final Path dir;
    final Map<String, Object> doc;

    Run(Map<String, String> o) {
      model = o.getOrDefault("model", "scene-unet");
      size = Integer.parseInt(o.getOrDefault("size", "512"));
      backend = o.getOrDefault("backend", "cuda");
      device = o.getOrDefault("device", backend.equals("cuda") ? "cuda" : "cpu");
      tf32 = Boolean.parseBoolean(o.getOrDefault("tf32", "false"));
      graphs = Boolean.parseBoolean(o.getOrDefault("graphs", "false"));
      cases = Case.parse(o.getOrDefault("cases", "1x1,8x1,8x8,32x1"));
      warmup = Integer.parseInt(o.getOrDefault("warmup", "3"));
      reps = Integer.parseInt(o.getOrDefault("reps", "20"));
      caseSeconds = Double.parseDouble(o.getOrDefault("case-seconds", "15"));
      caseTimeoutMs = (long) (1000 * Double.parseDouble(o.getOrDefault("case-timeout", "120")));
      deadlineMs = Long.parseLong(o.getOrDefault("deadline-ms", "" + Long.MAX_VALUE));
      threads = Integer.parseInt(o.getOrDefault("threads", "" + Machine.cores()));
      json = Paths.get(o.getOrDefault("json", "target/gpu-vs-torch/gpu-vs-torch.json"));
      dir = Paths.get(o.getOrDefault("dir", "target/gpu-vs-torch/export")).resolve(tag());
      Map<String, Object> header = new LinkedHashMap<>();
      header.put("benchmark", "gpu-vs-torch (issue #16 points 2-4)");
      header.put("device", o.getOrDefault("device-name", Machine.cpuModel()));
      header.put("date", Machine.nowUtc());
      header.put("commit", o.getOrDefault("commit", Machine.commit()));
      header.put(
          "work",
          "per image and target: forward; score = sum of the class's logits over the centre box"
              + " (the centre half of the output each way; the same box and classes on every side);"
              + " dS/dA at the layer; channel means; ReLU(sum_k w_k A_k); bilinear upsampling"
              + " (half-pixel); min-max normalisation; images from host memory, maps back to host"
              + " memory. K targets: classes first..first+K-1 mod the class count. segcam-floor:"
              + " segcam's forward + backward-data to the layer + channel means (no other CAM"
              + " step). Medians over interleaved rounds after warm-up; frames/s = batch / median.");
      doc = readOrNew(json, header);
    }

    String tag() {
      return model.equals("scene-unet") ? model : model + "-" + size;
    }

    void run() {
      Map<String, Object> info = new LinkedHashMap<>();
      info.put("model", tag());
      info.put("backend", backend);
      info.put("torch_device", device);
      add(doc, "models", info);
      try {
        runModel(info);
      } catch (RuntimeException | Error e) {
        // e.g. the backend cannot start: say so in the JSON, then fail this JVM (the next model
        // runs in its own)
        info.put("error", oneLine(e));
        write(json, doc);
        throw e;
      }
    }

    private void runModel(Map<String, Object> info) {
      Graph graph;
      String layerArg;
      if (model.equals("scene-unet")) {
        graph = SavedModelImporter.load(Paths.get("weights", "scene-unet")).graph();
        layerArg = null;
      } else {
        IrUnet.Spec spec =
            switch (model) {
              case "unet" -> IrUnet.MEDIUM;
              case "unet124" -> IrUnet.CLASSES_124;
              case "classic" -> IrUnet.CLASSIC;
              default ->
                  throw new IllegalArgumentException(
                      "unknown model '" + model + "' (scene-unet, unet, unet124, classic)");
            };
        graph = IrUnet.build(spec, 15);
        layerArg = "bottleneck_b/relu";
      }
      info.put("parameters", IrUnet.parameters(graph));
      String input = graph.inputs().get(0);
      Shape declared = graph.node(input).shape();
      int h = declared.dim(1) > 0 ? declared.dim(1) : size;
      int w = declared.dim(2) > 0 ? declared.dim(2) : size;
      int maxBatch = cases.stream().mapToInt(Case::batch).max().orElse(1);
      FloatTensor images = TorchPeerExport.images(model, maxBatch, h, w, new Random(15));
      List<String> notes = new ArrayList<>();
      try (Explainer ex = new Explainer(open(graph, false, notes));
          Explainer ex32 =
              tf32 && backend.equals("cuda") ? new Explainer(open(graph, true, notes)) : null) {
        String layer = layerArg != null ? layerArg : ex.defaultLayer();
        String logits = ex.logitsNode();
        Shape out = graph.inferShapes(Map.of(input, images.shape().withDim(0, 1))).get(logits);
        int numClasses = out.dim(3);
        TorchPeerExport.Target t =
            TorchPeerExport.Target.centre(1 % numClasses, out.dim(1), out.dim(2), layer);
        TorchPeerExport.write(dir, tag(), graph, logits, images, t);
        info.put("input", List.of(h, w, 3));
        info.put("layer", layer);
        info.put("classes", numClasses);
        info.put("box", List.of(t.x0(), t.y0(), t.x1(), t.y1()));
        info.put("segcam_engine", ex.backend().name());
        Map<String, TorchPeer> peers = startPeers(info);
        info.put("notes", notes);
        write(json, doc);
        try {
          for (Case c : cases) {
            if (System.currentTimeMillis() > deadlineMs) {
              Map<String, Object> r = caseHeader(c);
              r.put("status", "skipped: the run's time cap was reached");
              add(doc, "cases", r);
              write(json, doc);
              System.out.printf(
                  Locale.ROOT, "%s b%d k%d: skipped (time cap)%n", tag(), c.batch, c.targets);
              continue;
            }
            runCase(c, ex, ex32, peers, graph, input, logits, layer, images, t, numClasses);
          }
        } finally {
          peers.values().forEach(TorchPeer::close);
        }
      }
    }

    CamBackend open(Graph graph, boolean tf, List<String> notes) {
      if (backend.equals("cuda")) {
        return CudaCamBackend.create(
            graph, 0, tf ? CudnnConv.Precision.TF32 : CudnnConv.Precision.FP32, notes::add);
      }
      return CpuCamBackend.open(graph, threads, backend.equals("java"), notes::add);
    }

    Map<String, TorchPeer> startPeers(Map<String, Object> info) {
      Map<String, CompletableFuture<TorchPeer>> starting = new LinkedHashMap<>();
      List<String> dev = List.of("--device", device);
      starting.put("hand", start(TorchPeer.Kind.HAND, dev, "hand"));
      starting.put("pgc", start(TorchPeer.Kind.PGC, dev, "pgc"));
      if (graphs && device.equals("cuda")) {
        starting.put(
            "hand-graph",
            start(TorchPeer.Kind.HAND, List.of("--device", device, "--cuda-graph"), "hand-graph"));
      }
      if (tf32 && device.equals("cuda")) {
        starting.put(
            "hand-tf32",
            start(TorchPeer.Kind.HAND, List.of("--device", device, "--tf32"), "hand-tf32"));
      }
      Map<String, TorchPeer> peers = new LinkedHashMap<>();
      Map<String, Object> peerInfo = new LinkedHashMap<>();
      starting.forEach(
          (name, f) -> {
            try {
              TorchPeer p = f.join();
              peers.put(name, p);
              peerInfo.put(name, Json.mapper().readValue(p.info(), LinkedHashMap.class));
            } catch (RuntimeException | IOException e) {
              peerInfo.put(
                  name, "failed to start: " + oneLine(e.getCause() != null ? e.getCause() : e));
            }
          });
      info.put("peers", peerInfo);
      return peers;
    }

    CompletableFuture<TorchPeer> start(TorchPeer.Kind kind, List<String> extra, String name) {
      return CompletableFuture.supplyAsync(
          () -> TorchPeer.start(dir, kind, 1, threads, extra, name));
    }

    Map<String, Object> caseHeader(Case c) {
      Map<String, Object> r = new LinkedHashMap<>();
      r.put("model", tag());
      r.put("batch", c.batch);
      r.put("targets", c.targets);
      return r;
    }

    void runCase(
        Case c,
        Explainer ex,
        Explainer ex32,
        Map<String, TorchPeer> peers,
        Graph graph,
        String input,
        String logits,
        String layer,
        FloatTensor all,
        TorchPeerExport.Target t,
        int numClasses) {
      Map<String, Object> r = caseHeader(c);
      Map<String, String> errors = new LinkedHashMap<>();
      r.put("errors", errors);
      ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor();
      watchdog.schedule(
          () -> {
            r.put("status", "timed out after " + caseTimeoutMs / 1000 + " s; the JVM was halted");
            add(doc, "cases", r);
            write(json, doc);
            System.out.printf(Locale.ROOT, "%s b%d k%d: TIMED OUT%n", tag(), c.batch, c.targets);
            Runtime.getRuntime().halt(3);
          },
          caseTimeoutMs,
          TimeUnit.MILLISECONDS);
      long t0 = System.nanoTime();
      Floor floor = null;
      try {
        FloatTensor images = firstImages(all, c.batch);
        int[] cls = classes(t.cls(), c.targets, numClasses);
        r.put("classes", cls);
        List<dev.segcam.cam.Target> targets = new ArrayList<>();
        for (int k : cls) {
          targets.add(dev.segcam.cam.Target.box(k, t.x0(), t.y0(), t.x1(), t.y1()));
        }
        Map<String, TimedStep> sides = new LinkedHashMap<>();
        TorchPeerCheck.Ref ref;
        try {
          ref = reference(ex, images, targets, layer);
        } catch (RuntimeException e) {
          errors.put(SEGCAM, oneLine(e));
          r.put("status", "segcam failed: no reference");
          return;
        }
        sides.put(SEGCAM, () -> timed(() -> reference(ex, images, targets, layer)));
        Map<String, Object> agreement = new LinkedHashMap<>();
        r.put("map_difference", agreement);
        if (ex32 != null) {
          try {
            TorchPeerCheck.Ref r32 = reference(ex32, images, targets, layer);
            agreement.put(SEGCAM_TF32, maxAbsDiff(ref.heat(), r32.heat()));
            sides.put(SEGCAM_TF32, () -> timed(() -> reference(ex32, images, targets, layer)));
          } catch (RuntimeException e) {
            errors.put(SEGCAM_TF32, oneLine(e));
          }
        }
        Map<String, Object> peakGpu = new LinkedHashMap<>();
        List<String> disagree = new ArrayList<>();
        for (var e : peers.entrySet()) {
          try {
            peakGpu.put(e.getKey(), e.getValue().configure(c.batch, cls));
            double d = maxAbsDiff(ref.heat(), e.getValue().maps().data());
            agreement.put(e.getKey(), d);
            if (!e.getKey().endsWith("tf32") && !(d <= MAP_TOLERANCE)) {
              disagree.add(e.getKey());
            }
            sides.put(e.getKey(), e.getValue()::step);
          } catch (RuntimeException ex2) {
            errors.put(e.getKey(), oneLine(ex2));
          }
        }
        r.put("map_tolerance", MAP_TOLERANCE);
        r.put("agrees", disagree.isEmpty());
        if (!disagree.isEmpty()) {
          r.put("disagreeing_peers (timed anyway)", disagree);
        }
        r.put("peer_peak_gpu_mb", peakGpu);
        if (c.targets == 1) {
          try {
            floor = new Floor(ex.backend(), graph, input, logits, layer, images, t);
            floor.step();
            Floor fl = floor;
            sides.put(FLOOR, () -> timed(() -> fl.step()));
          } catch (RuntimeException e) {
            errors.put(FLOOR, oneLine(e));
          }
        }
        Map<String, double[]> ms = interleave(sides, warmup, reps, caseSeconds, errors);
        Map<String, Object> timing = new LinkedHashMap<>();
        ms.forEach(
            (side, xs) -> {
              Stats s = Stats.of(xs);
              Map<String, Object> m = new LinkedHashMap<>();
              m.put("median_ms", s.median());
              m.put("p10_ms", s.p10());
              m.put("p90_ms", s.p90());
              m.put("n", s.n());
              m.put("frames_per_s", fps(c.batch, s.median()));
              timing.put(side, m);
            });
        r.put("timing", timing);
        r.put("ratios", ratios(ms, c.batch == 1));
        r.put("status", "ok");
        r.put("seconds", (System.nanoTime() - t0) / 1e9);
      } finally {
        watchdog.shutdownNow();
        if (floor != null) {
          floor.close();
        }
        if (!r.containsKey("status")) {
          r.put("status", "failed");
        }
        add(doc, "cases", r);
        write(json, doc);
        System.out.printf(
            Locale.ROOT,
            "%s b%d k%d: %s %s diff %s ratios %s%s%n",
            tag(),
            c.batch,
            c.targets,
            r.get("status"),
            r.containsKey("timing") ? medians(r) : "",
            Json.line(r.getOrDefault("map_difference", Map.of())),
            Json.line(r.getOrDefault("ratios", Map.of())),
            errors.isEmpty() ? "" : " errors " + errors);
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static String medians(Map<String, Object> r) {
    StringBuilder b = new StringBuilder("medians");
    ((Map<String, Map<String, Object>>) r.get("timing"))
        .forEach(
            (side, m) ->
                b.append(
                    String.format(Locale.ROOT, " %s %.2f ms", side, (double) m.get("median_ms"))));
    return b.toString();
  }

  /**
   * segcam's throughput over each peer's (frames/s ratio = peer median / segcam median): "segcam /
   * hand", "segcam / hand-graph", "segcam / pgc", "segcam-tf32 / hand-tf32"; at batch 1 also
   * "segcam / segcam-floor" (latency over the floor's).
   */
  static Map<String, Double> ratios(Map<String, double[]> ms, boolean latency) {
    Map<String, Double> med = new LinkedHashMap<>();
    ms.forEach((k, v) -> med.put(k, Stats.of(v).median()));
    Map<String, Double> r = new LinkedHashMap<>();
    for (String peer : List.of("hand", "hand-graph", "pgc")) {
      if (med.containsKey(SEGCAM) && med.containsKey(peer)) {
        r.put(SEGCAM + " / " + peer + " (throughput)", med.get(peer) / med.get(SEGCAM));
      }
    }
    if (med.containsKey(SEGCAM_TF32) && med.containsKey("hand-tf32")) {
      r.put("segcam-tf32 / hand-tf32 (throughput)", med.get("hand-tf32") / med.get(SEGCAM_TF32));
    }
    if (latency && med.containsKey(SEGCAM) && med.containsKey(FLOOR)) {
      r.put("segcam / segcam-floor (latency)", med.get(SEGCAM) / med.get(FLOOR));
    }
    return r;
  }

  static TorchPeerCheck.Ref reference(
      Explainer ex, FloatTensor images, List<dev.segcam.cam.Target> targets, String layer) {
    var r =
        ex.explain(images, targets, List.of(layer), dev.segcam.cam.CamMethod.GRAD_CAM).stream()
            .sorted(
                java.util.Comparator.comparingInt(dev.segcam.cam.CamResult::targetIndex)
                    .thenComparingInt(dev.segcam.cam.CamResult::image))
            .toList();
    return new TorchPeerCheck.Ref(
        "segcam",
        TorchPeerCheck.concat(r.stream().map(c -> c.rawMap().data()).toList()),
        TorchPeerCheck.concat(r.stream().map(c -> c.upsampled().data()).toList()),
        TorchPeerCheck.concat(r.stream().map(c -> c.heatmap().data()).toList()));
  }

  private static double timed(Runnable step) {
    long t0 = System.nanoTime();
    step.run();
    return (System.nanoTime() - t0) / 1e6;
  }

  /**
   * segcam's floor: images uploaded, forward, the score seed of class t.cls() over the box (the
   * backend's masked_score_seed, LINEAR on the logits), backward-data to the layer, channel means
   * to the host (N x C floats: the synchronisation point). The masks are uploaded once.
   */
  static final class Floor implements AutoCloseable {
    private final CamBackend b;
    private final String input;
    private final String logits;
    private final String layer;
    private final FloatTensor images;
    private final CamTensor masks;
    private final int[] classes;
    private final SeedMode[] modes;

    Floor(
        CamBackend b,
        Graph graph,
        String input,
        String logits,
        String layer,
        FloatTensor images,
        TorchPeerExport.Target t) {
      this.b = b;
      this.input = input;
      this.logits = logits;
      this.layer = layer;
      this.images = images;
      Shape s = graph.inferShapes(Map.of(input, images.shape())).get(logits);
      int n = s.dim(0);
      int oh = s.dim(1);
      int ow = s.dim(2);
      float[] d = new float[n * oh * ow];
      for (int i = 0; i < n; i++) {
        for (int y = t.y0(); y < t.y1(); y++) {
          for (int x = t.x0(); x < t.x1(); x++) {
            d[(i * oh + y) * ow + x] = 1f;
          }
        }
      }
      this.masks = b.upload(new FloatTensor(Shape.of(n, oh, ow), d));
      this.classes = new int[n];
      java.util.Arrays.fill(classes, t.cls());
      this.modes = new SeedMode[n];
      java.util.Arrays.fill(modes, SeedMode.LINEAR);
    }

    /** One floor step; returns the channel means (N x C), the gradient's Grad-CAM weights. */
    float[] step() {
      try (CamTensor img = b.upload(images);
          CamBackend.Forward f = b.forward(input, img, Set.of(logits, layer));
          CamTensor seed =
              b.scoreSeed(f.value(logits), masks, classes, modes, new float[classes.length])) {
        Map<String, CamTensor> g = f.backward(Map.of(logits, seed), List.of(layer));
        try (CamTensor m = b.channelMean(g.get(layer))) {
          return m.toHost().data();
        } finally {
          g.values().forEach(CamTensor::close);
        }
      }
    }

    @Override
    public void close() {
      masks.close();
    }
  }
}
