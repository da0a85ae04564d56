package dev.segcam.kernels;

import static dev.segcam.kernels.CpuKernels.ScoreMode.LOGITS;
import static dev.segcam.kernels.CpuKernels.ScoreMode.SIGMOID;
import static dev.segcam.kernels.CpuKernels.ScoreMode.SOFTMAX;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.kernels.CpuKernels.ScoreMode;
import dev.segcam.testing.Tolerance;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CpuKernelsTest {
  /** Hand-computed values, written to a few decimals. */
  private static final Tolerance HAND = new Tolerance(1e-6, 1e-7);

  /** Central finite differences in float logits: only a sanity bound. */
  private static final Tolerance FINITE_DIFF = new Tolerance(2e-2, 2e-3);

  /** Sums of a few hundred products taken in double vs a float-free naive double loop. */
  private static final Tolerance DOUBLE_SUMS = Tolerance.SAME;

  private final Random rnd = new Random(20261123);

  private float[] random(int n, float lo, float hi) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = lo + (hi - lo) * rnd.nextFloat();
    }
    return a;
  }

  // --- masked_score_seed ---------------------------------------------------------------------

  @Test
  void logitsScoreIsMaskedSumAndSeedIsOneHotMask() {
    float[] score = new float[1];
    float[] seed = new float[4];
    CpuKernels.masked_score_seed(
        score,
        seed,
        new float[] {1, 2, 3, 4},
        new float[] {1, 0.5f},
        new int[] {1},
        1,
        1,
        2,
        2,
        LOGITS);
    HAND.assertClose("score", new float[] {4f}, score);
    HAND.assertClose("seed", new float[] {0, 1, 0, 0.5f}, seed);
  }

  @Test
  void softmaxSeedHandChecked() {
    float[] score = new float[1];
    float[] seed = new float[2];
    CpuKernels.masked_score_seed(
        score,
        seed,
        new float[] {0f, (float) Math.log(3)},
        new float[] {1},
        new int[] {1},
        1,
        1,
        1,
        2,
        SOFTMAX);
    HAND.assertClose("score", new float[] {0.75f}, score);
    HAND.assertClose("seed", new float[] {-0.1875f, 0.1875f}, seed);
  }

  @Test
  void sigmoidSingleChannelForegroundAndBackground() {
    float[] score = new float[2];
    float[] seed = new float[2];
    // Two samples, one pixel each, one channel: class 1 = foreground (channel 0), class 0 = 1 - p.
    CpuKernels.masked_score_seed(
        score,
        seed,
        new float[] {0f, 0f},
        new float[] {1, 1},
        new int[] {1, 0},
        2,
        1,
        1,
        1,
        SIGMOID);
    HAND.assertClose("score", new float[] {0.5f, 0.5f}, score);
    HAND.assertClose("seed", new float[] {0.25f, -0.25f}, seed);
  }

  @Test
  void seedIsTheGradientOfTheScore() {
    int n = 2, h = 3, w = 4, c = 5;
    for (ScoreMode mode : ScoreMode.values()) {
      float[] logits = random(n * h * w * c, -3, 3);
      float[] mask = random(n * h * w, 0, 1);
      mask[3] = 0f; // outside M
      int[] cls = {2, 4};
      float[] score = new float[n];
      float[] seed = new float[logits.length];
      CpuKernels.masked_score_seed(score, seed, logits, mask, cls, n, h, w, c, mode);
      float[] fd = new float[logits.length];
      float eps = 1e-2f;
      for (int i = 0; i < logits.length; i++) {
        float[] plus = logits.clone();
        float[] minus = logits.clone();
        plus[i] += eps;
        minus[i] -= eps;
        float[] sp = new float[n];
        float[] sm = new float[n];
        float[] tmp = new float[logits.length];
        CpuKernels.masked_score_seed(sp, tmp, plus, mask, cls, n, h, w, c, mode);
        CpuKernels.masked_score_seed(sm, tmp, minus, mask, cls, n, h, w, c, mode);
        int sample = i / (h * w * c);
        fd[i] = (sp[sample] - sm[sample]) / (2 * eps);
      }
      FINITE_DIFF.assertClose("seed vs finite differences, " + mode, fd, seed);
      for (int k = 0; k < c; k++) {
        assertEquals(0f, seed[3 * c + k], "masked-out pixel has no gradient, " + mode);
      }
    }
  }

  @Test
  void seedRejectsBadClass() {
    assertThrows(
        KernelArgumentException.class,
        () ->
            CpuKernels.masked_score_seed(
                new float[1],
                new float[3],
                new float[3],
                new float[1],
                new int[] {3},
                1,
                1,
                1,
                3,
                LOGITS));
    assertThrows(
        KernelArgumentException.class,
        () ->
            CpuKernels.masked_score_seed(
                new float[1],
                new float[1],
                new float[1],
                new float[1],
                new int[] {2},
                1,
                1,
                1,
                1,
                SIGMOID));
  }

  // --- channel_mean, gradcampp_weights -------------------------------------------------------

  @Test
  void channelMeanMatchesNaive() {
    int n = 2, h = 5, w = 7, k = 6;
    float[] g = random(n * h * w * k, -1, 1);
    float[] alpha = new float[n * k];
    CpuKernels.channel_mean(alpha, g, n, h, w, k);
    float[] ref = new float[n * k];
    for (int b = 0; b < n; b++) {
      for (int ch = 0; ch < k; ch++) {
        double s = 0;
        for (int y = 0; y < h; y++) {
          for (int x = 0; x < w; x++) {
            s += g[((b * h + y) * w + x) * k + ch];
          }
        }
        ref[b * k + ch] = (float) (s / (h * w));
      }
    }
    DOUBLE_SUMS.assertClose("alpha", ref, alpha);
  }

  @Test
  void gradcamppHandChecked() {
    // K=1, two pixels: acts 1 and 3 (sum 4), grads 1 and -1: only the positive pixel counts,
    // a = 1 / (2 + 4 + eps).
    float[] alpha = new float[1];
    CpuKernels.gradcampp_weights(alpha, new float[] {1, 3}, new float[] {1, -1}, 1, 1, 2, 1);
    HAND.assertClose("alpha", new float[] {(float) (1 / (6 + 1e-6))}, alpha);
    // All-zero gradients: the 0/0 guard yields 0, not NaN.
    CpuKernels.gradcampp_weights(alpha, new float[] {0, 0}, new float[] {0, 0}, 1, 1, 2, 1);
    assertEquals(0f, alpha[0]);
  }

  @Test
  void gradcamppOfConstantGradientIsItsShareOfTheMap() {
    // With g constant > 0 and A >= 0: a = 1/(2 + S g), alpha = hw * g / (2 + S g).
    int h = 3, w = 3;
    float[] acts = random(h * w, 0, 2);
    float[] grads = new float[h * w];
    java.util.Arrays.fill(grads, 0.5f);
    double s = 0;
    for (float a : acts) {
      s += a;
    }
    float[] alpha = new float[1];
    CpuKernels.gradcampp_weights(alpha, acts, grads, 1, h, w, 1);
    double g = 0.5;
    HAND.assertClose(
        "alpha",
        new float[] {(float) (h * w * g * g * g / (2 * g * g + s * g * g * g + 1e-6))},
        alpha);
  }

  // --- weighted sums ------------------------------------------------------------------------

  @Test
  void weightedSumReluHandChecked() {
    float[] cam = new float[2];
    CpuKernels.weighted_sum_relu(cam, new float[] {3, 1, 1, 1}, new float[] {1, -2}, 1, 1, 2, 2);
    HAND.assertClose("cam", new float[] {1, 0}, cam);
  }

  @Test
  void elementwiseSumReluHiResAndLayerCam() {
    float[] cam = new float[1];
    CpuKernels.elementwise_sum_relu(
        cam, new float[] {2, 3}, new float[] {1, -1}, 1, 1, 1, 2, false);
    HAND.assertClose("hirescam", new float[] {0}, cam);
    CpuKernels.elementwise_sum_relu(cam, new float[] {2, 3}, new float[] {1, -1}, 1, 1, 1, 2, true);
    HAND.assertClose("layercam", new float[] {2}, cam);
  }

  @Test
  void gradCamEqualsHiResCamAverageWhenNoReluBites() {
    // Σ_k mean(g_k) A_k with constant-in-space A equals the mean over pixels of Σ_k g_k A_k.
    int h = 2, w = 3, k = 4;
    float[] a1 = random(k, 0.5f, 1);
    float[] acts = new float[h * w * k];
    for (int p = 0; p < h * w; p++) {
      System.arraycopy(a1, 0, acts, p * k, k);
    }
    float[] grads = random(h * w * k, 0.1f, 1);
    float[] alpha = new float[k];
    CpuKernels.channel_mean(alpha, grads, 1, h, w, k);
    float[] cam = new float[h * w];
    CpuKernels.weighted_sum_relu(cam, acts, alpha, 1, h, w, k);
    float[] hires = new float[h * w];
    CpuKernels.elementwise_sum_relu(hires, acts, grads, 1, h, w, k, false);
    double mean = 0;
    for (float v : hires) {
      mean += v / (h * w);
    }
    for (float v : cam) {
      assertEquals(mean, v, 1e-5 * mean);
    }
  }

  // --- resize --------------------------------------------------------------------------------

  @Test
  void resizeIdentityWhenSameSize() {
    float[] in = random(2 * 5 * 6 * 3, -1, 1);
    for (int mode = 0; mode < 3; mode++) {
      float[] out = new float[in.length];
      ResizeKernels.resize_bilinear_fwd(
          out, in, new ResizeDims(2, 5, 6, 3, 5, 6, mode == 1, mode == 2));
      assertArrayEquals(in, out, "mode " + mode);
      float[] back = new float[in.length];
      ResizeKernels.resize_bilinear_bwd(
          back, in, new ResizeDims(2, 5, 6, 3, 5, 6, mode == 1, mode == 2));
      assertArrayEquals(in, back, "bwd mode " + mode);
    }
  }

  @Test
  void resizeHandCheckedAllModes() {
    float[] in = {0, 1}; // (1,1,2,1)
    float[] out4 = new float[4];
    ResizeKernels.resize_bilinear_fwd(out4, in, new ResizeDims(1, 1, 2, 1, 1, 4, false, true));
    HAND.assertClose("half pixel", new float[] {0, 0.25f, 0.75f, 1}, out4);
    ResizeKernels.resize_bilinear_fwd(out4, in, new ResizeDims(1, 1, 2, 1, 1, 4, false, false));
    HAND.assertClose("legacy", new float[] {0, 0.5f, 1, 1}, out4);
    float[] out3 = new float[3];
    ResizeKernels.resize_bilinear_fwd(out3, in, new ResizeDims(1, 1, 2, 1, 1, 3, true, false));
    HAND.assertClose("align corners", new float[] {0, 0.5f, 1}, out3);
    float[] gin = new float[2];
    ResizeKernels.resize_bilinear_bwd(
        gin, new float[] {1, 1, 1, 1}, new ResizeDims(1, 1, 2, 1, 1, 4, false, true));
    HAND.assertClose("half pixel bwd", new float[] {2, 2}, gin);
  }

  @Test
  void resizeBackwardIsTheAdjointOfForward() {
    int[][] shapes = {{3, 5, 12, 7}, {8, 8, 3, 2}, {4, 6, 4, 6}, {1, 7, 5, 1}, {16, 16, 64, 48}};
    for (int[] s : shapes) {
      for (int mode = 0; mode < 3; mode++) {
        int n = 2, c = 3;
        int h = s[0], w = s[1], oh = s[2], ow = s[3];
        boolean ac = mode == 1, hp = mode == 2;
        float[] x = random(n * h * w * c, -1, 1);
        float[] y = random(n * oh * ow * c, -1, 1);
        float[] rx = new float[y.length];
        float[] rty = new float[x.length];
        ResizeKernels.resize_bilinear_fwd(rx, x, new ResizeDims(n, h, w, c, oh, ow, ac, hp));
        ResizeKernels.resize_bilinear_bwd(rty, y, new ResizeDims(n, h, w, c, oh, ow, ac, hp));
        double lhs = dot(rx, y);
        double rhs = dot(x, rty);
        String what = java.util.Arrays.toString(s) + " mode " + mode;
        assertEquals(lhs, rhs, 1e-5 * (Math.abs(lhs) + 1), "<Rx,y> vs <x,R^T y> " + what);
      }
    }
  }

  @Test
  void resizeRejectsBothFlags() {
    assertThrows(
        KernelArgumentException.class,
        () ->
            ResizeKernels.resize_bilinear_fwd(
                new float[4], new float[2], new ResizeDims(1, 1, 2, 1, 1, 4, true, true)));
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += (double) a[i] * b[i];
    }
    return s;
  }

  // --- normalize -----------------------------------------------------------------------------

  @Test
  void minmaxNormalizeRangeAndConstantMap() {
    int n = 3, h = 4, w = 5;
    float[] maps = random(n * h * w, -2, 7);
    java.util.Arrays.fill(maps, 2 * h * w, 3 * h * w, 1.5f); // third map constant
    float[] out = new float[maps.length];
    CpuKernels.minmax_normalize(out, maps, n, h, w);
    for (int b = 0; b < 2; b++) {
      float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
      for (int p = 0; p < h * w; p++) {
        float v = out[b * h * w + p];
        assertTrue(v >= 0f && v <= 1f, "in [0,1]: " + v);
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      assertEquals(0f, min);
      assertEquals(1f, max);
    }
    for (int p = 2 * h * w; p < 3 * h * w; p++) {
      assertEquals(0f, out[p], "constant map -> zeros");
    }
    // In place gives the same result.
    CpuKernels.minmax_normalize(maps, maps, n, h, w);
    assertArrayEquals(out, maps);
  }

  @Test
  void scaleNormalizeClamps() {
    float[] out = new float[4];
    CpuKernels.scale_normalize(out, new float[] {-1, 1, 2, 5}, 1, 2, 2, 4f);
    HAND.assertClose("scaled", new float[] {0, 0.25f, 0.5f, 1}, out);
    assertThrows(
        KernelArgumentException.class,
        () -> CpuKernels.scale_normalize(out, new float[4], 1, 2, 2, 0f));
  }

  // --- colormap ------------------------------------------------------------------------------

  @Test
  void jetEndpointsAndMiddle() {
    float[] rgb = new float[3];
    ColormapKernels.jet(0f, rgb);
    assertArrayEquals(new float[] {0, 0, 0.5f}, rgb);
    ColormapKernels.jet(0.5f, rgb);
    assertArrayEquals(new float[] {0.5f, 1, 0.5f}, rgb);
    ColormapKernels.jet(1f, rgb);
    assertArrayEquals(new float[] {0.5f, 0, 0}, rgb);
    ColormapKernels.jet(Float.NaN, rgb);
    assertArrayEquals(new float[] {0, 0, 0.5f}, rgb);
  }

  @Test
  void colormapBlendAlphaZeroKeepsImageAndOneShowsJet() {
    byte[] image = {(byte) 200, 10, 0, 1, 2, 3};
    float[] map = {0f, 1f};
    byte[] rgba = new byte[8];
    ColormapKernels.colormap_blend(rgba, map, image, 1, 2, 0f);
    assertArrayEquals(new byte[] {(byte) 200, 10, 0, (byte) 255, 1, 2, 3, (byte) 255}, rgba);
    ColormapKernels.colormap_blend(rgba, map, image, 1, 2, 1f);
    assertArrayEquals(
        new byte[] {0, 0, (byte) 128, (byte) 255, (byte) 128, 0, 0, (byte) 255}, rgba);
    ColormapKernels.colormap_blend(rgba, map, image, 1, 2, 0.5f);
    // 0.5*200 + 0.5*0 = 100; 0.5*0 + 0.5*127.5 = 63.75 -> 64; 0.5*1 + 0.5*127.5 = 64.25 -> 64
    assertEquals(100, rgba[0] & 0xFF);
    assertEquals(64, rgba[2] & 0xFF);
    assertEquals(64, rgba[4] & 0xFF);
  }

  @Test
  void wrongLengthsAreTypedErrors() {
    assertThrows(
        KernelArgumentException.class,
        () -> CpuKernels.channel_mean(new float[3], new float[10], 1, 2, 2, 3));
    assertThrows(
        KernelArgumentException.class,
        () -> CpuKernels.weighted_sum_relu(new float[4], null, new float[3], 1, 2, 2, 3));
  }
}
