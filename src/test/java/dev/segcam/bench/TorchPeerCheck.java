package dev.segcam.bench;

import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.cam.Explainer;
import dev.segcam.io.Json;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.ImportedModel;
import dev.segcam.savedmodel.SavedModelImporter;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * A quick side-by-side of segcam and the two PyTorch peers on one model (not the interleaved
 * benchmark of issue #15, which drives {@link TorchPeer} itself): exports the model ({@link
 * TorchPeerExport}), computes segcam's maps (oneDNN when it loads, or {@code --engine java}),
 * starts each peer, checks its maps against segcam's ({@link TorchPeer#AGREEMENT_OF_MAX}), then
 * times segcam and each peer in turn; prints one line each and writes a JSON.
 *
 * <pre>
 * java ... dev.segcam.bench.TorchPeerCheck [--model scene-unet|unet:S|unet124:S|classic:S]
 *     [--batch 1] [--threads &lt;cores&gt;] [--iterations 10] [--class 1] [--layer NAME]
 *     [--engine onednn|java] [--seed 15] [--out target/torch-peer/check-&lt;model&gt;.json]
 * </pre>
 */
final class TorchPeerCheck {
  private TorchPeerCheck() {}

  /** segcam's maps of one engine, images in order: raw (B,h,w), upsampled and heatmap (B,H,W). */
  record Ref(String engine, float[] raw, float[] up, float[] heat) {}

  /** segcam's Grad-CAM of target on images with backend (closed after). */
  static Ref reference(
      String engine, CpuCamBackend backend, FloatTensor images, TorchPeerExport.Target t) {
    try (Explainer ex = new Explainer(backend)) {
      return reference(engine, ex, images, t);
    }
  }

  static Ref reference(String engine, Explainer ex, FloatTensor images, TorchPeerExport.Target t) {
    List<CamResult> r =
        ex.explain(images, List.of(t.segcam()), List.of(t.layer()), CamMethod.GRAD_CAM).stream()
            .sorted(Comparator.comparingInt(CamResult::image))
            .toList();
    return new Ref(
        engine,
        concat(r.stream().map(c -> c.rawMap().data()).toList()),
        concat(r.stream().map(c -> c.upsampled().data()).toList()),
        concat(r.stream().map(c -> c.heatmap().data()).toList()));
  }

  static float[] concat(List<float[]> parts) {
    int n = parts.stream().mapToInt(p -> p.length).sum();
    float[] out = new float[n];
    int at = 0;
    for (float[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
    }
    return out;
  }

  public static void main(String[] args) {
    Map<String, String> o = new LinkedHashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      o.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    String model = o.getOrDefault("model", "scene-unet");
    int batch = Integer.parseInt(o.getOrDefault("batch", "1"));
    int threads = Integer.parseInt(o.getOrDefault("threads", "" + Machine.cores()));
    int iterations = Integer.parseInt(o.getOrDefault("iterations", "10"));
    int cls = Integer.parseInt(o.getOrDefault("class", "1"));
    boolean java = o.getOrDefault("engine", "onednn").equals("java");
    Random rng = new Random(Long.parseLong(o.getOrDefault("seed", "15")));
    String tag = model.replace(':', '-') + "-b" + batch;
    Path dir = Paths.get("target", "torch-peer", tag);
    Path out = Paths.get(o.getOrDefault("out", "target/torch-peer/check-" + tag + ".json"));

    ImportedModel im =
        SavedModelImporter.load(TorchPeerExport.modelDir(model, Paths.get("target", "bench")));
    Graph graph = im.graph();
    Shape in = graph.node(graph.inputs().get(0)).shape();
    int h = in.dim(1);
    int w = in.dim(2);
    FloatTensor images = TorchPeerExport.images(model, batch, h, w, rng);
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("date", Machine.nowUtc());
    doc.put("commit", Machine.commit());
    doc.put("cpu", Machine.cpuModel());
    doc.put("load_start", Machine.loadAverage());
    doc.put("model", model);
    doc.put("batch", batch);
    doc.put("threads", threads);
    List<String> notes = new ArrayList<>();
    CpuCamBackend backend = CpuCamBackend.open(graph, threads, java, notes::add);
    try (Explainer ex = new Explainer(backend)) {
      String layer =
          o.containsKey("layer")
              ? im.layer(o.get("layer"))
              : model.equals("scene-unet") ? ex.defaultLayer() : im.layer("bottleneck_b/relu");
      TorchPeerExport.Target t = TorchPeerExport.Target.centre(cls, h, w, layer);
      TorchPeerExport.write(dir, model, graph, ex.logitsNode(), images, t);
      String engine = backend.engine();
      Ref ref = reference(engine, ex, images, t);
      if (TorchPeer.agreement(ref.raw(), new float[ref.raw().length]) == 0) {
        System.out.println(
            "WARNING: segcam's maps are all zero: the agreement checks compare zeros");
      }
      double[] ms = new double[iterations];
      double[] cpu = new double[iterations];
      for (int i = 0; i < iterations; i++) {
        long c0 = processCpuNanos();
        long t0 = System.nanoTime();
        reference(engine, ex, images, t);
        ms[i] = (System.nanoTime() - t0) / 1e6;
        cpu[i] = (processCpuNanos() - c0) / 1e6;
      }
      Stats s = Stats.of(ms);
      System.out.printf(
          Locale.ROOT,
          "%s batch %d, layer %s, class %d, %d threads: segcam (%s%s) median %.1f ms wall, %.1f ms"
              + " CPU (JVM process)%n",
          model,
          batch,
          layer,
          cls,
          threads,
          engine,
          notes.isEmpty() ? "" : "; " + notes,
          s.median(),
          Stats.of(cpu).median());
      doc.put("layer", layer);
      doc.put(
          "segcam",
          Map.of(
              "median_ms", s.median(), "cpu_median_ms", Stats.of(cpu).median(), "engine", engine));
      for (TorchPeer.Kind kind : TorchPeer.Kind.values()) {
        doc.put(kind.arg, peer(kind, dir, batch, threads, iterations, ref));
      }
    }
    doc.put("load_end", Machine.loadAverage());
    Machine.write(out, Json.pretty(doc));
    System.out.println("wrote " + out);
  }

  private static Map<String, Object> peer(
      TorchPeer.Kind kind, Path dir, int batch, int threads, int iterations, Ref ref) {
    Map<String, Object> r = new LinkedHashMap<>();
    String why = TorchPeer.unavailable(kind);
    if (why != null) {
      System.out.println("  " + kind.arg + ": not run: " + why);
      r.put("unavailable", why);
      return r;
    }
    double[] ms = new double[iterations];
    double[] cpu = new double[iterations];
    try (TorchPeer p = TorchPeer.start(dir, kind, batch, threads)) {
      double raw = TorchPeer.agreement(ref.raw(), p.rawMaps().data());
      double norm = p.requireAgreement(ref.heat(), ref.up(), TorchPeer.AGREEMENT_OF_MAX);
      for (int i = 0; i < iterations; i++) {
        ms[i] = p.step();
        cpu[i] = p.lastCpuMs();
      }
      p.close();
      Stats s = Stats.of(ms);
      System.out.printf(
          Locale.ROOT,
          "  %s: agrees (raw %.2g, normalised %.2g of max); median %.1f ms wall, %.1f ms CPU;"
              + " peak RSS %.0f MB; %s%n",
          kind.arg,
          raw,
          norm,
          s.median(),
          Stats.of(cpu).median(),
          p.peakRssMb(),
          p.info());
      r.put("agreement_raw", raw);
      r.put("agreement_normalised", norm);
      r.put("median_ms", s.median());
      r.put("cpu_median_ms", Stats.of(cpu).median());
      r.put("peak_rss_mb", p.peakRssMb());
      try {
        r.put("info", p.info() == null ? null : Json.mapper().readTree(p.info()));
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        r.put("info", p.info());
      }
    }
    return r;
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }
}
