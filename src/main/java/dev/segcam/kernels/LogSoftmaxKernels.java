package dev.segcam.kernels;

/**
 * Java twins of kernels/log_softmax.cu (same names and argument order): LogSoftmax over the last
 * axis and its data gradient. The CPU engine runs the row-range variants in parallel.
 */
public final class LogSoftmaxKernels {
  private LogSoftmaxKernels() {}

  /** {@code // x (rows,C) -> y (rows,C) = (x − max) − log Σ exp(x − max)}, the sum in double. */
  public static void log_softmax_fwd(float[] y, float[] x, int rows, int C) {
    logSoftmaxFwdRows(y, x, 0, rows, C);
  }

  /** {@link #log_softmax_fwd} on rows [lo, hi). */
  public static void logSoftmaxFwdRows(float[] y, float[] x, int lo, int hi, int C) {
    for (int r = lo; r < hi; r++) {
      int o = r * C;
      float mx = ActivationKernels.rowMax(x, o, C);
      double sum = 0;
      for (int q = 0; q < C; q++) {
        sum += (float) Math.exp(x[o + q] - mx);
      }
      float ls = (float) Math.log(sum);
      for (int q = 0; q < C; q++) {
        y[o + q] = (x[o + q] - mx) - ls;
      }
    }
  }

  /** {@code // dy (rows,C), y (valueRows,C) -> dx (rows,C) = dy − exp(y)·Σ dy} */
  public static void log_softmax_bwd(
      float[] dx, float[] dy, float[] y, int rows, int valueRows, int C) {
    logSoftmaxBwdRows(dx, dy, y, 0, rows, valueRows, C);
  }

  /** {@link #log_softmax_bwd} on gradient rows [lo, hi). */
  public static void logSoftmaxBwdRows(
      float[] dx, float[] dy, float[] y, int lo, int hi, int valueRows, int C) {
    for (int r = lo; r < hi; r++) {
      int g = r * C;
      int v = (r % valueRows) * C;
      float t = 0f;
      for (int q = 0; q < C; q++) {
        t += dy[g + q];
      }
      for (int q = 0; q < C; q++) {
        dx[g + q] = dy[g + q] - (float) Math.exp(y[v + q]) * t;
      }
    }
  }
}
