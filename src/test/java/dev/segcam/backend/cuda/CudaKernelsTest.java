package dev.segcam.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.segcam.kernels.ColormapKernels;
import dev.segcam.kernels.CpuKernels;
import dev.segcam.kernels.CpuKernels.ScoreMode;
import dev.segcam.kernels.MapDims;
import dev.segcam.kernels.ResizeDims;
import dev.segcam.kernels.ResizeKernels;
import dev.segcam.testing.RequiresGpu;
import dev.segcam.testing.Tolerance;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Every CUDA kernel against its CPU twin on fresh random data (odd sizes, so block tails are hit),
 * every output element compared with {@link Tolerance#CUDA_FP32}.
 */
@RequiresGpu
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CudaKernelsTest {
  private static final Tolerance TOL = Tolerance.CUDA_FP32;

  private final long seed = System.nanoTime();
  private final Random rnd = new Random(seed);
  private CudaContext ctx;
  private CudaKernels k;
  private DeviceArena arena;

  @BeforeAll
  void open() {
    ctx = CudaContext.open(0);
    k = ctx.kernels();
    arena = ctx.arena();
    System.out.println("[cuda] " + ctx.describe() + ", random seed " + seed);
  }

  @AfterAll
  void close() {
    if (ctx != null) {
      System.out.println("[cuda] " + arena.stats());
      ctx.close();
    }
  }

  private float[] random(int n, float lo, float hi) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = lo + (hi - lo) * rnd.nextFloat();
    }
    return a;
  }

  private float[] run(int outFloats, java.util.function.Consumer<DeviceBuffer> launch) {
    try (DeviceBuffer out = arena.floats(outFloats)) {
      launch.accept(out);
      return out.downloadFloats(outFloats);
    }
  }

  @Test
  void maskedScoreSeedAllModes() {
    int n = 3, h = 37, w = 29, c = 6;
    for (ScoreMode mode : ScoreMode.values()) {
      float[] logits = random(n * h * w * c, -4, 4);
      float[] mask = random(n * h * w, -0.5f, 1);
      for (int i = 0; i < mask.length; i++) {
        mask[i] = Math.max(mask[i], 0f); // a third of the pixels outside M
      }
      int[] cls = {rnd.nextInt(c), rnd.nextInt(c), rnd.nextInt(c)};
      float[] score = new float[n];
      float[] seed = new float[logits.length];
      CpuKernels.masked_score_seed(score, seed, logits, mask, cls, n, h, w, c, mode);
      try (DeviceBuffer dl = arena.upload(logits);
          DeviceBuffer dm = arena.upload(mask);
          DeviceBuffer ds = arena.floats(n);
          DeviceBuffer dseed = arena.floats(seed.length)) {
        k.masked_score_seed(ds, dseed, dl, dm, cls, new MapDims(n, h, w, c), mode);
        TOL.assertClose("score " + mode, score, ds.downloadFloats(n));
        TOL.assertClose("seed " + mode, seed, dseed.downloadFloats(seed.length));
      }
    }
  }

  @Test
  void maskedScoreSeedSingleChannelBackground() {
    int n = 2, h = 300, w = 301, c = 1; // > 1024 blocks' worth of pixels: the partial sums cap
    float[] logits = random(n * h * w, -3, 3);
    float[] mask = random(n * h * w, 0, 1);
    int[] cls = {1, 0};
    for (ScoreMode mode : new ScoreMode[] {ScoreMode.SIGMOID, ScoreMode.LOGITS}) {
      float[] score = new float[n];
      float[] seed = new float[logits.length];
      CpuKernels.masked_score_seed(score, seed, logits, mask, cls, n, h, w, c, mode);
      try (DeviceBuffer dl = arena.upload(logits);
          DeviceBuffer dm = arena.upload(mask);
          DeviceBuffer ds = arena.floats(n);
          DeviceBuffer dseed = arena.floats(seed.length)) {
        k.masked_score_seed(ds, dseed, dl, dm, cls, new MapDims(n, h, w, c), mode);
        TOL.assertClose("score " + mode, score, ds.downloadFloats(n));
        TOL.assertClose("seed " + mode, seed, dseed.downloadFloats(seed.length));
      }
    }
  }

  @Test
  void channelMeanAndGradcampp() {
    int n = 2, h = 23, w = 19, kk = 70;
    float[] acts = random(n * h * w * kk, 0, 3);
    float[] grads = random(n * h * w * kk, -1, 1);
    float[] mean = new float[n * kk];
    float[] pp = new float[n * kk];
    CpuKernels.channel_mean(mean, grads, n, h, w, kk);
    CpuKernels.gradcampp_weights(pp, acts, grads, n, h, w, kk);
    try (DeviceBuffer da = arena.upload(acts);
        DeviceBuffer dg = arena.upload(grads)) {
      TOL.assertClose(
          "channel_mean", mean, run(n * kk, o -> k.channel_mean(o, dg, new MapDims(n, h, w, kk))));
      TOL.assertClose(
          "gradcampp_weights",
          pp,
          run(n * kk, o -> k.gradcampp_weights(o, da, dg, new MapDims(n, h, w, kk))));
    }
  }

  @Test
  void weightedAndElementwiseSums() {
    int n = 2, h = 31, w = 17, kk = 45;
    float[] acts = random(n * h * w * kk, 0, 2);
    float[] grads = random(n * h * w * kk, -1, 1);
    float[] alpha = random(n * kk, -1, 1);
    float[] cam = new float[n * h * w];
    try (DeviceBuffer da = arena.upload(acts);
        DeviceBuffer dg = arena.upload(grads);
        DeviceBuffer dal = arena.upload(alpha)) {
      CpuKernels.weighted_sum_relu(cam, acts, alpha, n, h, w, kk);
      TOL.assertClose(
          "weighted_sum_relu",
          cam,
          run(cam.length, o -> k.weighted_sum_relu(o, da, dal, new MapDims(n, h, w, kk))));
      for (boolean relu : new boolean[] {false, true}) {
        CpuKernels.elementwise_sum_relu(cam, acts, grads, n, h, w, kk, relu);
        TOL.assertClose(
            "elementwise_sum_relu relu=" + relu,
            cam,
            run(
                cam.length,
                o -> k.elementwise_sum_relu(o, da, dg, new MapDims(n, h, w, kk), relu)));
      }
    }
  }

  @Test
  void resizeForwardAndBackwardAllModes() {
    int[][] shapes = {
      {7, 5, 64, 48}, {33, 20, 8, 9}, {16, 16, 16, 16}, {1, 3, 5, 7}, {6, 9, 12, 18}
    };
    int n = 2, c = 3;
    for (int[] s : shapes) {
      for (int mode = 0; mode < 3; mode++) {
        int h = s[0], w = s[1], oh = s[2], ow = s[3];
        boolean ac = mode == 1, hp = mode == 2;
        String what = java.util.Arrays.toString(s) + " mode " + mode;
        float[] x = random(n * h * w * c, -1, 1);
        float[] y = random(n * oh * ow * c, -1, 1);
        float[] fwd = new float[y.length];
        float[] bwd = new float[x.length];
        ResizeKernels.resize_bilinear_fwd(fwd, x, new ResizeDims(n, h, w, c, oh, ow, ac, hp));
        ResizeKernels.resize_bilinear_bwd(bwd, y, new ResizeDims(n, h, w, c, oh, ow, ac, hp));
        try (DeviceBuffer dx = arena.upload(x);
            DeviceBuffer dy = arena.upload(y)) {
          TOL.assertClose(
              "resize fwd " + what,
              fwd,
              run(
                  fwd.length,
                  o -> k.resize_bilinear_fwd(o, dx, new ResizeDims(n, h, w, c, oh, ow, ac, hp))));
          TOL.assertClose(
              "resize bwd " + what,
              bwd,
              run(
                  bwd.length,
                  o -> k.resize_bilinear_bwd(o, dy, new ResizeDims(n, h, w, c, oh, ow, ac, hp))));
        }
      }
    }
  }

  @Test
  void normalizeBothWays() {
    int n = 3, h = 41, w = 37;
    float[] maps = random(n * h * w, -2, 5);
    java.util.Arrays.fill(maps, 2 * h * w, 3 * h * w, 0.25f); // a constant map
    float[] out = new float[maps.length];
    try (DeviceBuffer dm = arena.upload(maps)) {
      CpuKernels.minmax_normalize(out, maps, n, h, w);
      TOL.assertClose("minmax", out, run(out.length, o -> k.minmax_normalize(o, dm, n, h, w)));
      CpuKernels.scale_normalize(out, maps, n, h, w, 3.5f);
      TOL.assertClose("scale", out, run(out.length, o -> k.scale_normalize(o, dm, n, h, w, 3.5f)));
    }
  }

  @Test
  void colormapBlendIsByteExact() {
    int h = 45, w = 61;
    float[] map = random(h * w, -0.1f, 1.1f);
    byte[] image = new byte[h * w * 3];
    rnd.nextBytes(image);
    byte[] ref = new byte[h * w * 4];
    ColormapKernels.colormap_blend(ref, map, image, h, w, 0.45f);
    try (DeviceBuffer dm = arena.upload(map);
        DeviceBuffer di = arena.alloc(image.length);
        DeviceBuffer dout = arena.alloc(ref.length)) {
      di.upload(image);
      k.colormap_blend(dout, dm, di, h, w, 0.45f);
      byte[] got = new byte[ref.length];
      dout.download(got);
      assertArrayEquals(ref, got, "RGBA bytes");
    }
  }

  @Test
  void arenaReusesBlocks() {
    long before = arena.reservedBytes();
    for (int i = 0; i < 5; i++) {
      try (DeviceBuffer b = arena.floats(100_000)) {
        b.zero();
      }
    }
    // one block of the size class at most was added, however many times it was asked for
    assertEquals(true, arena.reservedBytes() - before <= DeviceArena.sizeClass(400_000));
  }
}
