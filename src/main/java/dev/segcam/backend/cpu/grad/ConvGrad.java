package dev.segcam.backend.cpu.grad;

import dev.segcam.backend.cpu.Arena;
import dev.segcam.backend.cpu.Gemm;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.ConvGeometry;
import java.util.Arrays;

/**
 * Data gradients of the convolutions, one gradient row (b, ih) per task: a task gathers the dy
 * pixels that touch its row (into a small im2col buffer for Conv2D) and multiplies them with the
 * filter taps. Rows are written by exactly one task, so rows run in parallel without locks, and no
 * whole-image im2col buffer is ever allocated.
 */
public final class ConvGrad {
  /** Elements per parallel chunk below which a split is not worth a thread hand-off. */
  private static final int SCATTER_GRAIN = 1 << 14;

  private ConvGrad() {}

  /**
   * Conv2D data gradient computed pixel-major, one dx row at a time: dx_row (W, C) += dy-im2col (W,
   * KW·F) · taps (KW·F, C) per kernel row, skipping zero dy entries (ReLU-masked gradients are
   * about half zeros). Best for many input channels and for strided convolutions.
   *
   * <p>dy (B,OH,OW,F), filter (KH,KW,C,F) -> dx (B,H,W,C), the sizes from g (only its pads before
   * are read).
   */
  public static float[] conv2dDataPixelMajor(
      float[] dy, float[] filter, ConvGeometry g, Parallel par) {
    int kw = g.kw();
    int c = g.c();
    int f = g.f();
    int w = g.w();
    // filter (KH,KW,C,F) -> taps[(kh,kw,f)] (C): rows of B for dx_row += dy_cols · taps
    float[][] taps = new float[g.kh() * kw * f][c];
    for (int t = 0; t < g.kh() * kw; t++) {
      for (int ci = 0; ci < c; ci++) {
        for (int fi = 0; fi < f; fi++) {
          taps[t * f + fi][ci] = filter[(t * c + ci) * f + fi];
        }
      }
    }
    float[] dx = Arena.zeros(g.n() * g.h() * w * c);
    int kCols = kw * f;
    par.parallelFor(
        g.n() * g.h(),
        1,
        (start, end) -> {
          float[] col = new float[w * kCols];
          for (int row = start; row < end; row++) {
            int b = row / g.h();
            int ih = row % g.h();
            int dxRow = row * w * c;
            for (int r = 0; r < g.kh(); r++) {
              int oy = g.outRow(ih, r);
              if (oy < 0) {
                continue;
              }
              int dyRow = (b * g.oh() + oy) * g.ow();
              boolean any = false;
              for (int iw = 0; iw < w; iw++) {
                for (int s = 0; s < kw; s++) {
                  int ox = g.outCol(iw, s);
                  int dst = iw * kCols + s * f;
                  if (ox < 0) {
                    Arrays.fill(col, dst, dst + f, 0f);
                  } else {
                    System.arraycopy(dy, (dyRow + ox) * f, col, dst, f);
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
   * <p>dy (B,OH,OW,C*M), filter (KH,KW,C,M) -> dx (B,H,W,C), the sizes from g (F = C·M); output
   * channel c*M+m reads input channel c.
   */
  public static float[] depthwiseData(float[] dy, float[] filter, ConvGeometry g, Parallel par) {
    int kw = g.kw();
    int c = g.c();
    int cm = g.f();
    int m = cm / c;
    int w = g.w();
    float[] dx = Arena.zeros(g.n() * g.h() * w * c);
    par.parallelFor(
        g.n() * g.h(),
        1,
        (start, end) -> {
          for (int row = start; row < end; row++) {
            int b = row / g.h();
            int ih = row % g.h();
            for (int r = 0; r < g.kh(); r++) {
              int oy = g.outRow(ih, r);
              if (oy < 0) {
                continue;
              }
              int dyRow = (b * g.oh() + oy) * g.ow();
              for (int iw = 0; iw < w; iw++) {
                int dxOff = (row * w + iw) * c;
                for (int s = 0; s < kw; s++) {
                  int ox = g.outCol(iw, s);
                  if (ox < 0) {
                    continue;
                  }
                  int dyOff = (dyRow + ox) * cm;
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

  /**
   * The filter of a Conv2D whose data gradient is wanted for some input channels only (a conv over
   * a channel Concat of which one input needs no gradient).
   *
   * <p>filter (KH,KW,C,F) -> (KH,KW,keep.length,F) with only the kept input channels.
   */
  public static float[] inputChannels(FloatTensor filter, int[] keep) {
    Shape s = filter.shape();
    int taps = s.dim(0) * s.dim(1);
    int c = s.dim(2);
    int f = s.dim(3);
    float[] src = filter.data();
    float[] out = Arena.floats(taps * keep.length * f); // every element is copied in
    for (int t = 0; t < taps; t++) {
      for (int q = 0; q < keep.length; q++) {
        System.arraycopy(src, (t * c + keep[q]) * f, out, (t * keep.length + q) * f, f);
      }
    }
    return out;
  }

  /**
   * The data gradient over all channels from the one over the kept channels ({@link
   * #inputChannels}), zero in the others.
   *
   * <p>d (P, keep.length) -> (P, channels).
   */
  public static float[] scatterChannels(float[] d, int[] keep, int channels, Parallel pool) {
    int k = keep.length;
    int pixels = d.length / k;
    float[] out = Arena.floats(pixels * channels); // every element is written
    pool.parallelFor(
        pixels,
        Math.max(1, SCATTER_GRAIN / channels),
        (lo, hi) -> {
          for (int p = lo; p < hi; p++) {
            int o = p * channels;
            Arrays.fill(out, o, o + channels, 0f);
            for (int q = 0; q < k; q++) {
              out[o + keep[q]] = d[p * k + q];
            }
          }
        });
    return out;
  }
}
