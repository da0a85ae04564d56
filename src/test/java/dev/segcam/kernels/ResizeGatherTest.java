package dev.segcam.kernels;

import dev.segcam.testing.Tolerance;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * resize.cu computes the backward pass as a gather (each input pixel visits the few outputs whose
 * taps can reach it) instead of the twin's scatter. This is a line-by-line Java transcription of
 * that gather, run here without a GPU over many size pairs (extreme ratios, size 1, all three
 * coordinate modes) to show its candidate ranges never miss a tap.
 */
class ResizeGatherTest {
  private static final Tolerance SAME_SUMS = Tolerance.SAME;

  // --- transcription of resize.cu ----------------------------------------------------------

  private static float resizeScale(int in, int out, boolean ac) {
    return (ac && out > 1) ? (in - 1) / (float) (out - 1) : in / (float) out;
  }

  /** {lower, upper} and lerp of output index o. */
  private static float tap(int o, int in, float scale, boolean hp, int[] lu) {
    float src = hp ? ((float) o + 0.5f) * scale - 0.5f : (float) o * scale;
    float fl = (float) Math.floor(src);
    lu[0] = Math.max((int) fl, 0);
    lu[1] = Math.min((int) Math.ceil(src), in - 1);
    return src - fl;
  }

  private static void candidates(int i, int in, int out, float scale, boolean hp, int[] range) {
    if (!(scale > 0f) || in == 1) {
      range[0] = 0;
      range[1] = out - 1;
      return;
    }
    float off = hp ? 0.5f : 0f;
    int lo = (int) Math.floor((i - 1 + off) / scale - off) - 1;
    int hi = (int) Math.ceil((i + 1 + off) / scale - off) + 1;
    if (i == 0) {
      lo = 0;
    }
    if (i == in - 1) {
      hi = out - 1;
    }
    range[0] = Math.max(lo, 0);
    range[1] = Math.min(hi, out - 1);
  }

  private static void gatherBwd(
      float[] gradIn,
      float[] gradOut,
      int n,
      int h,
      int w,
      int c,
      int oh,
      int ow,
      boolean ac,
      boolean hp) {
    float sy = resizeScale(h, oh, ac);
    float sx = resizeScale(w, ow, ac);
    int[] ry = new int[2], rx = new int[2], tb = new int[2], lr = new int[2];
    for (int i = 0; i < gradIn.length; i++) {
      int ch = i % c;
      int r = i / c;
      int ix = r % w;
      r /= w;
      int iy = r % h;
      int b = r / h;
      candidates(iy, h, oh, sy, hp, ry);
      candidates(ix, w, ow, sx, hp, rx);
      double acc = 0;
      for (int oy = ry[0]; oy <= ry[1]; oy++) {
        float ly = tap(oy, h, sy, hp, tb);
        if (tb[0] != iy && tb[1] != iy) {
          continue;
        }
        double wt = tb[0] == iy ? (double) (1f - ly) : 0.0;
        double wb = tb[1] == iy ? (double) ly : 0.0;
        for (int ox = rx[0]; ox <= rx[1]; ox++) {
          float lx = tap(ox, w, sx, hp, lr);
          if (lr[0] != ix && lr[1] != ix) {
            continue;
          }
          double g = gradOut[((b * oh + oy) * ow + ox) * c + ch];
          double wl = (double) (1f - lx);
          double wr = (double) lx;
          if (tb[0] == iy && lr[0] == ix) acc += g * wt * wl;
          if (tb[0] == iy && lr[1] == ix) acc += g * wt * wr;
          if (tb[1] == iy && lr[0] == ix) acc += g * wb * wl;
          if (tb[1] == iy && lr[1] == ix) acc += g * wb * wr;
        }
      }
      gradIn[i] = (float) acc;
    }
  }

  // ------------------------------------------------------------------------------------------

  @Test
  void gatherEqualsScatterOverManySizes() {
    Random rnd = new Random(7);
    int[] sizes = {1, 2, 3, 5, 7, 8, 13, 16, 31, 64, 100};
    for (int hIn : sizes) {
      for (int hOut : sizes) {
        for (int mode = 0; mode < 3; mode++) {
          boolean ac = mode == 1, hp = mode == 2;
          int w = 1 + rnd.nextInt(9);
          int ow = 1 + rnd.nextInt(40);
          int n = 1, c = 2;
          float[] gOut = new float[n * hOut * ow * c];
          for (int i = 0; i < gOut.length; i++) {
            gOut[i] = rnd.nextFloat() * 2 - 1;
          }
          float[] ref = new float[n * hIn * w * c];
          float[] got = new float[ref.length];
          ResizeKernels.resize_bilinear_bwd(
              ref, gOut, new ResizeDims(n, hIn, w, c, hOut, ow, ac, hp));
          gatherBwd(got, gOut, n, hIn, w, c, hOut, ow, ac, hp);
          SAME_SUMS.assertClose(
              "gather vs scatter " + hIn + "x" + w + " <- " + hOut + "x" + ow + " mode " + mode,
              ref,
              got);
        }
      }
    }
  }
}
