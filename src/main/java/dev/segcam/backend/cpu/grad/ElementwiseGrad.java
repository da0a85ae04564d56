package dev.segcam.backend.cpu.grad;

import dev.segcam.backend.cpu.Gemm;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.ir.Op.ActivationKind;

/**
 * Data gradients of element-wise ops, with TensorFlow's choice of which forward value each uses
 * (its C++ gradient registry, the one Graph.addGradients runs).
 *
 * <p>Batched targets: dy has K times as many elements as the forward values (the values tiled K
 * times along the batch), so gradient element i pairs with value element i % values.length.
 */
public final class ElementwiseGrad {
  private static final int CHUNK = 1 << 14;

  private ElementwiseGrad() {}

  /** Body over a run of gradient indices [g, g+len) whose values sit at [v, v+len). */
  @FunctionalInterface
  interface TiledBody {
    void run(int g, int v, int len);
  }

  static void forTiled(int total, int values, Parallel par, TiledBody body) {
    int chunks = (total + CHUNK - 1) / CHUNK;
    par.parallelFor(
        chunks,
        1,
        (start, end) -> {
          int i = start * CHUNK;
          int stop = Math.min(total, end * CHUNK);
          while (i < stop) {
            int v = i % values;
            int len = Math.min(stop - i, values - v);
            body.run(i, v, len);
            i += len;
          }
        });
  }

  /**
   * dy (B,...), x = forward input, y = forward output (N,...) -> dx (B,...).
   *
   * <p>Relu: dy where x > 0 (0 at x == 0, as ReluGrad). Relu6: dy where 0 < x < 6. LeakyRelu: dy
   * where x > 0, else alpha·dy. Elu (EluGrad on outputs): dy·(y+1) where y < 0. Sigmoid: dy·y(1-y).
   * Tanh: dy·(1-y²). x or y may be null where the kind does not read it.
   */
  public static float[] activation(
      ActivationKind kind, float alpha, float[] dy, float[] x, float[] y, Parallel par) {
    float[] dx = new float[dy.length];
    int values = (x != null ? x : y).length;
    forTiled(
        dy.length,
        values,
        par,
        (g, v, len) -> {
          switch (kind) {
            case RELU:
              for (int i = 0; i < len; i++) {
                dx[g + i] = x[v + i] > 0f ? dy[g + i] : 0f;
              }
              break;
            case RELU6:
              for (int i = 0; i < len; i++) {
                float a = x[v + i];
                dx[g + i] = a > 0f && a < 6f ? dy[g + i] : 0f;
              }
              break;
            case LEAKY_RELU:
              for (int i = 0; i < len; i++) {
                dx[g + i] = x[v + i] > 0f ? dy[g + i] : alpha * dy[g + i];
              }
              break;
            case ELU:
              for (int i = 0; i < len; i++) {
                float o = y[v + i];
                dx[g + i] = o < 0f ? dy[g + i] * (o + 1f) : dy[g + i];
              }
              break;
            case SIGMOID:
              for (int i = 0; i < len; i++) {
                float o = y[v + i];
                dx[g + i] = dy[g + i] * (o * (1f - o));
              }
              break;
            case TANH:
              for (int i = 0; i < len; i++) {
                float o = y[v + i];
                dx[g + i] = dy[g + i] * (1f - o * o);
              }
              break;
            default:
              throw new IllegalStateException("activation " + kind);
          }
        });
    return dx;
  }

  /** Which forward value an activation's gradient reads: true = input x, false = output y. */
  public static boolean readsInput(ActivationKind kind) {
    return kind == ActivationKind.RELU
        || kind == ActivationKind.RELU6
        || kind == ActivationKind.LEAKY_RELU;
  }

  /**
   * Softmax over the last axis (length n): dx = (dy - sum(dy·y)) · y, per row.
   *
   * <p>dy (B·rows, n), y (N·rows, n) -> dx like dy.
   */
  public static float[] softmax(float[] dy, float[] y, int n, Parallel par) {
    float[] dx = new float[dy.length];
    int rows = dy.length / n;
    int valueRows = y.length / n;
    par.parallelFor(
        rows,
        1,
        (start, end) -> {
          for (int r = start; r < end; r++) {
            int g = r * n;
            int v = (r % valueRows) * n;
            float s = 0f;
            for (int i = 0; i < n; i++) {
              s += dy[g + i] * y[v + i];
            }
            for (int i = 0; i < n; i++) {
              dx[g + i] = (dy[g + i] - s) * y[v + i];
            }
          }
        });
    return dx;
  }

  /** dy (..., C) · scale (C) -> dx (..., C): the data gradient of a folded BatchNorm. */
  public static float[] scaleChannels(float[] dy, float[] scale, Parallel par) {
    int c = scale.length;
    float[] dx = new float[dy.length];
    par.parallelFor(
        dy.length / c,
        1,
        (start, end) -> {
          for (int r = start; r < end; r++) {
            int o = r * c;
            for (int i = 0; i < c; i++) {
              dx[o + i] = dy[o + i] * scale[i];
            }
          }
        });
    return dx;
  }

  /** dy (B,O), weights (I,O) -> dx (B,I) = dy · weightsᵀ. */
  public static float[] matMulData(
      float[] dy, int batch, float[] weights, int in, int out, Parallel par) {
    float[] dx = new float[batch * in];
    Gemm.sgemm(par, false, true, batch, in, out, 1f, dy, 0, out, weights, 0, out, 0f, dx, 0, in);
    return dx;
  }
}
