package dev.segcam.backend.cpu.grad;

import dev.segcam.backend.cpu.Arena;
import dev.segcam.backend.cpu.Gemm;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.kernels.ConvGeometry;
import java.util.Arrays;

/**
 * Data gradients of the convolutions, one gradient row (b, ih) per task: a task gathers the dy
 * pixels that touch its row (into a small im2col buffer for Conv2D) and multiplies them with the
 * filter taps. Rows are written by exactly one task, so rows run in parallel without locks, and no
 * whole-image im2col buffer is ever allocated.
 */
public final class ConvGrad {
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
}
