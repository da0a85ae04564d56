package dev.segcam.kernels;

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
    int hw = positive("H", H) * positive("W", W);
    positive("N", N);
    positive("C", C);
    length("score", score, N);
    length("seed", seed, (long) N * hw * C);
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
        for (int k = 0; k < C; k++) {
          seed[base + k] = 0f;
        }
        if (m == 0.0) {
          continue; // outside M: no score, no gradient (also ignores NaN logits there)
        }
        if (mode == ScoreMode.LOGITS) {
          double y = logits[base + c];
          acc += m * (background ? -y : y);
          seed[base + c] = (float) (sign * m);
        } else if (mode == ScoreMode.SIGMOID) {
          double s = sigmoid(logits[base + c]);
          acc += m * (background ? 1.0 - s : s);
          seed[base + c] = (float) (sign * m * s * (1.0 - s));
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
          for (int k = 0; k < C; k++) {
            double pk = Math.exp(logits[base + k] - max) / sum;
            double d = (k == c ? pc * (1.0 - pk) : -pc * pk);
            seed[base + k] = (float) (sign * m * d);
          }
        }
      }
      score[n] = (float) acc;
    }
  }

  /** Numerically stable logistic function, same branches as seed.cu. */
  static double sigmoid(double y) {
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
    int hw = positive("H", H) * positive("W", W);
    positive("N", N);
    positive("K", K);
    length("alpha", alpha, (long) N * K);
    length("grads", grads, (long) N * hw * K);
    double[] acc = new double[K];
    for (int n = 0; n < N; n++) {
      java.util.Arrays.fill(acc, 0.0);
      for (int p = 0; p < hw; p++) {
        int base = (n * hw + p) * K;
        for (int k = 0; k < K; k++) {
          acc[k] += grads[base + k];
        }
      }
      for (int k = 0; k < K; k++) {
        alpha[n * K + k] = (float) (acc[k] / hw);
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
    int hw = positive("H", H) * positive("W", W);
    positive("N", N);
    positive("K", K);
    length("alpha", alpha, (long) N * K);
    length("acts", acts, (long) N * hw * K);
    length("grads", grads, (long) N * hw * K);
    double[] sumA = new double[K];
    double[] acc = new double[K];
    for (int n = 0; n < N; n++) {
      java.util.Arrays.fill(sumA, 0.0);
      java.util.Arrays.fill(acc, 0.0);
      for (int p = 0; p < hw; p++) {
        int base = (n * hw + p) * K;
        for (int k = 0; k < K; k++) {
          sumA[k] += acts[base + k];
        }
      }
      for (int p = 0; p < hw; p++) {
        int base = (n * hw + p) * K;
        for (int k = 0; k < K; k++) {
          acc[k] += gradcamppTerm(grads[base + k], sumA[k]);
        }
      }
      for (int k = 0; k < K; k++) {
        alpha[n * K + k] = (float) acc[k];
      }
    }
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
    int hw = positive("H", H) * positive("W", W);
    positive("N", N);
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
    int hw = positive("H", H) * positive("W", W);
    positive("N", N);
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
  // resize.cu

  /**
   * Bilinear resize with TensorFlow's ResizeBilinear semantics (float arithmetic in TF's order):
   *
   * <pre>
   *   scale = align_corners && out > 1 ? (in-1)/(out-1) : in/out
   *   src   = half_pixel_centers ? (o + 0.5)·scale − 0.5 : o·scale
   *   lower = max(floor(src), 0), upper = min(ceil(src), in−1), lerp = src − floor(src)
   * </pre>
   *
   * <p>{@code // in (N,H,W,C) -> out (N,OH,OW,C)}
   */
  public static void resize_bilinear_fwd(
      float[] out,
      float[] in,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      boolean alignCorners,
      boolean halfPixelCenters) {
    checkResize(N, H, W, C, OH, OW, alignCorners, halfPixelCenters);
    length("out", out, (long) N * OH * OW * C);
    length("in", in, (long) N * H * W * C);
    Axis ya = new Axis(H, OH, alignCorners, halfPixelCenters);
    Axis xa = new Axis(W, OW, alignCorners, halfPixelCenters);
    for (int n = 0; n < N; n++) {
      for (int oy = 0; oy < OH; oy++) {
        int top = (n * H + ya.lower[oy]) * W;
        int bot = (n * H + ya.upper[oy]) * W;
        float yl = ya.lerp[oy];
        for (int ox = 0; ox < OW; ox++) {
          int l = xa.lower[ox];
          int r = xa.upper[ox];
          float xl = xa.lerp[ox];
          int o = ((n * OH + oy) * OW + ox) * C;
          for (int c = 0; c < C; c++) {
            float tl = in[(top + l) * C + c];
            float tr = in[(top + r) * C + c];
            float bl = in[(bot + l) * C + c];
            float br = in[(bot + r) * C + c];
            float t = tl + (tr - tl) * xl;
            float b = bl + (br - bl) * xl;
            out[o + c] = t + (b - t) * yl;
          }
        }
      }
    }
  }

  /**
   * The adjoint of {@link #resize_bilinear_fwd} (TensorFlow's ResizeBilinearGrad): each output
   * gradient is spread onto the (up to) four input pixels it was interpolated from, with the same
   * weights, (1−ly)(1−lx), (1−ly)lx, ly(1−lx), ly·lx, where the float weights are formed as in the
   * forward and products and sums are taken in double.
   *
   * <p>{@code // gradOut (N,OH,OW,C) -> gradIn (N,H,W,C)}
   */
  public static void resize_bilinear_bwd(
      float[] gradIn,
      float[] gradOut,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      boolean alignCorners,
      boolean halfPixelCenters) {
    checkResize(N, H, W, C, OH, OW, alignCorners, halfPixelCenters);
    length("gradIn", gradIn, (long) N * H * W * C);
    length("gradOut", gradOut, (long) N * OH * OW * C);
    Axis ya = new Axis(H, OH, alignCorners, halfPixelCenters);
    Axis xa = new Axis(W, OW, alignCorners, halfPixelCenters);
    double[] acc = new double[H * W * C];
    for (int n = 0; n < N; n++) {
      java.util.Arrays.fill(acc, 0.0);
      for (int oy = 0; oy < OH; oy++) {
        int top = ya.lower[oy] * W;
        int bot = ya.upper[oy] * W;
        double wt = 1f - ya.lerp[oy];
        double wb = ya.lerp[oy];
        for (int ox = 0; ox < OW; ox++) {
          int l = xa.lower[ox];
          int r = xa.upper[ox];
          double wl = 1f - xa.lerp[ox];
          double wr = xa.lerp[ox];
          int o = ((n * OH + oy) * OW + ox) * C;
          for (int c = 0; c < C; c++) {
            double g = gradOut[o + c];
            acc[(top + l) * C + c] += g * wt * wl;
            acc[(top + r) * C + c] += g * wt * wr;
            acc[(bot + l) * C + c] += g * wb * wl;
            acc[(bot + r) * C + c] += g * wb * wr;
          }
        }
      }
      int off = n * H * W * C;
      for (int i = 0; i < acc.length; i++) {
        gradIn[off + i] = (float) acc[i];
      }
    }
  }

  /** TensorFlow's resize scale, in float. */
  public static float resizeScale(int in, int out, boolean alignCorners) {
    return alignCorners && out > 1 ? (in - 1) / (float) (out - 1) : in / (float) out;
  }

  /** Source coordinate of output index o, in float, as resize.cu computes it. */
  public static float resizeSource(int o, float scale, boolean halfPixelCenters) {
    return halfPixelCenters ? ((float) o + 0.5f) * scale - 0.5f : (float) o * scale;
  }

  /** Per-axis interpolation table: the two source indices and the lerp of each output index. */
  private static final class Axis {
    final int[] lower;
    final int[] upper;
    final float[] lerp;

    Axis(int in, int out, boolean alignCorners, boolean halfPixelCenters) {
      lower = new int[out];
      upper = new int[out];
      lerp = new float[out];
      float scale = resizeScale(in, out, alignCorners);
      for (int o = 0; o < out; o++) {
        float src = resizeSource(o, scale, halfPixelCenters);
        float fl = (float) Math.floor(src);
        lower[o] = Math.max((int) fl, 0);
        upper[o] = Math.min((int) Math.ceil(src), in - 1);
        lerp[o] = src - fl;
      }
    }
  }

  /** The resize kernels' argument rule (dims > 0, not both coordinate flags), shared with CUDA. */
  public static void checkResize(
      int N, int H, int W, int C, int OH, int OW, boolean alignCorners, boolean halfPixelCenters) {
    positive("N", N);
    positive("H", H);
    positive("W", W);
    positive("C", C);
    positive("OH", OH);
    positive("OW", OW);
    if (alignCorners && halfPixelCenters) {
      throw new KernelArgumentException(
          "resize_bilinear: align_corners and half_pixel_centers cannot both be set (as in"
              + " TensorFlow)");
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
    int hw = positive("H", H) * positive("W", W);
    positive("N", N);
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
    int hw = positive("H", H) * positive("W", W);
    positive("N", N);
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
  // colormap.cu

  /**
   * The 'jet' colormap as a piecewise-linear function of t in [0,1] (clamped; NaN reads as 0):
   *
   * <pre>
   *   r = clamp(1.5 − |4t − 3|, 0, 1)
   *   g = clamp(1.5 − |4t − 2|, 0, 1)
   *   b = clamp(1.5 − |4t − 1|, 0, 1)
   * </pre>
   *
   * dark blue (0,0,.5) at 0, blue at 1/8, cyan at 3/8, yellow at 5/8, red at 7/8, dark red (.5,0,0)
   * at 1: MATLAB's and matplotlib's jet up to their 64/256-entry quantisation.
   *
   * @return rgb in [0,1] written into {@code rgb[0..2]}
   */
  public static void jet(float t, float[] rgb) {
    float x = t > 0f ? Math.min(t, 1f) : 0f;
    rgb[0] = clamp01(1.5f - Math.abs(4f * x - 3f));
    rgb[1] = clamp01(1.5f - Math.abs(4f * x - 2f));
    rgb[2] = clamp01(1.5f - Math.abs(4f * x - 1f));
  }

  private static float clamp01(float v) {
    return v > 0f ? Math.min(v, 1f) : 0f;
  }

  /**
   * Heatmap overlay: each pixel becomes (1 − alpha)·image + alpha·255·jet(map), rounded half up,
   * with an opaque alpha byte. Bytes are unsigned (Java's signed bytes are read with & 0xFF).
   *
   * <p>{@code // map (H,W) in [0,1], image RGB8 (H,W,3), alpha in [0,1] -> rgba RGBA8 (H,W,4)}
   *
   * <p>A batch (N,H,W) is the same call with H·N rows.
   */
  public static void colormap_blend(
      byte[] rgba, float[] map, byte[] image, int H, int W, float alpha) {
    int hw = positive("H", H) * positive("W", W);
    length("rgba", rgba, 4L * hw);
    length("map", map, hw);
    length("image", image, 3L * hw);
    if (!(alpha >= 0f && alpha <= 1f)) {
      throw new KernelArgumentException("colormap_blend: alpha must be in [0,1], got " + alpha);
    }
    float keep = 1f - alpha;
    float[] rgb = new float[3];
    for (int p = 0; p < hw; p++) {
      jet(map[p], rgb);
      for (int ch = 0; ch < 3; ch++) {
        float v = keep * (image[3 * p + ch] & 0xFF) + alpha * (255f * rgb[ch]);
        rgba[4 * p + ch] = (byte) toByte(v);
      }
      rgba[4 * p + 3] = (byte) 255;
    }
  }

  private static int toByte(float v) {
    int i = (int) (v + 0.5f);
    return i < 0 ? 0 : Math.min(i, 255);
  }

  // ---------------------------------------------------------------------------------------------

  private static int positive(String name, int v) {
    if (v <= 0) {
      throw new KernelArgumentException("dimension " + name + " must be > 0, got " + v);
    }
    return v;
  }

  private static void length(String name, Object array, long expected) {
    if (array == null) {
      throw new KernelArgumentException(name + " is null");
    }
    int len = java.lang.reflect.Array.getLength(array);
    if (expected > Integer.MAX_VALUE) {
      throw new KernelArgumentException(name + " would need " + expected + " elements (> 2^31)");
    }
    if (len != expected) {
      throw new KernelArgumentException(
          name + " has " + len + " elements, the dimensions need " + expected);
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
    int hw = positive("H", H) * positive("W", W);
    positive("N", N);
    positive("K", K);
    length("alpha", alpha, (long) N * K);
    length("acts", acts, (long) N * hw * K);
    length("grads", grads, (long) N * hw * K);
    double[] sa = new double[K];
    double[] sga = new double[K];
    for (int n = 0; n < N; n++) {
      java.util.Arrays.fill(sa, 0.0);
      java.util.Arrays.fill(sga, 0.0);
      for (int p = 0; p < hw; p++) {
        int base = (n * hw + p) * K;
        for (int k = 0; k < K; k++) {
          double a = acts[base + k];
          sa[k] += a;
          sga[k] += (double) grads[base + k] * a;
        }
      }
      for (int k = 0; k < K; k++) {
        alpha[n * K + k] = (float) (sga[k] / (sa[k] + (double) eps));
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The graph-op kernels (activation, softmax, pool, resize nearest, concat_pad, binary,
  // conv_direct .cu): the IR ops of CudaCamBackend that cuDNN/cuBLAS do not cover. Backward kernels
  // read forward values "tiled": gradient element i reads value element i % valueTotal.

  /**
   * {@code // x (rows,C), scale (C) or null, offset (C) or null -> y (rows,C) = x·scale + offset}
   */
  public static void channel_affine(
      float[] y, float[] x, float[] scale, float[] offset, int total, int C) {
    for (int i = 0; i < total; i++) {
      int c = i % C;
      float v = x[i];
      if (scale != null) {
        v = v * scale[c];
      }
      if (offset != null) {
        v = v + offset[c];
      }
      y[i] = v;
    }
  }

  /** {@code // dy (rows,C), scale (C) -> dx (rows,C) = dy·scale} */
  public static void channel_scale_bwd(float[] dx, float[] dy, float[] scale, int total, int C) {
    for (int i = 0; i < total; i++) {
      dx[i] = dy[i] * scale[i % C];
    }
  }

  /** Activation codes of graph_ops.cu, in the order of {@code Op.ActivationKind}. */
  public static final int ACT_RELU = 0;

  public static final int ACT_RELU6 = 1;
  public static final int ACT_LEAKY = 2;
  public static final int ACT_ELU = 3;
  public static final int ACT_SIGMOID = 4;
  public static final int ACT_TANH = 5;

  /** {@code // x (total) -> y (total) = act(x)} */
  public static void activation_fwd(float[] y, float[] x, int total, int kind, float alpha) {
    for (int i = 0; i < total; i++) {
      float v = x[i];
      y[i] =
          switch (kind) {
            case ACT_RELU -> Math.max(v, 0f);
            case ACT_RELU6 -> Math.min(Math.max(v, 0f), 6f);
            case ACT_LEAKY -> v > 0f ? v : alpha * v;
            case ACT_ELU -> v > 0f ? v : (float) Math.expm1(v);
            case ACT_SIGMOID -> (float) (1.0 / (1.0 + Math.exp(-(double) v)));
            default -> (float) Math.tanh(v);
          };
    }
  }

  /**
   * TensorFlow's activation gradients; v is the input (Relu, Relu6, LeakyRelu) or the output (Elu,
   * Sigmoid, Tanh), tiled.
   *
   * <p>{@code // dy (total), v (valueTotal) -> dx (total)}
   */
  public static void activation_bwd(
      float[] dx, float[] dy, float[] v, int total, int valueTotal, int kind, float alpha) {
    for (int i = 0; i < total; i++) {
      float g = dy[i];
      float a = v[i % valueTotal];
      dx[i] =
          switch (kind) {
            case ACT_RELU -> a > 0f ? g : 0f;
            case ACT_RELU6 -> a > 0f && a < 6f ? g : 0f;
            case ACT_LEAKY -> a > 0f ? g : alpha * g;
            case ACT_ELU -> a < 0f ? g * (a + 1f) : g;
            case ACT_SIGMOID -> g * (a * (1f - a));
            default -> g * (1f - a * a);
          };
    }
  }

  /** {@code // x (rows,C) -> y (rows,C)}, max-subtracted, sum in double. */
  public static void softmax_fwd(float[] y, float[] x, int rows, int C) {
    for (int r = 0; r < rows; r++) {
      int o = r * C;
      float mx = Float.NEGATIVE_INFINITY;
      for (int q = 0; q < C; q++) {
        mx = Math.max(mx, x[o + q]);
      }
      double sum = 0;
      for (int q = 0; q < C; q++) {
        float e = (float) Math.exp(x[o + q] - mx);
        y[o + q] = e;
        sum += e;
      }
      float inv = (float) (1.0 / sum);
      for (int q = 0; q < C; q++) {
        y[o + q] = y[o + q] * inv;
      }
    }
  }

  /** {@code // dy (rows,C), y (valueRows,C) -> dx (rows,C) = (dy − Σ dy·y)·y} */
  public static void softmax_bwd(
      float[] dx, float[] dy, float[] y, int rows, int valueRows, int C) {
    for (int r = 0; r < rows; r++) {
      int g = r * C;
      int v = (r % valueRows) * C;
      float s = 0f;
      for (int q = 0; q < C; q++) {
        s += dy[g + q] * y[v + q];
      }
      for (int q = 0; q < C; q++) {
        dx[g + q] = (dy[g + q] - s) * y[v + q];
      }
    }
  }

  /** {@code // x (N,H,W,C) -> y (N,OH,OW,C)}; pt/pl: padding before (TF SAME/VALID). */
  public static void pool_fwd(
      float[] y,
      float[] x,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int pt,
      int pl,
      boolean max) {
    for (int i = 0; i < N * OH * OW * C; i++) {
      int c = i % C;
      int r = i / C;
      int ox = r % OW;
      r /= OW;
      int oy = r % OH;
      int n = r / OH;
      int y0 = Math.max(0, oy * sh - pt);
      int y1 = Math.min(H, oy * sh - pt + kh);
      int x0 = Math.max(0, ox * sw - pl);
      int x1 = Math.min(W, ox * sw - pl + kw);
      float acc = max ? Float.NEGATIVE_INFINITY : 0f;
      for (int iy = y0; iy < y1; iy++) {
        for (int ix = x0; ix < x1; ix++) {
          float v = x[((n * H + iy) * W + ix) * C + c];
          acc = max ? Math.max(acc, v) : acc + v;
        }
      }
      if (!max) {
        acc = acc * (1f / ((y1 - y0) * (x1 - x0)));
      }
      y[i] = acc;
    }
  }

  private static int windowLo(int i, int k, int s, int p) {
    int a = i + p - k + 1;
    return a <= 0 ? 0 : (a + s - 1) / s;
  }

  private static int windowHi(int i, int s, int p, int o) {
    return Math.min((i + p) / s, o - 1);
  }

  /** {@code // dy (B,OH,OW,C), x (N,H,W,C) tiled -> dx (B,H,W,C)}, first maximum wins. */
  public static void maxpool_bwd(
      float[] dx,
      float[] dy,
      float[] x,
      int B,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int pt,
      int pl) {
    for (int i = 0; i < B * H * W * C; i++) {
      int c = i % C;
      int r = i / C;
      int ix = r % W;
      r /= W;
      int iy = r % H;
      int b = r / H;
      int xn = (b % N) * H * W * C + c;
      double acc = 0;
      for (int oy = windowLo(iy, kh, sh, pt); oy <= windowHi(iy, sh, pt, OH); oy++) {
        int y0 = Math.max(0, oy * sh - pt);
        int y1 = Math.min(H, oy * sh - pt + kh);
        for (int ox = windowLo(ix, kw, sw, pl); ox <= windowHi(ix, sw, pl, OW); ox++) {
          int x0 = Math.max(0, ox * sw - pl);
          int x1 = Math.min(W, ox * sw - pl + kw);
          float best = x[xn + (y0 * W + x0) * C];
          int by = y0;
          int bx = x0;
          for (int yy = y0; yy < y1; yy++) {
            for (int xx = x0; xx < x1; xx++) {
              float v = x[xn + (yy * W + xx) * C];
              if (best < v) {
                best = v;
                by = yy;
                bx = xx;
              }
            }
          }
          if (by == iy && bx == ix) {
            acc += dy[((b * OH + oy) * OW + ox) * C + c];
          }
        }
      }
      dx[i] = (float) acc;
    }
  }

  /** {@code // dy (B,OH,OW,C) -> dx (B,H,W,C)}, dy/count spread over each window. */
  public static void avgpool_bwd(
      float[] dx,
      float[] dy,
      int B,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int pt,
      int pl) {
    for (int i = 0; i < B * H * W * C; i++) {
      int c = i % C;
      int r = i / C;
      int ix = r % W;
      r /= W;
      int iy = r % H;
      int b = r / H;
      double acc = 0;
      for (int oy = windowLo(iy, kh, sh, pt); oy <= windowHi(iy, sh, pt, OH); oy++) {
        int ny = Math.min(H, oy * sh - pt + kh) - Math.max(0, oy * sh - pt);
        for (int ox = windowLo(ix, kw, sw, pl); ox <= windowHi(ix, sw, pl, OW); ox++) {
          int nx = Math.min(W, ox * sw - pl + kw) - Math.max(0, ox * sw - pl);
          float g = dy[((b * OH + oy) * OW + ox) * C + c];
          acc += g / (float) (ny * nx);
        }
      }
      dx[i] = (float) acc;
    }
  }

  /** {@code // dy (B,C) -> dx (B,HW,C) = dy/HW} */
  public static void spatial_mean_bwd(float[] dx, float[] dy, int B, int HW, int C) {
    for (int i = 0; i < B * HW * C; i++) {
      dx[i] = (float) ((double) dy[(i / (HW * C)) * C + i % C] / HW);
    }
  }

  private static int nearestTap(int o, int in, float scale, boolean align, boolean half) {
    float src = half ? ((float) o + 0.5f) * scale : (float) o * scale;
    int s = align ? Math.round(src) : (int) Math.floor(src);
    s = Math.min(s, in - 1);
    return half ? Math.max(0, s) : s;
  }

  /** {@code // x (N,H,W,C) -> y (N,OH,OW,C)}, TF ResizeNearestNeighbor. */
  public static void resize_nearest_fwd(
      float[] y,
      float[] x,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      boolean align,
      boolean half) {
    float sy = resizeScale(H, OH, align);
    float sx = resizeScale(W, OW, align);
    for (int i = 0; i < N * OH * OW * C; i++) {
      int c = i % C;
      int r = i / C;
      int ox = r % OW;
      r /= OW;
      int oy = r % OH;
      int n = r / OH;
      int iy = nearestTap(oy, H, sy, align, half);
      int ix = nearestTap(ox, W, sx, align, half);
      y[i] = x[((n * H + iy) * W + ix) * C + c];
    }
  }

  /** {@code // dy (B,OH,OW,C) -> dx (B,H,W,C)}, the adjoint (sum over outputs sourced here). */
  public static void resize_nearest_bwd(
      float[] dx,
      float[] dy,
      int B,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      boolean align,
      boolean half) {
    float sy = resizeScale(H, OH, align);
    float sx = resizeScale(W, OW, align);
    for (int i = 0; i < B * H * W * C; i++) {
      int c = i % C;
      int r = i / C;
      int ix = r % W;
      r /= W;
      int iy = r % H;
      int b = r / H;
      float acc = 0f;
      for (int oy = 0; oy < OH; oy++) {
        if (nearestTap(oy, H, sy, align, half) != iy) {
          continue;
        }
        for (int ox = 0; ox < OW; ox++) {
          if (nearestTap(ox, W, sx, align, half) == ix) {
            acc += dy[((b * OH + oy) * OW + ox) * C + c];
          }
        }
      }
      dx[i] = acc;
    }
  }

  /**
   * Concat as block copies: tensors viewed as (outer, axis, inner); part occupies [offset,
   * offset+inAxis) of big's outAxis. backward: part = that slice of big.
   *
   * <p>{@code // part (outer,inAxis,inner) <-> big (outer,outAxis,inner)}
   */
  public static void concat_copy(
      float[] big,
      float[] part,
      int outer,
      int inAxis,
      int inner,
      int outAxis,
      int offset,
      boolean backward) {
    for (int i = 0; i < outer * inAxis * inner; i++) {
      int in = i % inner;
      int r = i / inner;
      int a = r % inAxis;
      int o = r / inAxis;
      int j = (o * outAxis + offset + a) * inner + in;
      if (backward) {
        part[i] = big[j];
      } else {
        big[j] = part[i];
      }
    }
  }

  private static int bcastIndex(int[] c, int[] d) {
    return ((c[0] % d[0] * d[1] + c[1] % d[1]) * d[2] + c[2] % d[2]) * d[3] + c[3] % d[3];
  }

  private static void coords(int i, int[] d, int[] c) {
    c[3] = i % d[3];
    int r = i / d[3];
    c[2] = r % d[2];
    r /= d[2];
    c[1] = r % d[1];
    c[0] = r / d[1];
  }

  /** Binary op codes of graph_ops.cu, in the order of {@code Op.BinaryKind}. */
  public static final int BIN_ADD = 0;

  public static final int BIN_SUB = 1;
  public static final int BIN_MUL = 2;
  public static final int BIN_DIV = 3;

  /** {@code // a (a dims), b (b dims) -> out (o dims)}, rank-4, broadcasting by modulo. */
  public static void binary_fwd(
      float[] out, float[] a, float[] b, int kind, int[] o, int[] ad, int[] bd) {
    int[] c = new int[4];
    for (int i = 0; i < o[0] * o[1] * o[2] * o[3]; i++) {
      coords(i, o, c);
      float x = a[bcastIndex(c, ad)];
      float y = b[bcastIndex(c, bd)];
      out[i] =
          switch (kind) {
            case BIN_ADD -> x + y;
            case BIN_SUB -> x - y;
            case BIN_MUL -> x * y;
            default -> x / y;
          };
    }
  }

  /**
   * Gradient of a broadcast binary op for one side: dy times the partial, summed in double over the
   * dims where g is 1 and dy is not. a/b are read by modulo (tiled), null for ADD/SUB.
   *
   * <p>{@code // dy (y dims) -> g (g dims)}
   */
  public static void binary_bwd(
      float[] g,
      float[] dy,
      float[] a,
      float[] b,
      int kind,
      boolean wrtA,
      int[] gd,
      int[] yd,
      int[] ad,
      int[] bd) {
    int[] red = new int[4];
    for (int d = 0; d < 4; d++) {
      red[d] = gd[d] == yd[d] ? 1 : yd[d];
    }
    int[] c = new int[4];
    int[] e = new int[4];
    int[] dc = new int[4];
    int span = red[0] * red[1] * red[2] * red[3];
    for (int i = 0; i < gd[0] * gd[1] * gd[2] * gd[3]; i++) {
      coords(i, gd, c);
      double acc = 0;
      for (int j = 0; j < span; j++) {
        coords(j, red, e);
        for (int d = 0; d < 4; d++) {
          dc[d] = red[d] == 1 ? c[d] : e[d];
        }
        float gy = dy[((dc[0] * yd[1] + dc[1]) * yd[2] + dc[2]) * yd[3] + dc[3]];
        float v;
        if (kind == BIN_ADD) {
          v = gy;
        } else if (kind == BIN_SUB) {
          v = wrtA ? gy : -gy;
        } else {
          float av = a[bcastIndex(dc, ad)];
          float bv = b[bcastIndex(dc, bd)];
          if (kind == BIN_MUL) {
            v = gy * (wrtA ? bv : av);
          } else {
            v = wrtA ? gy / bv : gy * ((-av / bv) / bv);
          }
        }
        acc += v;
      }
      g[i] = (float) acc;
    }
  }

  /** {@code // x (x dims) -> out (o dims)}, x placed at p, the rest = value. */
  public static void pad_fwd(float[] out, float[] x, float value, int[] o, int[] xd, int[] p) {
    int[] c = new int[4];
    for (int i = 0; i < o[0] * o[1] * o[2] * o[3]; i++) {
      coords(i, o, c);
      boolean in = true;
      for (int d = 0; d < 4; d++) {
        c[d] -= p[d];
        in &= c[d] >= 0 && c[d] < xd[d];
      }
      out[i] = in ? x[((c[0] * xd[1] + c[1]) * xd[2] + c[2]) * xd[3] + c[3]] : value;
    }
  }

  /** {@code // dy (y dims) -> dx (x dims)}, the window of dy at p. */
  public static void pad_bwd(float[] dx, float[] dy, int[] xd, int[] yd, int[] p) {
    int[] c = new int[4];
    for (int i = 0; i < xd[0] * xd[1] * xd[2] * xd[3]; i++) {
      coords(i, xd, c);
      dx[i] =
          dy[(((c[0] + p[0]) * yd[1] + c[1] + p[1]) * yd[2] + c[2] + p[2]) * yd[3] + c[3] + p[3]];
    }
  }

  /** {@code // acc (total) += x (total)} */
  public static void add_inplace(float[] acc, float[] x, int total) {
    for (int i = 0; i < total; i++) {
      acc[i] = acc[i] + x[i];
    }
  }

  /**
   * Direct convolution (the CUDA backend's fallback where cuDNN has no algorithm): cuDNN's KRSC
   * filter (F,KH,KW,C/groups), padding before (pt, pl), float sums in a fixed order.
   *
   * <p>{@code // x (N,H,W,C), w (F,KH,KW,C/groups) -> y (N,OH,OW,F)}
   */
  public static void conv2d_direct_fwd(
      float[] y,
      float[] x,
      float[] w,
      int N,
      int H,
      int W,
      int C,
      int F,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int dh,
      int dw,
      int pt,
      int pl,
      int groups) {
    int cg = C / groups;
    int fg = F / groups;
    for (int i = 0; i < N * OH * OW * F; i++) {
      int f = i % F;
      int r = i / F;
      int ox = r % OW;
      r /= OW;
      int oy = r % OH;
      int n = r / OH;
      int c0 = (f / fg) * cg;
      float acc = 0f;
      for (int ky = 0; ky < kh; ky++) {
        int iy = oy * sh - pt + ky * dh;
        if (iy < 0 || iy >= H) {
          continue;
        }
        for (int kx = 0; kx < kw; kx++) {
          int ix = ox * sw - pl + kx * dw;
          if (ix < 0 || ix >= W) {
            continue;
          }
          int xp = ((n * H + iy) * W + ix) * C + c0;
          int wp = ((f * kh + ky) * kw + kx) * cg;
          for (int ci = 0; ci < cg; ci++) {
            acc += x[xp + ci] * w[wp + ci];
          }
        }
      }
      y[i] = acc;
    }
  }

  /** {@code // dy (N,OH,OW,F), w (F,KH,KW,C/groups) -> dx (N,H,W,C)}, the adjoint of the above. */
  public static void conv2d_direct_bwd_data(
      float[] dx,
      float[] dy,
      float[] w,
      int N,
      int H,
      int W,
      int C,
      int F,
      int OH,
      int OW,
      int kh,
      int kw,
      int sh,
      int sw,
      int dh,
      int dw,
      int pt,
      int pl,
      int groups) {
    int cg = C / groups;
    int fg = F / groups;
    for (int i = 0; i < N * H * W * C; i++) {
      int c = i % C;
      int r = i / C;
      int ix = r % W;
      r /= W;
      int iy = r % H;
      int n = r / H;
      int g = c / cg;
      int ci = c % cg;
      float acc = 0f;
      for (int ky = 0; ky < kh; ky++) {
        int ty = iy + pt - ky * dh;
        if (ty < 0 || ty % sh != 0 || ty / sh >= OH) {
          continue;
        }
        int oy = ty / sh;
        for (int kx = 0; kx < kw; kx++) {
          int tx = ix + pl - kx * dw;
          if (tx < 0 || tx % sw != 0 || tx / sw >= OW) {
            continue;
          }
          int gp = ((n * OH + oy) * OW + tx / sw) * F;
          for (int f = g * fg; f < (g + 1) * fg; f++) {
            acc += dy[gp + f] * w[((f * kh + ky) * kw + kx) * cg + ci];
          }
        }
      }
      dx[i] = acc;
    }
  }
}
