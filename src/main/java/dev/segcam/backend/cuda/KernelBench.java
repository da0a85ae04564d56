package dev.segcam.backend.cuda;

import dev.segcam.backend.BackendProbe;
import dev.segcam.kernels.ColormapKernels;
import dev.segcam.kernels.CpuKernels;
import dev.segcam.kernels.CpuKernels.ScoreMode;
import dev.segcam.kernels.MapDims;
import dev.segcam.kernels.ResizeDims;
import dev.segcam.kernels.ResizeKernels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Times each CUDA kernel against its CPU twin at the sizes a 512×512 Seg-Grad-CAM run uses. As in
 * llm.c, every kernel's output is checked against the twin (rtol 1e-5, atol 1e-6) before it is
 * timed; a mismatch ends the run with exit code 1. GPU times are medians of stream-synchronised
 * launches (launch overhead included), CPU times medians of single-threaded twin calls.
 *
 * <p>{@code java ... dev.segcam.backend.cuda.KernelBench [--json FILE] [--reps N]}; exit 3 when no
 * GPU is usable (with the probe's reason).
 */
public final class KernelBench {
  private static final double RTOL = 1e-5;
  private static final double ATOL = 1e-6;

  private final CudaContext ctx;
  private final CudaKernels k;
  private final DeviceArena arena;
  private final int reps;
  private final Random rnd = new Random(42);
  private final List<String> rows = new ArrayList<>();
  private final List<String> json = new ArrayList<>();
  private boolean failed;

  private KernelBench(CudaContext ctx, int reps) {
    this.ctx = ctx;
    this.k = ctx.kernels();
    this.arena = ctx.arena();
    this.reps = reps;
  }

  public static void main(String[] args) throws IOException {
    String jsonPath = null;
    int reps = 50;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--json") && i + 1 < args.length) {
        jsonPath = args[++i];
      } else if (args[i].equals("--reps") && i + 1 < args.length) {
        reps = Integer.parseInt(args[++i]);
      }
    }
    BackendProbe.CudaStatus st = BackendProbe.cuda();
    if (!st.available()) {
      System.err.println("kernel bench: " + st.describe());
      System.exit(3);
    }
    boolean bad;
    try (CudaContext ctx = CudaContext.open(0)) {
      KernelBench b = new KernelBench(ctx, reps);
      b.runAll();
      bad = b.failed;
      System.out.println(st.describe());
      System.out.printf(
          "%-22s %-26s %12s %12s %9s %10s%n",
          "kernel", "shape", "gpu median", "cpu median", "speedup", "tol used");
      b.rows.forEach(System.out::println);
      System.out.println(ctx.arena().stats());
      if (jsonPath != null) {
        String out =
            String.format(
                "{\"device\": \"%s\", \"date\": \"%s\", \"commit\": \"%s\", \"reps\": %d,%n"
                    + " \"kernels\": [%n  %s%n ]}%n",
                st.describe().replace("\"", "'"),
                Instant.now(),
                commit(),
                reps,
                String.join(",\n  ", b.json));
        Files.writeString(Path.of(jsonPath), out, StandardCharsets.UTF_8);
      }
    }
    System.exit(bad ? 1 : 0);
  }

  private static String commit() {
    String c = System.getProperty("segcam.commit");
    if (c != null) {
      return c;
    }
    try {
      return Files.readString(Path.of(".device/commit.txt")).trim();
    } catch (IOException e) {
      return "unknown";
    }
  }

  private float[] random(int n, float lo, float hi) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = lo + (hi - lo) * rnd.nextFloat();
    }
    return a;
  }

  private void runAll() {
    // masked score + seed on the logits of a 512x512, 21-class net
    {
      int n = 1, h = 512, w = 512, c = 21;
      float[] logits = random(n * h * w * c, -4, 4);
      float[] mask = random(n * h * w, -1, 1);
      for (int i = 0; i < mask.length; i++) {
        mask[i] = mask[i] > 0 ? 1f : 0f;
      }
      int[] cls = {7};
      float[] score = new float[n];
      float[] seed = new float[logits.length];
      try (DeviceBuffer dl = arena.upload(logits);
          DeviceBuffer dm = arena.upload(mask);
          DeviceBuffer ds = arena.floats(n);
          DeviceBuffer dseed = arena.floats(seed.length)) {
        Runnable gpu =
            () ->
                k.masked_score_seed(
                    ds, dseed, dl, dm, cls, new MapDims(n, h, w, c), ScoreMode.SOFTMAX);
        Runnable cpu =
            () ->
                CpuKernels.masked_score_seed(
                    score, seed, logits, mask, cls, n, h, w, c, ScoreMode.SOFTMAX);
        bench(
            "masked_score_seed",
            "1x512x512x21 softmax",
            gpu,
            cpu,
            () -> Math.max(err(score, ds), err(seed, dseed)));
      }
    }
    int n = 1, h = 64, w = 64, kk = 256;
    float[] acts = random(n * h * w * kk, 0, 2);
    float[] grads = random(n * h * w * kk, -1, 1);
    float[] alpha = new float[n * kk];
    float[] cam = new float[n * h * w];
    String feat = "1x64x64x256";
    MapDims d = new MapDims(n, h, w, kk);
    try (DeviceBuffer da = arena.upload(acts);
        DeviceBuffer dg = arena.upload(grads);
        DeviceBuffer dal = arena.floats(alpha.length);
        DeviceBuffer dcam = arena.floats(cam.length)) {
      bench(
          "channel_mean",
          feat,
          () -> k.channel_mean(dal, dg, d),
          () -> CpuKernels.channel_mean(alpha, grads, n, h, w, kk),
          () -> err(alpha, dal));
      bench(
          "gradcampp_weights",
          feat,
          () -> k.gradcampp_weights(dal, da, dg, d),
          () -> CpuKernels.gradcampp_weights(alpha, acts, grads, n, h, w, kk),
          () -> err(alpha, dal));
      bench(
          "weighted_sum_relu",
          feat,
          () -> k.weighted_sum_relu(dcam, da, dal, d),
          () -> CpuKernels.weighted_sum_relu(cam, acts, alpha, n, h, w, kk),
          () -> err(cam, dcam));
      bench(
          "elementwise_sum_relu",
          feat,
          () -> k.elementwise_sum_relu(dcam, da, dg, d, false),
          () -> CpuKernels.elementwise_sum_relu(cam, acts, grads, n, h, w, kk, false),
          () -> err(cam, dcam));
    }
    int oh = 512, ow = 512;
    float[] small = random(h * w, 0, 1);
    float[] big = new float[oh * ow];
    ResizeDims up = new ResizeDims(1, h, w, 1, oh, ow, false, true);
    float[] gbig = random(oh * ow, -1, 1);
    float[] gsmall = new float[h * w];
    byte[] image = new byte[oh * ow * 3];
    rnd.nextBytes(image);
    byte[] rgba = new byte[oh * ow * 4];
    try (DeviceBuffer ds = arena.upload(small);
        DeviceBuffer db = arena.floats(big.length);
        DeviceBuffer dgb = arena.upload(gbig);
        DeviceBuffer dgs = arena.floats(gsmall.length);
        DeviceBuffer dn = arena.floats(big.length);
        DeviceBuffer di = arena.alloc(image.length);
        DeviceBuffer drgba = arena.alloc(rgba.length)) {
      di.upload(image);
      bench(
          "resize_bilinear_fwd",
          "64x64 -> 512x512",
          () -> k.resize_bilinear_fwd(db, ds, up),
          () -> ResizeKernels.resize_bilinear_fwd(big, small, up),
          () -> err(big, db));
      bench(
          "resize_bilinear_bwd",
          "512x512 -> 64x64",
          () -> k.resize_bilinear_bwd(dgs, dgb, up),
          () -> ResizeKernels.resize_bilinear_bwd(gsmall, gbig, up),
          () -> err(gsmall, dgs));
      float[] norm = new float[big.length];
      bench(
          "minmax_normalize",
          "1x512x512",
          () -> k.minmax_normalize(dn, db, 1, oh, ow),
          () -> CpuKernels.minmax_normalize(norm, big, 1, oh, ow),
          () -> err(norm, dn));
      bench(
          "colormap_blend",
          "512x512",
          () -> k.colormap_blend(drgba, dn, di, oh, ow, 0.5f),
          () -> ColormapKernels.colormap_blend(rgba, norm, image, oh, ow, 0.5f),
          () -> {
            byte[] got = new byte[rgba.length];
            drgba.download(got);
            return Arrays.equals(rgba, got) ? 0.0 : Double.POSITIVE_INFINITY; // bytes: exact
          });
    }
  }

  /** Checks first (llm.c), then times. */
  private void bench(
      String name,
      String shape,
      Runnable gpu,
      Runnable cpu,
      java.util.function.DoubleSupplier check) {
    cpu.run();
    gpu.run();
    ctx.synchronize(name);
    double maxErr = check.getAsDouble();
    if (!(maxErr <= 1.0)) {
      failed = true;
      rows.add(
          String.format(
              "%-22s %-26s MISMATCH vs CPU twin (%.3g x tolerance): not timed",
              name, shape, maxErr));
      json.add(
          String.format("{\"kernel\": \"%s\", \"shape\": \"%s\", \"ok\": false}", name, shape));
      return;
    }
    for (int i = 0; i < 5; i++) {
      gpu.run();
    }
    ctx.synchronize(name);
    double[] g = new double[reps];
    for (int i = 0; i < reps; i++) {
      long t = System.nanoTime();
      gpu.run();
      ctx.synchronize(name);
      g[i] = (System.nanoTime() - t) / 1e3;
    }
    int cpuReps = Math.max(3, Math.min(reps, 9));
    double[] c = new double[cpuReps];
    for (int i = 0; i < cpuReps; i++) {
      long t = System.nanoTime();
      cpu.run();
      c[i] = (System.nanoTime() - t) / 1e3;
    }
    double gm = median(g);
    double cm = median(c);
    rows.add(
        String.format(
            "%-22s %-26s %9.1f us %9.1f us %8.1fx %10.2g", name, shape, gm, cm, cm / gm, maxErr));
    json.add(
        String.format(
            "{\"kernel\": \"%s\", \"shape\": \"%s\", \"ok\": true, \"gpu_median_us\": %.2f,"
                + " \"cpu_median_us\": %.2f, \"max_rel_excess\": %.3g}",
            name, shape, gm, cm, maxErr));
  }

  /**
   * The share of the tolerance the worst element uses: max over i of |ref−x| / (atol + rtol·|ref|);
   * ≤ 1 passes, 0 is bit-exact, +inf on NaN.
   */
  /** {@link #err(float[], float[])} of the device buffer got, downloaded (ref.length floats). */
  private static double err(float[] ref, DeviceBuffer got) {
    return err(ref, got.downloadFloats(ref.length));
  }

  private static double err(float[] ref, float[] got) {
    double worst = 0;
    for (int i = 0; i < ref.length; i++) {
      double e = Math.abs((double) ref[i] - got[i]);
      if (Double.isNaN(e)) {
        return Double.POSITIVE_INFINITY;
      }
      worst = Math.max(worst, e / (ATOL + RTOL * Math.abs(ref[i])));
    }
    return worst;
  }

  private static double median(double[] a) {
    double[] s = a.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
