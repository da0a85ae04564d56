package dev.segcam.backend.cpu;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;

/**
 * 3x3 stride-1 convolution by Winograd's F(2x2, 3x3): each 2x2 output tile costs 16 products per
 * (input, output) channel pair instead of 36, 2.25x fewer multiply-adds than the GEMM path, which
 * matters because 3x3 convs are nearly all of a U-Net's time. With input tile d (4x4), filter g
 * (3x3): Y = A^T [ (G g G^T) .* (B^T d B) ] A, the elementwise product summed over input channels,
 * which is 16 independent GEMMs (F x C) * (C x tiles) run through {@link Gemm#rowKernel}. Rounding
 * differs from direct convolution by a few ulps of the partial sums (the transforms only add,
 * subtract and halve).
 */
public final class CpuWinograd {
  private CpuWinograd() {}

  /** Tiles per work block (each tile = 2x2 output pixels). */
  private static final int TB = 128;

  /** Transformed filter: u[xi*4+nu] is (F x cp) row-major, cp = padK(C), zeros past C. */
  public record Weights(int c, int f, int cp, float[][] u) {
    // filter (3,3,C,F) -> 16 x (F,cp)
    public static Weights of(FloatTensor filter) {
      Shape s = filter.shape();
      int c = s.dim(2);
      int f = s.dim(3);
      int cp = Gemm.padK(c);
      float[] g = filter.data();
      float[][] u = new float[16][f * cp];
      double[] t = new double[12];
      for (int q = 0; q < c; q++) {
        for (int o = 0; o < f; o++) {
          // tmp (4x3) = G g, G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
          for (int col = 0; col < 3; col++) {
            double g0 = g[((0 * 3 + col) * c + q) * f + o];
            double g1 = g[((1 * 3 + col) * c + q) * f + o];
            double g2 = g[((2 * 3 + col) * c + q) * f + o];
            t[col] = g0;
            t[3 + col] = 0.5 * (g0 + g1 + g2);
            t[6 + col] = 0.5 * (g0 - g1 + g2);
            t[9 + col] = g2;
          }
          for (int row = 0; row < 4; row++) {
            double a = t[row * 3];
            double b = t[row * 3 + 1];
            double d = t[row * 3 + 2];
            int at = o * cp + q;
            u[row * 4][at] = (float) a;
            u[row * 4 + 1][at] = (float) (0.5 * (a + b + d));
            u[row * 4 + 2][at] = (float) (0.5 * (a - b + d));
            u[row * 4 + 3][at] = (float) d;
          }
        }
      }
      return new Weights(c, f, cp, u);
    }
  }

  private static final class Scratch {
    int c = -1;
    int f = -1;
    float[][][] v; // [16][cp][TB]
    float[][][] m; // [16][f][TB]
    float[] patch; // [16][c]

    /** Grow-only, so consecutive layers of different widths reuse the buffers. */
    void ensure(int cp, int ff) {
      if (cp > c) {
        v = new float[16][cp][TB];
        patch = new float[16 * cp];
        c = cp;
      }
      if (ff > f) {
        m = new float[16][ff][TB];
        f = ff;
      }
    }
  }

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  // x (N,H,W,C), weights 16 x (F,cp) -> out (N,OH,OW,F), out pre-filled with the bias
  static void conv3x3(
      Parallel par, FloatTensor x, Weights w, int pt, int pl, int oh, int ow, float[] out) {
    Nhwc d = Nhwc.of(x.shape());
    int f = w.f();
    int cp = w.cp();
    int th = (oh + 1) / 2;
    int tw = (ow + 1) / 2;
    int tiles = d.n() * th * tw;
    int blocks = (tiles + TB - 1) / TB;
    // Few tiles (deep, low-resolution layers): split the output channels too, each chunk redoing
    // its block's input transform, which is cheap next to the 16 GEMMs.
    int threads = par.threads();
    int fChunks = 1;
    if (blocks < 2 * threads) {
      fChunks = Math.max(1, Math.min((2 * threads + blocks - 1) / blocks, f / 8));
    }
    int fSize = (f + fChunks - 1) / fChunks;
    int fc = fChunks;
    float[] xd = x.data();
    par.parallelFor(
        blocks * fChunks,
        1,
        (lo, hi) -> {
          Scratch s = SCRATCH.get();
          s.ensure(cp, f);
          for (int task = lo; task < hi; task++) {
            int blk = task / fc;
            int f0 = (task % fc) * fSize;
            int f1 = Math.min(f, f0 + fSize);
            if (f0 >= f1) {
              continue;
            }
            int t0 = blk * TB;
            int nt = Math.min(TB, tiles - t0);
            inputTransform(xd, d, cp, th, tw, pt, pl, t0, nt, s);
            for (int e = 0; e < 16; e++) {
              float[][] vb = s.v[e];
              float[][] mb = s.m[e];
              float[] ue = w.u()[e];
              for (int o = f0; o < f1; o++) {
                java.util.Arrays.fill(mb[o], 0, nt, 0f);
                Gemm.rowKernel(nt, cp, ue, o * cp, vb, mb[o]);
              }
            }
            outputTransform(out, oh, ow, f, f0, f1, th, tw, t0, nt, s);
          }
        });
  }

  private static void inputTransform(
      float[] xd, Nhwc x, int cp, int th, int tw, int pt, int pl, int t0, int nt, Scratch s) {
    int h = x.h();
    int wd = x.w();
    int c = x.c();
    float[] d = s.patch;
    float[][][] v = s.v;
    int[] at = new int[3];
    for (int j = 0; j < nt; j++) {
      tile(t0 + j, th, tw, at);
      int b = at[0];
      int y0 = at[1] - pt;
      int x0 = at[2] - pl;
      // patch[pos][c], pos = row*4+col of the 4x4 input tile, zeros outside the image
      for (int rr = 0; rr < 4; rr++) {
        int iy = y0 + rr;
        for (int cc = 0; cc < 4; cc++) {
          int ix = x0 + cc;
          int dst = (rr * 4 + cc) * cp;
          if (iy >= 0 && iy < h && ix >= 0 && ix < wd) {
            System.arraycopy(xd, ((b * h + iy) * wd + ix) * c, d, dst, c);
          } else {
            java.util.Arrays.fill(d, dst, dst + c, 0f);
          }
        }
      }
      for (int q = 0; q < c; q++) {
        // tmp = B^T d (rows), then V = tmp B (columns); B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0
        // -1]
        float d00 = d[q], d01 = d[cp + q], d02 = d[2 * cp + q], d03 = d[3 * cp + q];
        float d10 = d[4 * cp + q], d11 = d[5 * cp + q], d12 = d[6 * cp + q], d13 = d[7 * cp + q];
        float d20 = d[8 * cp + q], d21 = d[9 * cp + q], d22 = d[10 * cp + q];
        float d23 = d[11 * cp + q];
        float d30 = d[12 * cp + q], d31 = d[13 * cp + q], d32 = d[14 * cp + q];
        float d33 = d[15 * cp + q];
        float a0 = d00 - d20, a1 = d01 - d21, a2 = d02 - d22, a3 = d03 - d23;
        float b0 = d10 + d20, b1 = d11 + d21, b2 = d12 + d22, b3 = d13 + d23;
        float e0 = d20 - d10, e1 = d21 - d11, e2 = d22 - d12, e3 = d23 - d13;
        float g0 = d10 - d30, g1 = d11 - d31, g2 = d12 - d32, g3 = d13 - d33;
        columnsTimesB(v, 0, q, j, a0, a1, a2, a3);
        columnsTimesB(v, 4, q, j, b0, b1, b2, b3);
        columnsTimesB(v, 8, q, j, e0, e1, e2, e3);
        columnsTimesB(v, 12, q, j, g0, g1, g2, g3);
      }
    }
    // rows c..cp-1 of v multiply zero weights; keep them finite
    for (int e = 0; e < 16; e++) {
      for (int q = c; q < cp; q++) {
        java.util.Arrays.fill(v[e][q], 0, nt, 0f);
      }
    }
  }

  private static void outputTransform(
      float[] out,
      int oh,
      int ow,
      int f,
      int f0,
      int f1,
      int th,
      int tw,
      int t0,
      int nt,
      Scratch s) {
    float[][][] m = s.m;
    int[] at = new int[3];
    for (int j = 0; j < nt; j++) {
      tile(t0 + j, th, tw, at);
      int b = at[0];
      int y = at[1];
      int xx = at[2];
      boolean right = xx + 1 < ow;
      boolean down = y + 1 < oh;
      int o00 = ((b * oh + y) * ow + xx) * f;
      int o01 = o00 + f;
      int o10 = o00 + ow * f;
      int o11 = o10 + f;
      for (int o = f0; o < f1; o++) {
        // Y = A^T M A, A^T = [1 1 1 0; 0 1 -1 -1]
        float m0 = m[0][o][j], m1 = m[1][o][j], m2 = m[2][o][j], m3 = m[3][o][j];
        float m4 = m[4][o][j], m5 = m[5][o][j], m6 = m[6][o][j], m7 = m[7][o][j];
        float m8 = m[8][o][j], m9 = m[9][o][j], m10 = m[10][o][j], m11 = m[11][o][j];
        float m12 = m[12][o][j], m13 = m[13][o][j], m14 = m[14][o][j], m15 = m[15][o][j];
        float u0 = m0 + m4 + m8, u1 = m1 + m5 + m9, u2 = m2 + m6 + m10, u3 = m3 + m7 + m11;
        float w0 = m4 - m8 - m12, w1 = m5 - m9 - m13, w2 = m6 - m10 - m14;
        float w3 = m7 - m11 - m15;
        out[o00 + o] += u0 + u1 + u2;
        if (right) {
          out[o01 + o] += u1 - u2 - u3;
        }
        if (down) {
          out[o10 + o] += w0 + w1 + w2;
          if (right) {
            out[o11 + o] += w1 - w2 - w3;
          }
        }
      }
    }
  }

  /** One row t of tmp = Bᵀd times B: v[at..at+3][q][j] = (t0−t2, t1+t2, t2−t1, t1−t3). */
  private static void columnsTimesB(
      float[][][] v, int at, int q, int j, float t0, float t1, float t2, float t3) {
    v[at][q][j] = t0 - t2;
    v[at + 1][q][j] = t1 + t2;
    v[at + 2][q][j] = t2 - t1;
    v[at + 3][q][j] = t1 - t3;
  }

  /**
   * Tile t of the (N, th, tw) tile grid: at = {image, top row, left column} of its 2x2 output block
   * (the 4x4 input tile starts one padding before).
   */
  private static void tile(int t, int th, int tw, int[] at) {
    int b = t / (th * tw);
    int r = t - b * th * tw;
    int ty = r / tw;
    at[0] = b;
    at[1] = 2 * ty;
    at[2] = 2 * (r - ty * tw);
  }
}
