package dev.segcam.backend.cuda;

import static dev.segcam.backend.cuda.KernelArgs.BLOCK;
import static dev.segcam.backend.cuda.KernelArgs.MAX_GRID;
import static dev.segcam.backend.cuda.KernelArgs.flat;
import static dev.segcam.backend.cuda.KernelArgs.gridFor;
import static dev.segcam.backend.cuda.KernelArgs.need;

import dev.segcam.kernels.CamKernels;
import dev.segcam.kernels.CpuKernels;
import dev.segcam.kernels.CpuKernels.ScoreMode;
import dev.segcam.kernels.KernelArgumentException;
import dev.segcam.kernels.MapDims;
import dev.segcam.kernels.ResizeDims;
import dev.segcam.kernels.ResizeKernels;
import java.util.Arrays;

/**
 * Launchers for the kernels in {@code kernels/*.cu}, with the names and argument order of their
 * twins in {@link CpuKernels} (device buffers in place of arrays). Each method checks buffer sizes
 * on the host, picks the launch configuration documented in the .cu header, and enqueues on the
 * context's stream without waiting; a download (or {@link CudaContext#synchronize}) waits.
 *
 * <p>Scratch buffers come from the context's arena and go back to it as soon as the work is
 * enqueued: everything runs on one stream, so a later user of the block is ordered after us.
 */
public final class CudaKernels implements AutoCloseable, CamKernels<DeviceBuffer> {
  private static final int MAX_SEED_BLOCKS = 1024;

  private final CudaContext ctx;
  private final PtxModules modules;
  private int[] lastCls;
  private DeviceBuffer clsBuffer;

  CudaKernels(CudaContext ctx) {
    this.ctx = ctx;
    this.modules = new PtxModules(ctx);
  }

  /** CUDA's limit on gridDim.y (and z); gridDim.x may go to 2^31-1. */
  static final int MAX_GRID_Y = 65535;

  /**
   * The kernels put the rows (N) on grid.y: above 65535 the launch would fail with a bare "invalid
   * argument", so it is refused here with the kernel and the row count.
   */
  static void checkGrid(String kernel, int gx, int gy) {
    if (gx < 1 || gy < 1 || gy > MAX_GRID_Y) {
      throw new KernelArgumentException(
          kernel
              + ": grid "
              + gx
              + "x"
              + gy
              + " is outside CUDA's limits (rows on grid.y: 1.."
              + MAX_GRID_Y
              + "); split the batch");
    }
  }

  private void launch(String module, String kernel, int gx, int gy, int bx, int by, Object... a) {
    checkGrid(kernel, gx, gy);
    ctx.makeCurrent();
    modules.get(module).launch(kernel, gx, gy, 1, bx, by, 1, 0, ctx.stream(), a);
  }

  // seed.cu -------------------------------------------------------------------------------------

  /** See {@link CpuKernels#argmax_channels}. */
  @Override
  public void argmax_channels(DeviceBuffer labels, DeviceBuffer logits, int P, int C) {
    if (P < 0 || C < 1) {
      throw new KernelArgumentException("argmax_channels: P=" + P + ", C=" + C);
    }
    need("labels", labels, P);
    need("logits", logits, (long) P * C);
    launch("seed", "argmax_channels", gridFor(P), 1, BLOCK, 1, labels, logits, P, C);
  }

  /** See {@link CpuKernels#region_mask}; the spec (R*6 ints) is uploaded, nothing comes back. */
  @Override
  public void region_mask(
      DeviceBuffer mask, DeviceBuffer labels, int[] spec, int R, int N, int H, int W) {
    long hw = dims(N, H, W, 1);
    if (R <= 0) {
      throw new KernelArgumentException("region_mask: R=" + R);
    }
    need("mask", mask, R * hw);
    need("labels", labels, N * hw);
    if (spec == null || spec.length != R * CpuKernels.REGION_SPEC) {
      throw new KernelArgumentException("region_mask: spec must have 6*R=" + 6 * R + " ints");
    }
    if (R * hw > Integer.MAX_VALUE) {
      throw new KernelArgumentException("region_mask: " + R + " rows of " + hw + " pixels");
    }
    try (DeviceBuffer dspec = ctx.arena().alloc(4L * spec.length)) {
      dspec.upload(spec);
      launch("seed", "region_mask", gridFor(R * hw), 1, BLOCK, 1, mask, labels, dspec, R, N, H, W);
    }
  }

  /** See {@link CpuKernels#masked_score_seed}; {@code cls} stays on the host (checked there). */
  @Override
  public void masked_score_seed(
      DeviceBuffer score,
      DeviceBuffer seed,
      DeviceBuffer logits,
      DeviceBuffer mask,
      int[] cls,
      MapDims d,
      ScoreMode mode) {
    long hw = dims(d);
    int N = d.n();
    int C = d.k();
    need("score", score, N);
    need("seed", seed, N * hw * C);
    need("logits", logits, N * hw * C);
    need("mask", mask, N * hw);
    if (cls == null || cls.length != N) {
      throw new KernelArgumentException("masked_score_seed: cls must have N=" + N + " entries");
    }
    CpuKernels.checkClasses(cls, C);
    int blocks = (int) Math.max(1, Math.min(MAX_SEED_BLOCKS, (hw + BLOCK - 1) / BLOCK));
    DeviceBuffer dcls = classesOnDevice(cls);
    try (DeviceBuffer partial = ctx.arena().alloc(8L * N * blocks)) {
      int gy = Math.min(N, MAX_GRID); // the kernel loops over samples past grid.y
      Object[] args = flat(partial, seed, logits, mask, dcls, d.args(), mode.code);
      launch("seed", "masked_score_seed", blocks, gy, BLOCK, 1, args);
      launch("seed", "masked_score_reduce", N, 1, BLOCK, 1, score, partial, N, blocks);
    }
  }

  /**
   * The classes on the device, uploaded only when they change: a video run asks for the same
   * targets every frame, and an upload is a host sync.
   */
  private synchronized DeviceBuffer classesOnDevice(int[] cls) {
    if (clsBuffer == null || !Arrays.equals(cls, lastCls)) {
      if (clsBuffer != null && clsBuffer.bytes() < 4L * cls.length) {
        clsBuffer.close();
        clsBuffer = null;
      }
      if (clsBuffer == null) {
        clsBuffer = ctx.arena().alloc(4L * cls.length);
      }
      clsBuffer.upload(cls);
      lastCls = cls.clone();
    }
    return clsBuffer;
  }

  // channel_mean.cu -----------------------------------------------------------------------------

  /** See {@link CpuKernels#channel_mean}. */
  @Override
  public void channel_mean(DeviceBuffer alpha, DeviceBuffer grads, MapDims d) {
    channelWeights("channel_mean", alpha, new DeviceBuffer[] {grads}, d);
  }

  /** See {@link CpuKernels#gradcampp_weights}. */
  @Override
  public void gradcampp_weights(
      DeviceBuffer alpha, DeviceBuffer acts, DeviceBuffer grads, MapDims d) {
    channelWeights("gradcampp_weights", alpha, new DeviceBuffer[] {acts, grads}, d);
  }

  /** See {@link CpuKernels#xgradcam_weights}. */
  @Override
  public void xgradcam_weights(
      DeviceBuffer alpha, DeviceBuffer acts, DeviceBuffer grads, MapDims d, float eps) {
    channelWeights("xgradcam_weights", alpha, new DeviceBuffer[] {acts, grads}, d, eps);
  }

  /**
   * A kernel of channel_mean.cu: alpha (N,K) from inputs of (N,H,W,K); blocks of 32x8 threads,
   * (K+31)/32 of them per sample, samples on grid.y (the kernel loops over those past 65535).
   */
  private void channelWeights(
      String kernel, DeviceBuffer alpha, DeviceBuffer[] in, MapDims d, Object... extra) {
    long hw = dims(d);
    need("alpha", alpha, (long) d.n() * d.k());
    for (DeviceBuffer b : in) {
      need(kernel + " input", b, d.n() * hw * d.k());
    }
    int gy = Math.min(d.n(), MAX_GRID);
    Object[] args = flat(alpha, in, d.args(), extra);
    launch("channel_mean", kernel, (d.k() + 31) / 32, gy, 32, 8, args);
  }

  // weighted_sum.cu -----------------------------------------------------------------------------

  /** See {@link CpuKernels#weighted_sum_relu}. */
  @Override
  public void weighted_sum_relu(
      DeviceBuffer cam, DeviceBuffer acts, DeviceBuffer alpha, MapDims d) {
    long hw = dims(d);
    need("cam", cam, d.n() * hw);
    need("acts", acts, d.n() * hw * d.k());
    need("alpha", alpha, (long) d.n() * d.k());
    int grid = (int) ((d.n() * hw + 7) / 8); // one warp per pixel, 8 per block
    Object[] args = flat(cam, acts, alpha, d.args());
    launch("weighted_sum", "weighted_sum_relu", grid, 1, BLOCK, 1, args);
  }

  /** See {@link CpuKernels#elementwise_sum_relu}. */
  @Override
  public void elementwise_sum_relu(
      DeviceBuffer cam, DeviceBuffer acts, DeviceBuffer grads, MapDims d, boolean reluGrads) {
    long hw = dims(d);
    need("cam", cam, d.n() * hw);
    need("acts", acts, d.n() * hw * d.k());
    need("grads", grads, d.n() * hw * d.k());
    int grid = (int) ((d.n() * hw + 7) / 8);
    Object[] args = flat(cam, acts, grads, d.args(), reluGrads ? 1 : 0);
    launch("weighted_sum", "elementwise_sum_relu", grid, 1, BLOCK, 1, args);
  }

  // resize.cu -----------------------------------------------------------------------------------

  /** See {@link ResizeKernels#resize_bilinear_fwd}. */
  @Override
  public void resize_bilinear_fwd(DeviceBuffer out, DeviceBuffer in, ResizeDims d) {
    resize_bilinear("resize_bilinear_fwd", false, out, in, d);
  }

  /** See {@link ResizeKernels#resize_bilinear_bwd}; the sizes and flags as one record. */
  public void resize_bilinear_bwd(DeviceBuffer gradIn, DeviceBuffer gradOut, ResizeDims d) {
    resize_bilinear("resize_bilinear_bwd", true, gradIn, gradOut, d);
  }

  private void resize_bilinear(
      String kernel, boolean backward, DeviceBuffer out, DeviceBuffer in, ResizeDims d) {
    d.check();
    int total = KernelArgs.resize(kernel, backward, out, in, d);
    launch("resize", kernel, gridFor(total), 1, BLOCK, 1, KernelArgs.resize(out, in, d));
  }

  // normalize.cu --------------------------------------------------------------------------------

  /** See {@link CpuKernels#minmax_normalize}. */
  @Override
  public void minmax_normalize(DeviceBuffer out, DeviceBuffer maps, int N, int H, int W) {
    long hw = dims(N, H, W, 1);
    need("out", out, N * hw);
    need("maps", maps, N * hw);
    launch("normalize", "minmax_normalize", N, 1, BLOCK, 1, out, maps, N, H, W);
  }

  /** See {@link CpuKernels#scale_normalize}. */
  @Override
  public void scale_normalize(
      DeviceBuffer out, DeviceBuffer maps, int N, int H, int W, float scale) {
    long hw = dims(N, H, W, 1);
    need("out", out, N * hw);
    need("maps", maps, N * hw);
    if (!(scale > 0f) || Float.isInfinite(scale)) {
      throw new KernelArgumentException(
          "scale_normalize: scale must be finite and > 0, got " + scale);
    }
    launch("normalize", "scale_normalize", gridFor(N * hw), 1, BLOCK, 1, out, maps, N, H, W, scale);
  }

  // colormap.cu ---------------------------------------------------------------------------------

  /**
   * See {@link dev.segcam.kernels.ColormapKernels#colormap_blend}; rgba and image are byte buffers.
   */
  public void colormap_blend(
      DeviceBuffer rgba, DeviceBuffer map, DeviceBuffer image, int H, int W, float alpha) {
    long hw = dims(1, H, W, 1);
    if (rgba.bytes() < 4 * hw || image.bytes() < 3 * hw) {
      throw new KernelArgumentException(
          "colormap_blend: rgba needs "
              + 4 * hw
              + " B, image "
              + 3 * hw
              + " B, got "
              + rgba.bytes()
              + " and "
              + image.bytes());
    }
    need("map", map, hw);
    if (!(alpha >= 0f && alpha <= 1f)) {
      throw new KernelArgumentException("colormap_blend: alpha must be in [0,1], got " + alpha);
    }
    launch("colormap", "colormap_blend", gridFor(hw), 1, BLOCK, 1, rgba, map, image, H, W, alpha);
  }

  // ---------------------------------------------------------------------------------------------

  /** {@link #dims(int, int, int, int)} of feature maps d. */
  private static long dims(MapDims d) {
    return dims(d.n(), d.h(), d.w(), d.k());
  }

  /** Checks dims are positive and the tensor fits int indexing; returns H·W. */
  private static long dims(int N, int H, int W, int C) {
    if (N <= 0 || H <= 0 || W <= 0 || C <= 0) {
      throw new KernelArgumentException(
          "dimensions must be > 0, got N=" + N + " H=" + H + " W=" + W + " C/K=" + C);
    }
    long hw = (long) H * W;
    if (hw * C > Integer.MAX_VALUE) {
      throw new KernelArgumentException(
          "one image of " + H + "x" + W + "x" + C + " is too large for the kernels' int indexing");
    }
    return hw;
  }

  @Override
  public synchronized void close() {
    try {
      modules.close();
    } finally {
      if (clsBuffer != null) {
        clsBuffer.close();
        clsBuffer = null;
      }
    }
  }
}
