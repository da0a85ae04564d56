package dev.segcam.kernels;

import static dev.segcam.kernels.KernelArgs.length;
import static dev.segcam.kernels.KernelArgs.positive;

/**
 * Pure-Java twins of the CUDA kernels in {@code kernels/*.cu}, same names and argument order
 * (output arrays first, then inputs, then dimensions), as in llm.c: every CUDA kernel is checked
 * against its twin here before it is trusted or timed.
 *
 * <p>All tensors are flat row-major float arrays, images NHWC. Reductions accumulate in double,
 * both here and on the GPU, so that the summation order (sequential here, trees on the GPU) cannot
 * move a float result by more than one rounding; element-wise float arithmetic is written in the
 * same order as in the .cu files, which are compiled without FMA contraction ({@code -fmad=false}),
 * so that most outputs agree bit for bit.
 */
public final class CpuKernels {
  private CpuKernels() {}

  /**
   * What the masked score sums: raw logits, softmax probabilities (over the channel axis), or
   * per-channel sigmoid probabilities. The code is the {@code mode} argument of the CUDA kernel.
   */
  public enum ScoreMode {
    LOGITS(0),
    SOFTMAX(1),
    SIGMOID(2);

    public final int code;

    ScoreMode(int code) {
      this.code = code;
    }
  }

  /** Grad-CAM++'s guard against 0/0, as in pytorch-grad-cam (added to the denominator). */
  public static final double GRADCAMPP_EPS = 1e-6;

  // ---------------------------------------------------------------------------------------------
  // seed.cu

  /**
   * {@code // logits (P,C) -> labels (P)}: argmax over the channels per pixel as a float label
   * (lowest index on ties, strict '&gt;' so a NaN never wins over channel 0); C == 1 is a sigmoid:
   * 1 where the logit is &gt; 0, else 0. The predicted label map without downloading the logits.
   */
  public static void argmax_channels(float[] labels, float[] logits, int P, int C) {
    for (int p = 0; p < P; p++) {
      int base = p * C;
      int best = 0;
      if (C == 1) {
        best = logits[base] > 0f ? 1 : 0;
      } else {
        float bv = logits[base];
        for (int c = 1; c < C; c++) {
          if (logits[base + c] > bv) {
            bv = logits[base + c];
            best = c;
          }
        }
      }
      labels[p] = best;
    }
  }

  /**
   * The Seg-Grad-CAM objective and its gradient with respect to the network output.
   *
   * <p>{@code // logits (N,H,W,C), mask (N,H,W), cls (N) -> score (N), seed (N,H,W,C)}
   *
   * <p>score[n] = Σ_{h,w} mask[n,h,w] · f(y[n,h,w,:])[c], and seed = dscore/dy:
   *
   * <ul>
   *   <li>LOGITS: f = y; seed = mask on channel c (one-hot).
   *   <li>SOFTMAX: f = softmax(y); seed_k = mask · p_c · (δ_kc − p_k).
   *   <li>SIGMOID: f = σ(y) per channel; seed = mask · σ(1−σ) on channel c.
   * </ul>
   *
   * <p>Single-channel outputs (C == 1, a binary model with one sigmoid/logit channel) follow the
   * "class 1 = foreground" convention: cls 1 scores channel 0, and cls 0 scores the background,
   * that is 1 − f (for LOGITS −y, the logit of the background). For C > 1, cls must be in [0, C).
   *
   * <p>The mask is a float weight: 1 inside M, 0 outside, anything else to weight pixels.
   *
   * <p>{@code seed} may be null: then only the scores are computed (the sparse seed of {@code
   * dev.segcam.backend.SparseSeed} keeps the seed as a factor per pixel instead).
   */
  public static void masked_score_seed(
      float[] score,
      float[] seed,
      float[] logits,
      float[] mask,
      int[] cls,
      int N,
      int H,
      int W,
      int C,
      ScoreMode mode) {
    int hw = pixels(N, H, W);
    positive("C", C);
    length("score", score, N);
    if (seed != null) {
      length("seed", seed, (long) N * hw * C);
    }
    length("logits", logits, (long) N * hw * C);
    length("mask", mask, (long) N * hw);
    length("cls", cls, N);
    if (mode == null) {
      throw new KernelArgumentException("masked_score_seed: mode is null");
    }
    for (int n = 0; n < N; n++) {
      int c = scoredChannel(cls[n], C, n);
      // Background of a single-channel model: score 1 - f (LOGITS: -y), seed negated.
      boolean background = C == 1 && cls[n] == 0;
      double sign = background ? -1.0 : 1.0;
      double acc = 0.0;
      for (int p = 0; p < hw; p++) {
        int base = (n * hw + p) * C;
        double m = mask[n * hw + p];
        if (seed != null) {
          for (int k = 0; k < C; k++) {
            seed[base + k] = 0f;
          }
        }
        if (m == 0.0) {
          continue; // outside M: no score, no gradient (also ignores NaN logits there)
        }
        if (mode == ScoreMode.LOGITS) {
          double y = logits[base + c];
          acc += m * (background ? -y : y);
          if (seed != null) {
            seed[base + c] = (float) (sign * m);
          }
        } else if (mode == ScoreMode.SIGMOID) {
          double s = sigmoid(logits[base + c]);
          acc += m * (background ? 1.0 - s : s);
          if (seed != null) {
            seed[base + c] = (float) (sign * m * s * (1.0 - s));
          }
        } else {
          double max = Double.NEGATIVE_INFINITY;
          for (int k = 0; k < C; k++) {
            max = Math.max(max, logits[base + k]);
          }
          double sum = 0.0;
          for (int k = 0; k < C; k++) {
            sum += Math.exp(logits[base + k] - max);
          }
          double pc = Math.exp(logits[base + c] - max) / sum;
          acc += m * (background ? 1.0 - pc : pc);
          for (int k = 0; seed != null && k < C; k++) {
            double pk = Math.exp(logits[base + k] - max) / sum;
            double d = (k == c ? pc * (1.0 - pk) : -pc * pk);
            seed[base + k] = (float) (sign * m * d);
          }
        }
      }
      score[n] = (float) acc;
    }
  }

  /** {@link #region_mask} kinds: a zero row, the pixels predicted as the class, a box. */
  public static final int REGION_ZERO = 0;

  public static final int REGION_PREDICTED = 1;
  public static final int REGION_BOX = 2;

  /** Ints per row of a {@link #region_mask} spec: kind, cls, x0, y0, x1, y1. */
  public static final int REGION_SPEC = 6;

  /**
   * {@code // labels (N,H,W), spec (R,6) -> mask (R,H,W)}: the region M of each target row where
   * the label maps live. spec row r = {kind, cls, x0, y0, x1, y1}, image n = r % N: ZERO gives 0,
   * PREDICTED 1 where labels[n,p] == cls, BOX 1 where x0 &lt;= x &lt; x1 and y0 &lt;= y &lt; y1.
   */
  public static void region_mask(
      float[] mask, float[] labels, int[] spec, int R, int N, int H, int W) {
    int hw = pixels(N, H, W);
    length("mask", mask, (long) R * hw);
    length("labels", labels, (long) N * hw);
    length("spec", spec, (long) R * REGION_SPEC);
    for (int r = 0; r < R; r++) {
      int o = r * REGION_SPEC;
      int kind = spec[o];
      if (kind != REGION_ZERO && kind != REGION_PREDICTED && kind != REGION_BOX) {
        throw new KernelArgumentException("region_mask: row " + r + " has kind " + kind);
      }
      for (int p = 0; p < hw; p++) {
        float v = 0f;
        if (kind == REGION_PREDICTED) {
          v = labels[(r % N) * hw + p] == (float) spec[o + 1] ? 1f : 0f;
        } else if (kind == REGION_BOX) {
          int y = p / W;
          int x = p - y * W;
          v = x >= spec[o + 2] && x < spec[o + 4] && y >= spec[o + 3] && y < spec[o + 5] ? 1f : 0f;
        }
        mask[r * hw + p] = v;
      }
    }
  }

  /** Numerically stable logistic function, same branches as seed.cu. */
  public static double sigmoid(double y) {
    if (y >= 0) {
      return 1.0 / (1.0 + Math.exp(-y));
    }
    double e = Math.exp(y);
    return e / (1.0 + e);
  }

  /**
   * Checks requested classes against an output of C channels with masked_score_seed's rule (for C
   * == 1: 1 = foreground, 0 = background; else [0, C)). The CUDA wrapper runs it on the host.
   */
  public static void checkClasses(int[] cls, int C) {
    positive("C", C);
    for (int n = 0; n < cls.length; n++) {
      scoredChannel(cls[n], C, n);
    }
  }

  private static int scoredChannel(int cls, int C, int n) {
    if (C == 1) {
      if (cls != 0 && cls != 1) {
        throw new KernelArgumentException(
            "masked_score_seed: sample "
                + n
                + " asks for class "
                + cls
                + " of a single-channel output; use 1 (foreground, channel 0) or 0 (background)");
      }
      return 0;
    }
    if (cls < 0 || cls >= C) {
      throw new KernelArgumentException(
          "masked_score_seed: sample " + n + " asks for class " + cls + ", output has " + C);
    }
    return cls;
  }

  // ---------------------------------------------------------------------------------------------
  // channel_mean.cu

  /**
   * Grad-CAM weights: the spatial mean of the gradient of each channel.
   *
   * <p>{@code // grads (N,H,W,K) -> alpha (N,K)}
   */
  public static void channel_mean(float[] alpha, float[] grads, int N, int H, int W, int K) {
    int hw = channelWeightArgs(alpha, null, grads, N, H, W, K);
    channelMeanRows(alpha, grads, 0, N, hw, K);
  }

  /**
   * {@link #channel_mean} on images [lo, hi) without the argument checks: also the CPU engine's
   * SpatialMean forward, run over ranges of images in parallel.
   *
   * <p>{@code // grads (N,HW,K) -> alpha (N,K)}
   */
  public static void channelMeanRows(float[] alpha, float[] grads, int lo, int hi, int hw, int K) {
    double[] acc = new double[K];
    for (int n = lo; n < hi; n++) {
      sumOverPixels(acc, grads, n, hw, K);
      for (int k = 0; k < K; k++) {
        alpha[n * K + k] = (float) (acc[k] / hw);
      }
    }
  }

  /** acc[k] = Σ_p x[n,p,k] in double, pixels in order: the channel kernels' spatial sum. */
  private static void sumOverPixels(double[] acc, float[] x, int n, int hw, int K) {
    java.util.Arrays.fill(acc, 0.0);
    for (int p = 0; p < hw; p++) {
      int base = (n * hw + p) * K;
      for (int k = 0; k < K; k++) {
        acc[k] += x[base + k];
      }
    }
  }

  /**
   * Grad-CAM++ weights in closed form from first-order gradients (Chattopadhyay et al. 2018, eq.
   * 19, with the exponential-score simplification that pytorch-grad-cam also uses):
   *
   * <pre>
   *   a_ij  = g_ij² / (2 g_ij² + (Σ_ab A_ab) g_ij³ + eps)     (0 where g_ij == 0)
   *   alpha = Σ_ij a_ij · ReLU(g_ij)
   * </pre>
   *
   * Only pixels with g > 0 contribute (ReLU), which also covers the g == 0 guard; a denominator
   * that is exactly 0 (possible only when Σ A < 0) contributes 0 instead of ±inf.
   *
   * <p>{@code // acts (N,H,W,K), grads (N,H,W,K) -> alpha (N,K)}
   */
  public static void gradcampp_weights(
      float[] alpha, float[] acts, float[] grads, int N, int H, int W, int K) {
    int hw = channelWeightArgs(alpha, acts, grads, N, H, W, K);
    ChannelWeight sum = (acc, sumA) -> (float) acc;
    actsGradsWeights(alpha, acts, grads, N, hw, K, (g, a, sumA) -> gradcamppTerm(g, sumA), sum);
  }

  /** One pixel's a_ij · ReLU(g_ij); same expression as channel_mean.cu. */
  static double gradcamppTerm(float gf, double sumA) {
    double g = gf;
    if (!(g > 0.0)) {
      return 0.0;
    }
    double g2 = g * g;
    double g3 = g2 * g;
    double den = 2.0 * g2 + sumA * g3 + GRADCAMPP_EPS;
    if (den == 0.0) {
      return 0.0;
    }
    return g2 / den * g;
  }

  // ---------------------------------------------------------------------------------------------
  // weighted_sum.cu

  /**
   * The Grad-CAM map: cam = ReLU(Σ_k alpha_k · A_k).
   *
   * <p>{@code // acts (N,H,W,K), alpha (N,K) -> cam (N,H,W)}
   */
  public static void weighted_sum_relu(
      float[] cam, float[] acts, float[] alpha, int N, int H, int W, int K) {
    int hw = pixels(N, H, W);
    positive("K", K);
    length("cam", cam, (long) N * hw);
    length("acts", acts, (long) N * hw * K);
    length("alpha", alpha, (long) N * K);
    for (int n = 0; n < N; n++) {
      for (int p = 0; p < hw; p++) {
        int base = (n * hw + p) * K;
        double acc = 0.0;
        for (int k = 0; k < K; k++) {
          acc += (double) alpha[n * K + k] * acts[base + k];
        }
        cam[n * hw + p] = acc > 0.0 ? (float) acc : 0f;
      }
    }
  }

  /**
   * Element-wise CAMs, no pooling of the gradients: HiResCAM cam = ReLU(Σ_k g_k · A_k), and with
   * {@code reluGrads} LayerCAM cam = ReLU(Σ_k ReLU(g_k) · A_k).
   *
   * <p>{@code // acts (N,H,W,K), grads (N,H,W,K) -> cam (N,H,W)}
   */
  public static void elementwise_sum_relu(
      float[] cam, float[] acts, float[] grads, int N, int H, int W, int K, boolean reluGrads) {
    int hw = pixels(N, H, W);
    positive("K", K);
    length("cam", cam, (long) N * hw);
    length("acts", acts, (long) N * hw * K);
    length("grads", grads, (long) N * hw * K);
    for (int n = 0; n < N; n++) {
      for (int p = 0; p < hw; p++) {
        int base = (n * hw + p) * K;
        double acc = 0.0;
        for (int k = 0; k < K; k++) {
          float g = grads[base + k];
          if (reluGrads && !(g > 0f)) {
            continue;
          }
          acc += (double) g * acts[base + k];
        }
        cam[n * hw + p] = acc > 0.0 ? (float) acc : 0f;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // normalize.cu

  /**
   * Scales each map to [0,1]: (x − min)/(max − min); a constant map becomes all zeros (there is
   * nothing to show, and zeros never suggest a hot spot). May run in place (out == maps).
   *
   * <p>{@code // maps (N,H,W) -> out (N,H,W)}
   */
  public static void minmax_normalize(float[] out, float[] maps, int N, int H, int W) {
    int hw = pixels(N, H, W);
    length("out", out, (long) N * hw);
    length("maps", maps, (long) N * hw);
    for (int n = 0; n < N; n++) {
      int off = n * hw;
      float min = Float.POSITIVE_INFINITY;
      float max = Float.NEGATIVE_INFINITY;
      for (int p = 0; p < hw; p++) {
        float v = maps[off + p];
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      float range = max - min;
      for (int p = 0; p < hw; p++) {
        out[off + p] = range > 0f ? Math.min((maps[off + p] - min) / range, 1f) : 0f;
      }
    }
  }

  /**
   * Fixed-scale normalisation, for sequences (video) where every frame must share one scale: out =
   * clamp(x / scale, 0, 1). May run in place.
   *
   * <p>{@code // maps (N,H,W), scale > 0 -> out (N,H,W)}
   */
  public static void scale_normalize(float[] out, float[] maps, int N, int H, int W, float scale) {
    int hw = pixels(N, H, W);
    length("out", out, (long) N * hw);
    length("maps", maps, (long) N * hw);
    if (!(scale > 0f) || Float.isInfinite(scale)) {
      throw new KernelArgumentException(
          "scale_normalize: scale must be finite and > 0, got " + scale);
    }
    for (int i = 0; i < N * hw; i++) {
      float v = maps[i] / scale;
      out[i] = v > 0f ? Math.min(v, 1f) : 0f; // NaN -> 0
    }
  }

  // ---------------------------------------------------------------------------------------------
  // channel_mean.cu (XGrad-CAM)

  /**
   * XGrad-CAM weights: Σ_uv g·A / (Σ_uv A + eps), sums in double.
   *
   * <p>{@code // acts (N,H,W,K), grads (N,H,W,K) -> alpha (N,K)}
   */
  public static void xgradcam_weights(
      float[] alpha, float[] acts, float[] grads, int N, int H, int W, int K, float eps) {
    int hw = channelWeightArgs(alpha, acts, grads, N, H, W, K);
    ChannelWeight ratio = (sga, sa) -> (float) (sga / (sa + (double) eps));
    actsGradsWeights(alpha, acts, grads, N, hw, K, (g, a, sumA) -> (double) g * a, ratio);
  }

  /** One pixel's term of a channel weight from its gradient g, activation a and Σ_uv A. */
  @FunctionalInterface
  private interface PixelTerm {
    double of(float g, float a, double sumA);
  }

  /** A channel's weight from the sum of its pixel terms and Σ_uv A. */
  @FunctionalInterface
  private interface ChannelWeight {
    float of(double termSum, double sumA);
  }

  /**
   * The channel weights that read activations and gradients (Grad-CAM++, XGrad-CAM): per image and
   * channel, Σ_uv A and the sum of the pixel terms, both in double and pixels in order, then the
   * weight from the two.
   *
   * <p>{@code // acts (N,HW,K), grads (N,HW,K) -> alpha (N,K)}
   */
  private static void actsGradsWeights(
      float[] alpha,
      float[] acts,
      float[] grads,
      int N,
      int hw,
      int K,
      PixelTerm term,
      ChannelWeight weight) {
    double[] sumA = new double[K];
    double[] acc = new double[K];
    for (int n = 0; n < N; n++) {
      sumOverPixels(sumA, acts, n, hw, K);
      java.util.Arrays.fill(acc, 0.0);
      for (int p = 0; p < hw; p++) {
        int base = (n * hw + p) * K;
        for (int k = 0; k < K; k++) {
          acc[k] += term.of(grads[base + k], acts[base + k], sumA[k]);
        }
      }
      for (int k = 0; k < K; k++) {
        alpha[n * K + k] = weight.of(acc[k], sumA[k]);
      }
    }
  }

  /** The maps' checks, H, W, then N > 0 (as the .cu launchers): returns the pixels H·W of one. */
  private static int pixels(int N, int H, int W) {
    int hw = positive("H", H) * positive("W", W);
    positive("N", N);
    return hw;
  }

  /**
   * The channel-weight kernels' checks: {@code acts (N,H,W,K)} (null where the kernel has none),
   * {@code grads (N,H,W,K) -> alpha (N,K)}; returns H·W.
   */
  private static int channelWeightArgs(
      float[] alpha, float[] acts, float[] grads, int N, int H, int W, int K) {
    int hw = pixels(N, H, W);
    positive("K", K);
    length("alpha", alpha, (long) N * K);
    if (acts != null) {
      length("acts", acts, (long) N * hw * K);
    }
    length("grads", grads, (long) N * hw * K);
    return hw;
  }
}
