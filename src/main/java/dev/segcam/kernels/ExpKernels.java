package dev.segcam.kernels;

/**
 * Java twins of kernels/exp.cu (same names and argument order); the CPU engine runs them over
 * ranges of elements in parallel.
 */
public final class ExpKernels {
  private ExpKernels() {}

  /** {@code // x (total) -> y (total) = e^x}, in double rounded once. */
  public static void exp_fwd(float[] y, float[] x, int total) {
    expFwdRange(y, x, 0, total);
  }

  /** {@link #exp_fwd} on elements [lo, hi). */
  public static void expFwdRange(float[] y, float[] x, int lo, int hi) {
    for (int i = lo; i < hi; i++) {
      y[i] = (float) Math.exp(x[i]);
    }
  }

  /** {@code // dy (total), y (valueTotal) -> dx (total) = dy·y}, y tiled over the targets. */
  public static void exp_bwd(float[] dx, float[] dy, float[] y, int total, int valueTotal) {
    expBwdRange(dx, dy, y, 0, total, valueTotal);
  }

  /** {@link #exp_bwd} on gradient elements [lo, hi). */
  public static void expBwdRange(
      float[] dx, float[] dy, float[] y, int lo, int hi, int valueTotal) {
    for (int i = lo; i < hi; i++) {
      dx[i] = dy[i] * y[i % valueTotal];
    }
  }
}
