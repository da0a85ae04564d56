package dev.segcam.bench;

import dev.segcam.backend.onednn.OneDnnProbe;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** The JSON of {@link CpuVsTensorflowSet}: the run's header, one object per configuration. */
final class SetJson {
  private SetJson() {}

  /** Wall and CPU ms per side name. */
  record Timing(Map<String, Stats> wall, Map<String, Stats> cpu) {}

  /** What one configuration measured (timing null when the maps disagreed). */
  record Measured(
      BenchSet.Model model,
      String engine,
      CpuVsTensorflowSet.Agreement agreement,
      Map<String, PeakRss.Result> memory,
      Timing timing,
      Map<String, String> peersOff,
      Map<String, double[]> peerFigures) {}

  static String config(
      BenchSet.Config c, int iters, int warmup, double[] load, Measured m, String error) {
    StringBuilder s = new StringBuilder("    {");
    s.append("\"id\": ").append(Machine.jsonString(c.id()));
    s.append(", \"model\": ").append(Machine.jsonString(c.model()));
    s.append(String.format(", \"size\": %d, \"batch\": %d", c.size(), c.batch()));
    s.append(String.format(", \"iterations\": %d, \"warmup\": %d", iters, warmup));
    s.append(", \"load_average_start\": ").append(Machine.loadJson(load));
    s.append(", \"status\": ").append(Machine.jsonString(error == null ? "ok" : error));
    if (m != null) {
      s.append(",\n      \"description\": ").append(Machine.jsonString(m.model().description()));
      s.append(", \"layer\": ").append(Machine.jsonString(m.model().layerTf()));
      s.append(", \"segcam_engine\": ").append(Machine.jsonString(m.engine()));
      CpuVsTensorflowSet.Agreement a = m.agreement();
      s.append(
          a == null
              ? ""
              : String.format(
                  Locale.ROOT,
                  ",%n      \"agreement\": {\"ok\": %b, \"rtol\": %.0e, \"atol\": \"%.0e * max|ref|\","
                      + " \"upsampled_max_err_rel_to_max\": %.3e, \"label_mismatches\": %d, \"lines\":"
                      + " [%s]}",
                  a.ok(),
                  CpuVsTensorflow.RTOL,
                  CpuVsTensorflow.ATOL_OF_MAX,
                  a.maxErrRelToMax(),
                  a.labelMismatches(),
                  a.report().stream().map(Machine::jsonString).collect(Collectors.joining(", "))));
      Timing t = m.timing();
      if (t != null) {
        Stats seg = t.wall().get("segcam");
        Stats tf = t.wall().get("tensorflow");
        s.append(",\n      \"segcam_ms\": ").append(seg.json());
        s.append(",\n      \"tensorflow_ms\": ").append(tf.json());
        s.append(",\n      \"segcam_cpu_ms\": ").append(t.cpu().get("segcam").json());
        s.append(",\n      \"tensorflow_cpu_ms\": ").append(t.cpu().get("tensorflow").json());
        s.append(
            String.format(Locale.ROOT, ",%n      \"ratio\": %.3f", seg.median() / tf.median()));
        s.append(
            String.format(
                Locale.ROOT,
                ", \"cpu_time_ratio\": %.3f",
                t.cpu().get("segcam").median() / t.cpu().get("tensorflow").median()));
      }
      s.append(",\n      \"peers\": {");
      int k = 0;
      for (String p : Peers.NAMES) {
        s.append(k++ == 0 ? "" : ", ").append(Machine.jsonString(p)).append(": ");
        if (t != null && t.wall().containsKey(p)) {
          Stats ps = t.wall().get(p);
          s.append("{\"status\": \"ok\", \"ms\": ").append(ps.json());
          s.append(", \"cpu_ms\": ").append(t.cpu().get(p).json());
          double[] f = m.peerFigures().getOrDefault(p, new double[] {Double.NaN, Double.NaN});
          s.append(
              String.format(
                  Locale.ROOT,
                  ", \"ratio\": %.3f, \"agreement_of_max\": %s, \"peak_mb\": %s}",
                  t.wall().get("segcam").median() / ps.median(),
                  num(f[0], "%.3e"),
                  num(f[1], "%.1f")));
        } else {
          String why = m.peersOff().getOrDefault(p, t == null ? "no timing" : "not requested");
          s.append("{\"status\": \"off\", \"reason\": ")
              .append(Machine.jsonString(why))
              .append("}");
        }
      }
      s.append("}");
      s.append(",\n      \"memory\": {");
      k = 0;
      for (Map.Entry<String, PeakRss.Result> e : m.memory().entrySet()) {
        s.append(k++ == 0 ? "" : ", ").append(Machine.jsonString(e.getKey())).append(": ");
        s.append(e.getValue().json());
      }
      PeakRss.Result sm = m.memory().get("segcam");
      PeakRss.Result tm = m.memory().get("tensorflow");
      if (sm != null && tm != null && sm.error() == null && tm.error() == null) {
        s.append(String.format(Locale.ROOT, ", \"ratio\": %.3f", sm.peakMb() / tm.peakMb()));
      }
      s.append("}");
    }
    return s.append("}").toString();
  }

  /** A number, or null when NaN. */
  private static String num(double v, String fmt) {
    return Double.isNaN(v) ? "null" : String.format(Locale.ROOT, fmt, v);
  }

  static String document(
      CpuVsTensorflowSet.Header h,
      int threads,
      boolean java,
      List<BenchSet.Config> configs,
      List<String> results,
      Map<String, double[]> medians) {
    OneDnnProbe.Status st = OneDnnProbe.status();
    StringBuilder s = new StringBuilder("{\n");
    s.append("  \"benchmark\": \"cpu-vs-tensorflow-set\",\n");
    s.append("  \"what\": ")
        .append(
            Machine.jsonString(
                "Seg-Grad-CAM step (forward, sum of class "
                    + BenchSet.TARGET_CLASS
                    + "'s logits over the centre box of each image, backward to the layer,"
                    + " channel-mean weights, weighted sum + ReLU, bilinear upsampling, min-max"
                    + " normalisation, argmax labels): segcam's Explainer on CpuCamBackend.open"
                    + " (as ./segcam runs it) vs the same steps as TF ops in one Session.run;"
                    + " interleaved after checking the maps agree; peak RSS (VmHWM) of each side"
                    + " alone in a child JVM with the same flags, after "
                    + CpuVsTensorflowSet.MEMORY_STEPS
                    + " steps"))
        .append(",\n");
    s.append("  \"device\": {\"cpu\": ").append(Machine.jsonString(Machine.cpuModel()));
    s.append(", \"cores\": ").append(Machine.cores());
    s.append(", \"mem_total_mb\": ").append(Machine.memTotalMb());
    s.append(", \"cpu_flags\": [")
        .append(
            Machine.cpuFlags().stream().map(Machine::jsonString).collect(Collectors.joining(", ")))
        .append("]");
    s.append(", \"onednn\": {\"available\": ").append(st.available());
    s.append(", \"version\": ").append(Machine.jsonString(String.valueOf(st.version())));
    s.append(", \"isa\": ").append(Machine.jsonString(String.valueOf(st.isa())));
    s.append(", \"threads\": ").append(st.threads()).append("}},\n");
    s.append("  \"date\": ").append(Machine.jsonString(h.date())).append(",\n");
    s.append("  \"commit\": ").append(Machine.jsonString(h.commit())).append(",\n");
    s.append("  \"load_average\": {\"start\": ").append(Machine.loadJson(h.load()));
    s.append(", \"now\": ").append(Machine.loadJson(Machine.loadAverage())).append("},\n");
    s.append("  ")
        .append(Machine.jvmJson())
        .append(", \"max_heap_mb\": ")
        .append(Runtime.getRuntime().maxMemory() >> 20)
        .append(",\n");
    s.append(
        String.format(
            "  \"threads\": %d, \"engine_requested\": \"%s\", \"omp_wait_policy\": %s,%n",
            threads,
            java ? "java" : "onednn",
            Machine.jsonString(String.valueOf(System.getenv("OMP_WAIT_POLICY")))));
    s.append("  \"configs\": [\n").append(String.join(",\n", results)).append("\n  ],\n");
    s.append("  \"batch_scaling\": [");
    int k = 0;
    for (BenchSet.Config c : configs) {
      BenchSet.Config one = new BenchSet.Config(c.model(), c.size(), 1);
      double[] b = medians.get(c.id());
      double[] b1 = medians.get(one.id());
      if (c.batch() == 1 || b == null || b1 == null) {
        continue;
      }
      s.append(k++ == 0 ? "\n" : ",\n")
          .append(
              String.format(
                  Locale.ROOT,
                  "    {\"model\": %s, \"size\": %d, \"batch\": %d, \"segcam_over_batch1\": %.2f,"
                      + " \"tensorflow_over_batch1\": %.2f}",
                  Machine.jsonString(c.model()),
                  c.size(),
                  c.batch(),
                  b[0] / b1[0],
                  b[1] / b1[1]));
    }
    s.append(k == 0 ? "]\n" : "\n  ]\n");
    return s.append("}\n").toString();
  }
}
