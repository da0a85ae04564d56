package dev.segcam.kernels;

import dev.segcam.ir.Op;

/**
 * Java twins of the element-wise graph ops of the CUDA backend (per-channel affine, activations,
 * softmax), same names and argument order; the CPU engine runs the range variants in parallel.
 *
 * <p>Graph-op twins (see {@link CpuKernels} for the conventions): flat row-major float arrays,
 * NHWC; backward kernels read forward values "tiled" (gradient element i reads value element i %
 * valueTotal, rows target-major over the K targets).
 */
public final class ActivationKernels {
  private ActivationKernels() {}

  /**
   * {@code // x (rows,C), scale (C) or null, offset (C) or null -> y (rows,C) = x·scale + offset}
   */
  public static void channel_affine(
      float[] y, float[] x, float[] scale, float[] offset, int total, int C) {
    channelAffineRows(y, x, scale, offset, 0, total / C, C);
    for (int i = total - total % C; i < total; i++) { // a partial last row
      y[i] = affine(x[i], scale, offset, i % C);
    }
  }

  /** {@link #channel_affine} on rows [lo, hi): the CPU engine runs ranges of rows in parallel. */
  public static void channelAffineRows(
      float[] y, float[] x, float[] scale, float[] offset, int lo, int hi, int C) {
    for (int r = lo; r < hi; r++) {
      for (int i = r * C, c = 0; c < C; i++, c++) {
        y[i] = affine(x[i], scale, offset, c);
      }
    }
  }

  private static float affine(float v, float[] scale, float[] offset, int c) {
    if (scale != null) {
      v = v * scale[c];
    }
    if (offset != null) {
      v = v + offset[c];
    }
    return v;
  }

  /** {@code // dy (rows,C), scale (C) -> dx (rows,C) = dy·scale} */
  public static void channel_scale_bwd(float[] dx, float[] dy, float[] scale, int total, int C) {
    channelAffineRows(dx, dy, scale, null, 0, total / C, C);
    for (int i = total - total % C; i < total; i++) {
      dx[i] = dy[i] * scale[i % C];
    }
  }

  /**
   * {@code // x (total) -> y (total) = act(x)}; kind is {@link Op.ActivationKind#code} (ACT_* in
   * the .cu sources).
   */
  public static void activation_fwd(float[] y, float[] x, int total, int kind, float alpha) {
    activationFwdRange(y, x, 0, total, kind, alpha);
  }

  /** {@link #activation_fwd} on elements [lo, hi): the CPU engine runs ranges in parallel. */
  public static void activationFwdRange(
      float[] y, float[] x, int lo, int hi, int kind, float alpha) {
    switch (Op.ActivationKind.ofCode(kind)) {
      case RELU -> {
        for (int i = lo; i < hi; i++) {
          y[i] = Math.max(x[i], 0f);
        }
      }
      case RELU6 -> {
        for (int i = lo; i < hi; i++) {
          y[i] = Math.min(Math.max(x[i], 0f), 6f);
        }
      }
      case LEAKY_RELU -> {
        for (int i = lo; i < hi; i++) {
          float v = x[i];
          y[i] = v > 0f ? v : alpha * v;
        }
      }
      case ELU -> {
        for (int i = lo; i < hi; i++) {
          float v = x[i];
          y[i] = v > 0f ? v : (float) Math.expm1(v);
        }
      }
      case SIGMOID -> {
        for (int i = lo; i < hi; i++) {
          y[i] = (float) (1.0 / (1.0 + Math.exp(-(double) x[i])));
        }
      }
      case TANH -> {
        for (int i = lo; i < hi; i++) {
          y[i] = (float) Math.tanh(x[i]);
        }
      }
    }
  }

  /**
   * TensorFlow's activation gradients; v is the input (Relu, Relu6, LeakyRelu) or the output (Elu,
   * Sigmoid, Tanh), tiled: see {@link Op.ActivationKind#gradReads}.
   *
   * <p>{@code // dy (total), v (valueTotal) -> dx (total)}
   */
  public static void activation_bwd(
      float[] dx, float[] dy, float[] v, int total, int valueTotal, int kind, float alpha) {
    activationBwdRange(dx, dy, v, 0, total, valueTotal, kind, alpha);
  }

  /** {@link #activation_bwd} on gradient elements [lo, hi). */
  public static void activationBwdRange(
      float[] dx, float[] dy, float[] v, int lo, int hi, int valueTotal, int kind, float alpha) {
    Op.ActivationKind k = Op.ActivationKind.ofCode(kind);
    int i = lo;
    while (i < hi) {
      // one run of gradient elements whose values are contiguous: no modulo per element
      int vo = i % valueTotal;
      int len = Math.min(hi - i, valueTotal - vo);
      int d = i - vo;
      switch (k) {
        case RELU -> {
          for (int j = vo; j < vo + len; j++) {
            dx[d + j] = v[j] > 0f ? dy[d + j] : 0f;
          }
        }
        case RELU6 -> {
          for (int j = vo; j < vo + len; j++) {
            float a = v[j];
            dx[d + j] = a > 0f && a < 6f ? dy[d + j] : 0f;
          }
        }
        case LEAKY_RELU -> {
          for (int j = vo; j < vo + len; j++) {
            dx[d + j] = v[j] > 0f ? dy[d + j] : alpha * dy[d + j];
          }
        }
        case ELU -> {
          for (int j = vo; j < vo + len; j++) {
            float a = v[j];
            dx[d + j] = a < 0f ? dy[d + j] * (a + 1f) : dy[d + j];
          }
        }
        case SIGMOID -> {
          for (int j = vo; j < vo + len; j++) {
            float a = v[j];
            dx[d + j] = dy[d + j] * (a * (1f - a));
          }
        }
        case TANH -> {
          for (int j = vo; j < vo + len; j++) {
            float a = v[j];
            dx[d + j] = dy[d + j] * (1f - a * a);
          }
        }
      }
      i += len;
    }
  }

  /**
   * Guided backpropagation through a ReLU (Springenberg et al.): the gradient passes only where
   * both the forward input x &gt; 0 (Relu6: 0 &lt; x &lt; 6) and the incoming gradient dy &gt; 0.
   * kind is {@link Op.ActivationKind#RELU} or {@link Op.ActivationKind#RELU6}'s code; x is tiled
   * over the K targets as in {@link #activation_bwd}.
   *
   * <p>{@code // dy (total), x (valueTotal) -> dx (total)}
   */
  public static void guided_relu_bwd(
      float[] dx, float[] dy, float[] x, int total, int valueTotal, int kind) {
    guidedReluBwdRange(dx, dy, x, 0, total, valueTotal, kind);
  }

  /** {@link #guided_relu_bwd} on gradient elements [lo, hi). */
  public static void guidedReluBwdRange(
      float[] dx, float[] dy, float[] x, int lo, int hi, int valueTotal, int kind) {
    Op.ActivationKind k = Op.ActivationKind.ofCode(kind);
    if (!guides(k)) {
      throw new KernelArgumentException(
          "guided_relu_bwd: kind " + k + " is not a ReLU (only Relu and Relu6 are guided)");
    }
    boolean six = k == Op.ActivationKind.RELU6;
    for (int i = lo; i < hi; i++) {
      float g = dy[i];
      float a = x[i % valueTotal];
      boolean open = six ? a > 0f && a < 6f : a > 0f;
      dx[i] = open && g > 0f ? g : 0f;
    }
  }

  /** Whether guided backpropagation changes this activation's gradient (the ReLUs). */
  public static boolean guides(Op.ActivationKind k) {
    return k == Op.ActivationKind.RELU || k == Op.ActivationKind.RELU6;
  }

  /** {@code // x (rows,C) -> y (rows,C)}, max-subtracted, sum in double. */
  public static void softmax_fwd(float[] y, float[] x, int rows, int C) {
    softmaxFwdRows(y, x, 0, rows, C);
  }

  /** {@link #softmax_fwd} on rows [lo, hi). */
  public static void softmaxFwdRows(float[] y, float[] x, int lo, int hi, int C) {
    for (int r = lo; r < hi; r++) {
      int o = r * C;
      float mx = rowMax(x, o, C);
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

  /** The largest of x[o .. o+C) (−inf for C = 0), as the softmax kernels' row max. */
  static float rowMax(float[] x, int o, int C) {
    float mx = Float.NEGATIVE_INFINITY;
    for (int q = 0; q < C; q++) {
      mx = Math.max(mx, x[o + q]);
    }
    return mx;
  }

  /** {@code // dy (rows,C), y (valueRows,C) -> dx (rows,C) = (dy − Σ dy·y)·y} */
  public static void softmax_bwd(
      float[] dx, float[] dy, float[] y, int rows, int valueRows, int C) {
    softmaxBwdRows(dx, dy, y, 0, rows, valueRows, C);
  }

  /** {@link #softmax_bwd} on gradient rows [lo, hi). */
  public static void softmaxBwdRows(
      float[] dx, float[] dy, float[] y, int lo, int hi, int valueRows, int C) {
    for (int r = lo; r < hi; r++) {
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
}
