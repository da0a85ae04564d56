package dev.segcam.kernels;

import dev.segcam.ir.Op.UnaryKind;

/**
 * Java twins of kernels/unary.cu (same names and argument order): element-wise Neg, Abs, Square,
 * Sqrt, Rsqrt, Log, Pow, Selu, Softplus, Erf and their data gradients; {@code kind} is {@link
 * UnaryKind#code}. The CPU engine runs the range variants in parallel.
 */
public final class UnaryKernels {
  private UnaryKernels() {}

  /** SELU's scale, as TensorFlow's Selu kernel. */
  static final double SELU_SCALE = 1.0507009873554804934193349852946;

  /** SELU's scale times its alpha. */
  static final double SELU_SCALE_ALPHA =
      1.0507009873554804934193349852946 * 1.6732632423543772848170429916717;

  /** erf'(x) = 2/sqrt(pi) · e^(-x²). */
  static final double TWO_OVER_SQRT_PI = 1.1283791670955125738961589031215;

  /** Beyond this |x|, erf(x) rounds to ±1 in float (erfc(4) ≈ 1.5e-8 < half an ulp of 1). */
  static final double ERF_SATURATES = 4.0;

  /** The series stops when a term falls under this fraction of the sum (double precision). */
  private static final double SERIES_EPS = 1e-17;

  /** {@code // x (total) -> y (total) = f(x)}. */
  public static void unary_fwd(float[] y, float[] x, int total, int kind, float p) {
    unaryFwdRange(y, x, 0, total, kind, p);
  }

  /** {@link #unary_fwd} on elements [lo, hi). */
  public static void unaryFwdRange(float[] y, float[] x, int lo, int hi, int kind, float p) {
    UnaryKind k = UnaryKind.ofCode(kind);
    for (int i = lo; i < hi; i++) {
      y[i] = fwd(k, x[i], p);
    }
  }

  /** {@code // dy (total), v (valueTotal) -> dx (total) = dy·f'(v)}, v tiled over the targets. */
  public static void unary_bwd(
      float[] dx, float[] dy, float[] v, int total, int valueTotal, int kind, float p) {
    unaryBwdRange(dx, dy, v, 0, total, valueTotal, kind, p);
  }

  /** {@link #unary_bwd} on gradient elements [lo, hi); v may be null for NEG. */
  public static void unaryBwdRange(
      float[] dx, float[] dy, float[] v, int lo, int hi, int valueTotal, int kind, float p) {
    UnaryKind k = UnaryKind.ofCode(kind);
    for (int i = lo; i < hi; i++) {
      dx[i] = k == UnaryKind.NEG ? -dy[i] : bwd(k, dy[i], v[i % valueTotal], p);
    }
  }

  private static float fwd(UnaryKind k, float v, float p) {
    double d = v;
    return switch (k) {
      case NEG -> -v;
      case ABS -> Math.abs(v);
      case SQUARE -> v * v;
      case SQRT -> (float) Math.sqrt(d);
      case RSQRT -> (float) (1.0 / Math.sqrt(d));
      case LOG -> (float) Math.log(d);
      case POW -> (float) Math.pow(d, p);
      case SELU -> v > 0f ? (float) (SELU_SCALE * d) : (float) (SELU_SCALE_ALPHA * Math.expm1(d));
      case SOFTPLUS -> (float) (d > 0 ? d + Math.log1p(Math.exp(-d)) : Math.log1p(Math.exp(d)));
      case ERF -> (float) erf(d);
    };
  }

  private static float bwd(UnaryKind k, float g, float u, float p) {
    double d = u;
    return switch (k) {
      case NEG -> -g;
      case ABS -> u > 0f ? g : (u < 0f ? -g : 0f);
      case SQUARE -> g * (2f * u);
      case SQRT -> (0.5f * g) / u;
      case RSQRT -> (-0.5f * (g * u)) * (u * u);
      case LOG -> g * (1f / u);
      case POW -> g * (p * (float) Math.pow(d, (double) p - 1.0));
      case SELU -> u < 0f ? g * (u + (float) SELU_SCALE_ALPHA) : g * (float) SELU_SCALE;
      case SOFTPLUS -> (float) (g / (1.0 + Math.exp(-d)));
      case ERF -> g * (float) (TWO_OVER_SQRT_PI * Math.exp(-d * d));
    };
  }

  /**
   * The error function in double: erf(x) = 2/sqrt(pi) · e^(-x²) · Σ_n 2^n x^(2n+1) / (2n+1)!!, a
   * series of positive terms (no cancellation, relative error a few ulps of double) for |x| below
   * {@link #ERF_SATURATES}, ±1 beyond (where the float result is ±1 anyway).
   */
  public static double erf(double x) {
    if (Double.isNaN(x)) {
      return x;
    }
    double a = Math.abs(x);
    if (a >= ERF_SATURATES) {
      return Math.signum(x);
    }
    double x2 = 2 * a * a;
    double term = a;
    double sum = a;
    for (int n = 1; term > SERIES_EPS * sum; n++) {
      term *= x2 / (2 * n + 1);
      sum += term;
    }
    return Math.copySign(TWO_OVER_SQRT_PI * Math.exp(-a * a) * sum, x);
  }
}
