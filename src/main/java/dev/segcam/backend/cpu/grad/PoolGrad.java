package dev.segcam.backend.cpu.grad;

import dev.segcam.backend.cpu.Parallel;
import dev.segcam.kernels.CpuKernels;
import dev.segcam.kernels.PoolKernels;

/**
 * Data gradients of pooling, spatial means and resizes. Their windows overlap between output rows,
 * so work is split by (batch item, channel block): those write disjoint parts of dx.
 *
 * <p>Batched targets: dy and dx have batch B = K·N while the forward values have batch N; gradient
 * item b uses the values of image b % N.
 */
public final class PoolGrad {
  private PoolGrad() {}

  /**
   * MaxPool data gradient, routed like TensorFlow's CPU MaxPoolGrad: each output's gradient goes to
   * the FIRST maximum of its window in row-major (h, then w) order; later equal values lose. This
   * matters for windows of ReLU zeros. Padding never wins: only real pixels are candidates.
   *
   * <p>x (N,H,W,C) forward input, dy (B,OH,OW,C) -> dx (B,H,W,C).
   */
  public static float[] maxPoolData(
      float[] x,
      int n,
      int h,
      int w,
      int c,
      float[] dy,
      int batch,
      int oh,
      int ow,
      ConvGrad.Geometry g,
      Parallel par) {
    // pass 1, per forward image: the winning pixel (ih*W+iw) of every output (o,p,c)
    int[] where = new int[n * oh * ow * c];
    par.parallelFor(
        n * oh,
        1,
        (start, end) -> {
          float[] best = new float[c];
          for (int row = start; row < end; row++) {
            int img = row / oh;
            int o = row % oh;
            int hs = o * g.strideH() - g.padTop();
            int he = Math.min(hs + g.kh(), h);
            hs = Math.max(hs, 0);
            for (int p = 0; p < ow; p++) {
              int ws = p * g.strideW() - g.padLeft();
              int we = Math.min(ws + g.kw(), w);
              ws = Math.max(ws, 0);
              int wOff = (row * ow + p) * c;
              boolean first = true;
              for (int ih = hs; ih < he; ih++) {
                for (int iw = ws; iw < we; iw++) {
                  int pix = ih * w + iw;
                  int xOff = (img * h * w + pix) * c;
                  if (first) {
                    for (int ci = 0; ci < c; ci++) {
                      best[ci] = x[xOff + ci];
                      where[wOff + ci] = pix;
                    }
                    first = false;
                  } else {
                    for (int ci = 0; ci < c; ci++) {
                      float v = x[xOff + ci];
                      if (best[ci] < v) {
                        best[ci] = v;
                        where[wOff + ci] = pix;
                      }
                    }
                  }
                }
              }
              if (first) {
                java.util.Arrays.fill(where, wOff, wOff + c, -1); // all padding: routes nowhere
              }
            }
          }
        });
    // pass 2, gathered per input pixel (race-free): sum the gradients of the outputs it won
    float[] dx = new float[batch * h * w * c];
    forCoveringWindows(
        par,
        batch,
        h,
        w,
        c,
        oh,
        ow,
        g,
        (b, pix, win, dxOff) -> {
          int wOff = ((b % n) * oh * ow + win) * c;
          int dyOff = (b * oh * ow + win) * c;
          for (int ci = 0; ci < c; ci++) {
            if (where[wOff + ci] == pix) {
              dx[dxOff + ci] += dy[dyOff + ci];
            }
          }
        });
    return dx;
  }

  /** Takes batch item b's pixel pix = ih*W+iw (channels at dx[dxOff..]), window win = o*OW+p. */
  @FunctionalInterface
  private interface WindowBody {
    void take(int b, int pix, int win, int dxOff);
  }

  /**
   * For every input pixel of (B,H,W,C), every output window of the (OH,OW) grid that covers it,
   * split over threads by input row: windows overlap, so gathering per input pixel keeps every dx
   * entry in one thread's hands.
   */
  private static void forCoveringWindows(
      Parallel par,
      int batch,
      int h,
      int w,
      int c,
      int oh,
      int ow,
      ConvGrad.Geometry g,
      WindowBody body) {
    par.parallelFor(
        batch * h,
        1,
        (start, end) -> {
          for (int row = start; row < end; row++) {
            int b = row / h;
            int ih = row % h;
            int o0 = firstWindow(ih, g.padTop(), g.kh(), g.strideH());
            int o1 = Math.min(oh - 1, (ih + g.padTop()) / g.strideH());
            for (int iw = 0; iw < w; iw++) {
              int dxOff = (row * w + iw) * c;
              int p0 = firstWindow(iw, g.padLeft(), g.kw(), g.strideW());
              int p1 = Math.min(ow - 1, (iw + g.padLeft()) / g.strideW());
              for (int o = o0; o <= o1; o++) {
                for (int p = p0; p <= p1; p++) {
                  body.take(b, ih * w + iw, o * ow + p, dxOff);
                }
              }
            }
          }
        });
  }

  /** First window index (>= 0) whose span [o*stride - pad, +k) covers position i. */
  private static int firstWindow(int i, int pad, int k, int stride) {
    int t = i + pad - k + 1;
    return t <= 0 ? 0 : (t + stride - 1) / stride;
  }

  /**
   * AvgPool data gradient: each output's gradient spread evenly over the real (non-padding) pixels
   * of its window, as TensorFlow's AvgPoolGrad does. Gathered per input row so rows run in
   * parallel.
   *
   * <p>dy (B,OH,OW,C) -> dx (B,H,W,C).
   */
  public static float[] avgPoolData(
      float[] dy,
      int batch,
      int oh,
      int ow,
      int c,
      int h,
      int w,
      ConvGrad.Geometry g,
      Parallel par) {
    float[] rowScale = new float[oh * ow];
    for (int o = 0; o < oh; o++) {
      int hs = o * g.strideH() - g.padTop();
      int rows = Math.min(hs + g.kh(), h) - Math.max(hs, 0);
      for (int p = 0; p < ow; p++) {
        int ws = p * g.strideW() - g.padLeft();
        int cols = Math.min(ws + g.kw(), w) - Math.max(ws, 0);
        int count = rows * cols;
        rowScale[o * ow + p] = count <= 0 ? 0f : (float) (1.0 / count);
      }
    }
    float[] dx = new float[batch * h * w * c];
    forCoveringWindows(
        par,
        batch,
        h,
        w,
        c,
        oh,
        ow,
        g,
        (b, pix, win, dxOff) -> {
          float scale = rowScale[win];
          int dyOff = (b * oh * ow + win) * c;
          for (int ci = 0; ci < c; ci++) {
            dx[dxOff + ci] += dy[dyOff + ci] * scale;
          }
        });
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
   * ResizeBilinear data gradient with the forward's interpolation weights (TF ResizeBilinearGrad):
   * each output pixel's gradient is scattered to its four source pixels.
   *
   * <p>dy (B,OH,OW,C) -> dx (B,H,W,C).
   */
  public static float[] bilinearData(
      float[] dy,
      int batch,
      int oh,
      int ow,
      int c,
      int h,
      int w,
      boolean alignCorners,
      boolean halfPixel,
      Parallel par) {
    int[] top = new int[oh];
    int[] bottom = new int[oh];
    float[] yLerp = new float[oh];
    weights(h, oh, alignCorners, halfPixel, top, bottom, yLerp);
    int[] left = new int[ow];
    int[] right = new int[ow];
    float[] xLerp = new float[ow];
    weights(w, ow, alignCorners, halfPixel, left, right, xLerp);
    // for every input row, the output rows that read it and with which weight
    int[][] srcRows = new int[h][];
    float[][] srcWeights = new float[h][];
    int[] count = new int[h];
    for (int o = 0; o < oh; o++) {
      count[top[o]]++;
      count[bottom[o]]++;
    }
    for (int i = 0; i < h; i++) {
      srcRows[i] = new int[count[i]];
      srcWeights[i] = new float[count[i]];
      count[i] = 0;
    }
    for (int o = 0; o < oh; o++) {
      srcRows[top[o]][count[top[o]]] = o;
      srcWeights[top[o]][count[top[o]]++] = 1f - yLerp[o];
      srcRows[bottom[o]][count[bottom[o]]] = o;
      srcWeights[bottom[o]][count[bottom[o]]++] = yLerp[o];
    }
    float[] dx = new float[batch * h * w * c];
    par.parallelFor(
        batch * h,
        1,
        (start, end) -> {
          for (int row = start; row < end; row++) {
            int b = row / h;
            int ih = row % h;
            int dxRow = row * w * c;
            for (int q = 0; q < srcRows[ih].length; q++) {
              int o = srcRows[ih][q];
              float wy = srcWeights[ih][q];
              for (int p = 0; p < ow; p++) {
                float dxl = xLerp[p];
                float invx = 1f - dxl;
                int dyOff = ((b * oh + o) * ow + p) * c;
                int l = dxRow + left[p] * c;
                int r = dxRow + right[p] * c;
                for (int ci = 0; ci < c; ci++) {
                  float v = dy[dyOff + ci] * wy;
                  dx[l + ci] += v * invx;
                  dx[r + ci] += v * dxl;
                }
              }
            }
          }
        });
    return dx;
  }

  /** TF's compute_interpolation_weights: source indices and lerp of every output coordinate. */
  static void weights(
      int in, int out, boolean alignCorners, boolean halfPixel, int[] lo, int[] hi, float[] lerp) {
    CpuKernels.bilinearTaps(in, out, alignCorners, halfPixel, lo, hi, lerp);
  }

  /** TF's nearest-neighbour source index of every output coordinate. */
  static int[] nearest(int in, int out, boolean alignCorners, boolean halfPixel) {
    float scale = CpuKernels.resizeScale(in, out, alignCorners);
    int[] src = new int[out];
    for (int i = 0; i < out; i++) {
      src[i] = PoolKernels.nearestTap(i, in, scale, alignCorners, halfPixel);
    }
    return src;
  }

  /**
   * ResizeNearestNeighbor data gradient: each output pixel's gradient added to its source pixel.
   *
   * <p>dy (B,OH,OW,C) -> dx (B,H,W,C).
   */
  public static float[] nearestData(
      float[] dy,
      int batch,
      int oh,
      int ow,
      int c,
      int h,
      int w,
      boolean alignCorners,
      boolean halfPixel,
      Parallel par) {
    int[] sy = nearest(h, oh, alignCorners, halfPixel);
    int[] sx = nearest(w, ow, alignCorners, halfPixel);
    float[] dx = new float[batch * h * w * c];
    par.parallelFor(
        batch * h,
        1,
        (start, end) -> {
          for (int row = start; row < end; row++) {
            int b = row / h;
            int ih = row % h;
            for (int o = 0; o < oh; o++) {
              if (sy[o] != ih) {
                continue;
              }
              for (int p = 0; p < ow; p++) {
                int dyOff = ((b * oh + o) * ow + p) * c;
                int dxOff = (row * w + sx[p]) * c;
                for (int ci = 0; ci < c; ci++) {
                  dx[dxOff + ci] += dy[dyOff + ci];
                }
              }
            }
          }
        });
    return dx;
  }
}
