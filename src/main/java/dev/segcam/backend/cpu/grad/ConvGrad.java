package dev.segcam.backend.cpu.grad;

import dev.segcam.backend.cpu.Arena;
import dev.segcam.backend.cpu.Gemm;
import dev.segcam.backend.cpu.Parallel;
import java.util.Arrays;

/**
 * Data gradients of the convolutions, one gradient row (b, ih) per task: a task gathers the dy
 * pixels that touch its row (into a small im2col buffer for Conv2D) and multiplies them with the
 * filter taps. Rows are written by exactly one task, so rows run in parallel without locks, and no
 * whole-image im2col buffer is ever allocated.
 */
public final class ConvGrad {
  private ConvGrad() {}

  /** Geometry of one 2-D window op along both axes, with TensorFlow's explicit top/left pad. */
  public record Geometry(
      int kh,
      int kw,
      int strideH,
      int strideW,
      int dilationH,
      int dilationW,
      int padTop,
      int padLeft) {}

  /**
   * Conv2D data gradient computed pixel-major, one dx row at a time: dx_row (W, C) += dy-im2col (W,
   * KW·F) · taps (KW·F, C) per kernel row, skipping zero dy entries (ReLU-masked gradients are
   * about half zeros). Best for many input channels and for strided convolutions.
   */
  public static float[] conv2dDataPixelMajor(
      float[] dy,
      int batch,
      int oh,
      int ow,
      float[] filter,
      int c,
      int f,
      int h,
      int w,
      Geometry g,
      Parallel par) {
    int kh = g.kh();
    int kw = g.kw();
    // filter (KH,KW,C,F) -> taps[(kh,kw,f)] (C): rows of B for dx_row += dy_cols · taps
    float[][] taps = new float[kh * kw * f][c];
    for (int t = 0; t < kh * kw; t++) {
      for (int ci = 0; ci < c; ci++) {
        for (int fi = 0; fi < f; fi++) {
          taps[t * f + fi][ci] = filter[(t * c + ci) * f + fi];
        }
      }
    }
    float[] dx = Arena.zeros(batch * h * w * c);
    int kCols = kw * f;
    par.parallelFor(
        batch * h,
        1,
        (start, end) -> {
          float[] col = new float[w * kCols];
          for (int row = start; row < end; row++) {
            int b = row / h;
            int ih = row % h;
            int dxRow = row * w * c;
            for (int r = 0; r < kh; r++) {
              int t = ih + g.padTop() - r * g.dilationH();
              if (t < 0 || t % g.strideH() != 0 || t / g.strideH() >= oh) {
                continue;
              }
              int dyRow = (b * oh + t / g.strideH()) * ow;
              boolean any = false;
              for (int iw = 0; iw < w; iw++) {
                for (int s = 0; s < kw; s++) {
                  int u = iw + g.padLeft() - s * g.dilationW();
                  int dst = iw * kCols + s * f;
                  if (u < 0 || u % g.strideW() != 0 || u / g.strideW() >= ow) {
                    Arrays.fill(col, dst, dst + f, 0f);
                  } else {
                    System.arraycopy(dy, (dyRow + u / g.strideW()) * f, col, dst, f);
                    any = true;
                  }
                }
              }
              if (any) {
                Gemm.addSkippingZeros(w, c, kCols, col, 0, kCols, taps, r * kCols, dx, dxRow, c);
              }
            }
          }
        });
    return dx;
  }

  /**
   * Data gradient of DepthwiseConv2dNative.
   *
   * <p>dy (B,OH,OW,C*M), filter (KH,KW,C,M) -> dx (B,H,W,C); output channel c*M+m reads input
   * channel c.
   */
  public static float[] depthwiseData(
      float[] dy,
      int batch,
      int oh,
      int ow,
      float[] filter,
      int c,
      int m,
      int h,
      int w,
      Geometry g,
      Parallel par) {
    int kh = g.kh();
    int kw = g.kw();
    int cm = c * m;
    float[] dx = Arena.zeros(batch * h * w * c);
    par.parallelFor(
        batch * h,
        1,
        (start, end) -> {
          for (int row = start; row < end; row++) {
            int b = row / h;
            int ih = row % h;
            for (int r = 0; r < kh; r++) {
              int t = ih + g.padTop() - r * g.dilationH();
              if (t < 0 || t % g.strideH() != 0 || t / g.strideH() >= oh) {
                continue;
              }
              int dyRow = (b * oh + t / g.strideH()) * ow;
              for (int iw = 0; iw < w; iw++) {
                int dxOff = (row * w + iw) * c;
                for (int s = 0; s < kw; s++) {
                  int u = iw + g.padLeft() - s * g.dilationW();
                  if (u < 0 || u % g.strideW() != 0 || u / g.strideW() >= ow) {
                    continue;
                  }
                  int dyOff = (dyRow + u / g.strideW()) * cm;
                  int fOff = (r * kw + s) * cm;
                  if (m == 1) {
                    for (int ci = 0; ci < c; ci++) {
                      dx[dxOff + ci] += dy[dyOff + ci] * filter[fOff + ci];
                    }
                  } else {
                    for (int ci = 0; ci < c; ci++) {
                      float acc = 0f;
                      for (int mi = 0; mi < m; mi++) {
                        acc += dy[dyOff + ci * m + mi] * filter[fOff + ci * m + mi];
                      }
                      dx[dxOff + ci] += acc;
                    }
                  }
                }
              }
            }
          }
        });
    return dx;
  }
}
