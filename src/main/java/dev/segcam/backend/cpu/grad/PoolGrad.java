package dev.segcam.backend.cpu.grad;

import dev.segcam.backend.cpu.Parallel;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.PoolKernels;
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
      float[] x, int n, float[] dy, Shape ds, Shape xs, ConvGrad.Geometry g, Parallel par) {
    int batch = xs.dim(0);
    int h = xs.dim(1);
    int w = xs.dim(2);
    int c = xs.dim(3);
    int oh = ds.dim(1);
    int ow = ds.dim(2);
    float[] dx = new float[batch * h * w * c];
    par.parallelFor(
        batch * h,
        1,
        (lo, hi) ->
            PoolKernels.pool_bwd_rows(
                dx,
                dy,
                x,
                batch,
                n,
                h,
                w,
                c,
                oh,
                ow,
                g.kh(),
                g.kw(),
                g.strideH(),
                g.strideW(),
                g.padTop(),
                g.padLeft(),
                lo,
                hi));
    return dx;
  }

  /** dy (B,C) (or (B,1,1,C)) -> dx (B,H,W,C) = dy / (H·W) at every pixel. */
  public static float[] spatialMeanData(float[] dy, int batch, int h, int w, int c, Parallel par) {
    float[] dx = new float[batch * h * w * c];
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
    int batch = xs.dim(0);
    int h = xs.dim(1);
    int w = xs.dim(2);
    int c = xs.dim(3);
    int oh = ds.dim(1);
    int ow = ds.dim(2);
    float[] dx = new float[batch * h * w * c];
    par.parallelFor(
        batch * h,
        1,
        (lo, hi) -> {
          if (bilinear) {
            ResizeKernels.resize_bilinear_bwd_rows(
                dx, dy, batch, h, w, c, oh, ow, alignCorners, halfPixel, lo, hi);
          } else {
            ResizeKernels.resize_nearest_bwd_rows(
                dx, dy, batch, h, w, c, oh, ow, alignCorners, halfPixel, lo, hi);
          }
        });
    return dx;
  }
}
