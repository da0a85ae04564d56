package dev.segcam.backend.cpu.grad;

import dev.segcam.backend.cpu.Arena;
import dev.segcam.backend.cpu.Nhwc;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.ConvGeometry;
import dev.segcam.kernels.PoolKernels;
import dev.segcam.kernels.ResizeDims;
import dev.segcam.kernels.ResizeKernels;

/**
 * Data gradients of pooling, spatial means and resizes: the kernels' twins ({@link PoolKernels},
 * {@link ResizeKernels}) run over ranges of input rows in parallel. Each twin gathers per input
 * pixel, so the ranges write disjoint parts of dx.
 *
 * <p>Batched targets: dy and dx have batch B = K·N while the forward values have batch N; gradient
 * item b uses the values of image b % N.
 */
public final class PoolGrad {
  private PoolGrad() {}

  /**
   * MaxPool (x given) or AvgPool (x null) data gradient, as TensorFlow's CPU MaxPoolGrad and
   * AvgPoolGrad: max pooling routes each output's gradient to the FIRST maximum of its window in
   * row-major (h, then w) order (later equal values lose, which matters for windows of ReLU zeros;
   * padding never wins), average pooling spreads it evenly over the window's real pixels.
   *
   * <p>x (N,H,W,C) forward input or null, dy (B,OH,OW,C) of shape ds -> dx (B,H,W,C) of shape xs.
   */
  public static float[] poolData(
      float[] x, int n, float[] dy, Shape ds, Shape xs, ConvGeometry g, Parallel par) {
    // x's batch n; the twin reads only the pads before
    ConvGeometry w = g.withBatch(n);
    return inputRows(
        par,
        ds,
        xs,
        (dx, d, oh, ow, lo, hi) -> PoolKernels.poolBwdRows(dx, dy, x, d.n(), w, lo, hi));
  }

  /** A twin's range variant over rows [lo, hi) of the B·H input rows of dx (dims d). */
  @FunctionalInterface
  private interface InputRows {
    void run(float[] dx, Nhwc d, int oh, int ow, int lo, int hi);
  }

  /**
   * Runs rows over the B·H rows of dx (shape xs) for a gradient dy of shape ds, in parallel: the
   * twins gather per input pixel, so the ranges write disjoint rows.
   */
  private static float[] inputRows(Parallel par, Shape ds, Shape xs, InputRows rows) {
    Nhwc d = Nhwc.of(xs);
    Nhwc dyd = Nhwc.of(ds);
    float[] dx = Arena.zeros(d.size());
    par.parallelFor(d.n() * d.h(), 1, (lo, hi) -> rows.run(dx, d, dyd.h(), dyd.w(), lo, hi));
    return dx;
  }

  /** dy (B,C) (or (B,1,1,C)) -> dx (B,H,W,C) = dy / (H·W) at every pixel. */
  public static float[] spatialMeanData(float[] dy, int batch, int h, int w, int c, Parallel par) {
    float[] dx = Arena.zeros(batch * h * w * c);
    int hw = h * w;
    par.parallelFor(
        batch * hw,
        Math.max(1, (1 << 14) / Math.max(1, c)),
        (lo, hi) -> PoolKernels.spatialMeanBwdRows(dx, dy, lo, hi, hw, c));
    return dx;
  }

  /**
   * ResizeBilinear (or, with {@code bilinear} false, ResizeNearestNeighbor) data gradient with the
   * forward's taps and weights (TF ResizeBilinearGrad / ResizeNearestNeighborGrad).
   *
   * <p>dy (B,OH,OW,C) of shape ds -> dx (B,H,W,C) of shape xs.
   */
  public static float[] resizeData(
      boolean bilinear,
      float[] dy,
      Shape ds,
      Shape xs,
      boolean alignCorners,
      boolean halfPixel,
      Parallel par) {
    return inputRows(
        par,
        ds,
        xs,
        (dx, d, oh, ow, lo, hi) -> {
          ResizeDims r =
              new ResizeDims(d.n(), d.h(), d.w(), d.c(), oh, ow, alignCorners, halfPixel);
          if (bilinear) {
            ResizeKernels.resize_bilinear_bwd_rows(dx, dy, r, lo, hi);
          } else {
            ResizeKernels.resize_nearest_bwd_rows(dx, dy, r, lo, hi);
          }
        });
  }
}
