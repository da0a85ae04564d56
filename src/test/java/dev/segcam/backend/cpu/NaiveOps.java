package dev.segcam.backend.cpu;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import java.util.List;

/**
 * Obviously-correct references for the CPU kernels: plain nested loops straight from TensorFlow's
 * definitions, double accumulation, no blocking. Padding is recomputed here from TF's formula (not
 * taken from {@link Padding#before}) so a bug there shows up too.
 */
final class NaiveOps {
  private NaiveOps() {}

  /** TF SAME: out = ceil(in/s); total = max((out-1)*s + (k-1)*d + 1 - in, 0); before = total/2. */
  static int[] outAndPad(Padding p, int in, int k, int s, int d) {
    int eff = (k - 1) * d + 1;
    if (p == Padding.VALID) {
      return new int[] {(in - eff) / s + 1, 0};
    }
    int out = (in + s - 1) / s;
    int total = Math.max((out - 1) * s + eff - in, 0);
    return new int[] {out, total / 2};
  }

  static int idx4(Shape s, int a, int b, int c, int d) {
    return ((a * s.dim(1) + b) * s.dim(2) + c) * s.dim(3) + d;
  }

  static FloatTensor conv2d(FloatTensor x, Op.Conv2D op) {
    Shape xs = x.shape();
    Shape fs = op.filter().shape();
    int[] hh = outAndPad(op.padding(), xs.dim(1), fs.dim(0), op.strideH(), op.dilationH());
    int[] ww = outAndPad(op.padding(), xs.dim(2), fs.dim(1), op.strideW(), op.dilationW());
    Shape os = Shape.of(xs.dim(0), hh[0], ww[0], fs.dim(3));
    float[] out = new float[os.size()];
    float[] f = op.filter().data();
    for (int n = 0; n < xs.dim(0); n++) {
      for (int y = 0; y < hh[0]; y++) {
        for (int xx = 0; xx < ww[0]; xx++) {
          for (int o = 0; o < fs.dim(3); o++) {
            double acc = op.bias() == null ? 0 : op.bias().data()[o];
            for (int i = 0; i < fs.dim(0); i++) {
              for (int j = 0; j < fs.dim(1); j++) {
                int iy = y * op.strideH() - hh[1] + i * op.dilationH();
                int ix = xx * op.strideW() - ww[1] + j * op.dilationW();
                if (iy < 0 || iy >= xs.dim(1) || ix < 0 || ix >= xs.dim(2)) {
                  continue;
                }
                for (int c = 0; c < xs.dim(3); c++) {
                  acc += (double) x.data()[idx4(xs, n, iy, ix, c)] * f[idx4(fs, i, j, c, o)];
                }
              }
            }
            out[idx4(os, n, y, xx, o)] = (float) acc;
          }
        }
      }
    }
    return new FloatTensor(os, out);
  }

  static FloatTensor depthwise(FloatTensor x, Op.DepthwiseConv2D op) {
    Shape xs = x.shape();
    Shape fs = op.filter().shape();
    int m = fs.dim(3);
    int[] hh = outAndPad(op.padding(), xs.dim(1), fs.dim(0), op.strideH(), op.dilationH());
    int[] ww = outAndPad(op.padding(), xs.dim(2), fs.dim(1), op.strideW(), op.dilationW());
    Shape os = Shape.of(xs.dim(0), hh[0], ww[0], xs.dim(3) * m);
    float[] out = new float[os.size()];
    for (int n = 0; n < xs.dim(0); n++) {
      for (int y = 0; y < hh[0]; y++) {
        for (int xx = 0; xx < ww[0]; xx++) {
          for (int c = 0; c < xs.dim(3); c++) {
            for (int q = 0; q < m; q++) {
              double acc = op.bias() == null ? 0 : op.bias().data()[c * m + q];
              for (int i = 0; i < fs.dim(0); i++) {
                for (int j = 0; j < fs.dim(1); j++) {
                  int iy = y * op.strideH() - hh[1] + i * op.dilationH();
                  int ix = xx * op.strideW() - ww[1] + j * op.dilationW();
                  if (iy >= 0 && iy < xs.dim(1) && ix >= 0 && ix < xs.dim(2)) {
                    acc +=
                        (double) x.data()[idx4(xs, n, iy, ix, c)]
                            * op.filter().data()[idx4(fs, i, j, c, q)];
                  }
                }
              }
              out[idx4(os, n, y, xx, c * m + q)] = (float) acc;
            }
          }
        }
      }
    }
    return new FloatTensor(os, out);
  }

  /**
   * Conv2DBackpropInput by its definition: the adjoint of the forward conv (N,OH,OW,F) -> (N,H,W,C)
   * with the same filter, i.e. every input pixel scatters x * w into the output pixels the forward
   * conv would have read it from.
   */
  static FloatTensor conv2dTranspose(FloatTensor x, Op.Conv2DTranspose op, int oh, int ow) {
    Shape xs = x.shape();
    Shape fs = op.filter().shape(); // (KH,KW,F,C)
    int pt = outAndPad(op.padding(), oh, fs.dim(0), op.strideH(), 1)[1];
    int pl = outAndPad(op.padding(), ow, fs.dim(1), op.strideW(), 1)[1];
    Shape os = Shape.of(xs.dim(0), oh, ow, fs.dim(2));
    double[] acc = new double[os.size()];
    for (int n = 0; n < xs.dim(0); n++) {
      for (int y = 0; y < xs.dim(1); y++) {
        for (int xx = 0; xx < xs.dim(2); xx++) {
          for (int i = 0; i < fs.dim(0); i++) {
            for (int j = 0; j < fs.dim(1); j++) {
              int ty = y * op.strideH() - pt + i;
              int tx = xx * op.strideW() - pl + j;
              if (ty < 0 || ty >= oh || tx < 0 || tx >= ow) {
                continue;
              }
              for (int f = 0; f < fs.dim(2); f++) {
                for (int c = 0; c < xs.dim(3); c++) {
                  acc[idx4(os, n, ty, tx, f)] +=
                      (double) x.data()[idx4(xs, n, y, xx, c)]
                          * op.filter().data()[idx4(fs, i, j, f, c)];
                }
              }
            }
          }
        }
      }
    }
    float[] out = new float[acc.length];
    for (int i = 0; i < acc.length; i++) {
      int f = i % fs.dim(2);
      out[i] = (float) (acc[i] + (op.bias() == null ? 0 : op.bias().data()[f]));
    }
    return new FloatTensor(os, out);
  }

  static FloatTensor pool(FloatTensor x, Op.Pool op) {
    Shape xs = x.shape();
    int[] hh = outAndPad(op.padding(), xs.dim(1), op.windowH(), op.strideH(), 1);
    int[] ww = outAndPad(op.padding(), xs.dim(2), op.windowW(), op.strideW(), 1);
    Shape os = Shape.of(xs.dim(0), hh[0], ww[0], xs.dim(3));
    float[] out = new float[os.size()];
    for (int n = 0; n < xs.dim(0); n++) {
      for (int y = 0; y < hh[0]; y++) {
        for (int xx = 0; xx < ww[0]; xx++) {
          for (int c = 0; c < xs.dim(3); c++) {
            double sum = 0;
            float max = Float.NEGATIVE_INFINITY;
            int count = 0;
            for (int i = 0; i < op.windowH(); i++) {
              for (int j = 0; j < op.windowW(); j++) {
                int iy = y * op.strideH() - hh[1] + i;
                int ix = xx * op.strideW() - ww[1] + j;
                if (iy >= 0 && iy < xs.dim(1) && ix >= 0 && ix < xs.dim(2)) {
                  float v = x.data()[idx4(xs, n, iy, ix, c)];
                  sum += v;
                  max = Math.max(max, v);
                  count++;
                }
              }
            }
            out[idx4(os, n, y, xx, c)] = op.kind() == Op.PoolKind.MAX ? max : (float) (sum / count);
          }
        }
      }
    }
    return new FloatTensor(os, out);
  }

  /** TF resize_bilinear / resize_nearest_neighbor, written out per output pixel. */
  static FloatTensor resize(FloatTensor x, Op.Resize op) {
    Shape xs = x.shape();
    int h = xs.dim(1);
    int w = xs.dim(2);
    int oh = op.outH();
    int ow = op.outW();
    boolean ac = op.alignCorners();
    boolean hp = op.halfPixelCenters();
    float sy = ac && oh > 1 ? (h - 1) / (float) (oh - 1) : h / (float) oh;
    float sx = ac && ow > 1 ? (w - 1) / (float) (ow - 1) : w / (float) ow;
    Shape os = Shape.of(xs.dim(0), oh, ow, xs.dim(3));
    float[] out = new float[os.size()];
    for (int n = 0; n < xs.dim(0); n++) {
      for (int y = 0; y < oh; y++) {
        for (int xx = 0; xx < ow; xx++) {
          for (int c = 0; c < xs.dim(3); c++) {
            float v;
            if (op.mode() == Op.ResizeMode.NEAREST) {
              float fy = hp ? (y + 0.5f) * sy : y * sy;
              float fx = hp ? (xx + 0.5f) * sx : xx * sx;
              // roundf: half away from zero (coordinates here are >= 0)
              int iy = Math.min(ac ? (int) Math.floor(fy + 0.5f) : (int) Math.floor(fy), h - 1);
              int ix = Math.min(ac ? (int) Math.floor(fx + 0.5f) : (int) Math.floor(fx), w - 1);
              if (hp) {
                iy = Math.max(0, iy);
                ix = Math.max(0, ix);
              }
              v = x.data()[idx4(xs, n, iy, ix, c)];
            } else {
              float fy = hp ? (y + 0.5f) * sy - 0.5f : y * sy;
              float fx = hp ? (xx + 0.5f) * sx - 0.5f : xx * sx;
              int y0 = (int) Math.floor(fy);
              int x0 = (int) Math.floor(fx);
              float dy = fy - y0;
              float dx = fx - x0;
              int yl = Math.max(y0, 0);
              int yu = Math.min((int) Math.ceil(fy), h - 1);
              int xl = Math.max(x0, 0);
              int xu = Math.min((int) Math.ceil(fx), w - 1);
              float tl = x.data()[idx4(xs, n, yl, xl, c)];
              float tr = x.data()[idx4(xs, n, yl, xu, c)];
              float bl = x.data()[idx4(xs, n, yu, xl, c)];
              float br = x.data()[idx4(xs, n, yu, xu, c)];
              float top = tl + (tr - tl) * dx;
              float bot = bl + (br - bl) * dx;
              v = top + (bot - top) * dy;
            }
            out[idx4(os, n, y, xx, c)] = v;
          }
        }
      }
    }
    return new FloatTensor(os, out);
  }

  static float act(Op.ActivationKind k, float alpha, float v) {
    return switch (k) {
      case RELU -> v > 0 ? v : 0;
      case RELU6 -> v < 0 ? 0 : (v > 6 ? 6 : v);
      case LEAKY_RELU -> v >= 0 ? v : alpha * v;
      case ELU -> v >= 0 ? v : (float) (Math.exp(v) - 1);
      case SIGMOID -> (float) (1 / (1 + Math.exp(-v)));
      case TANH -> (float) ((Math.exp(v) - Math.exp(-v)) / (Math.exp(v) + Math.exp(-v)));
    };
  }

  static FloatTensor softmax(FloatTensor x) {
    int c = x.shape().dim(-1);
    float[] out = new float[x.size()];
    for (int r = 0; r < x.size() / c; r++) {
      double sum = 0;
      for (int q = 0; q < c; q++) {
        sum += Math.exp(x.data()[r * c + q]);
      }
      for (int q = 0; q < c; q++) {
        out[r * c + q] = (float) (Math.exp(x.data()[r * c + q]) / sum);
      }
    }
    return new FloatTensor(x.shape(), out);
  }

  /** Multi-index walk over the output, reading each operand at its broadcast index. */
  static FloatTensor binary(FloatTensor a, FloatTensor b, Op.BinaryKind kind) {
    Shape os = dev.segcam.ir.ShapeInference.broadcast("t", List.of(a.shape(), b.shape()));
    float[] out = new float[os.size()];
    int r = os.rank();
    int[] idx = new int[r];
    for (int flat = 0; flat < out.length; flat++) {
      int rem = flat;
      for (int d = r - 1; d >= 0; d--) {
        idx[d] = rem % os.dim(d);
        rem /= os.dim(d);
      }
      float u = a.data()[at(a.shape(), idx)];
      float v = b.data()[at(b.shape(), idx)];
      out[flat] =
          switch (kind) {
            case ADD -> u + v;
            case SUB -> u - v;
            case MUL -> u * v;
            case DIV -> u / v;
            case MAXIMUM -> Math.max(u, v);
            case MINIMUM -> Math.min(u, v);
            case SQUARED_DIFFERENCE -> (u - v) * (u - v);
          };
    }
    return new FloatTensor(os, out);
  }

  private static int at(Shape s, int[] outIdx) {
    int off = outIdx.length - s.rank();
    int flat = 0;
    for (int d = 0; d < s.rank(); d++) {
      int i = s.dim(d) == 1 ? 0 : outIdx[d + off];
      flat = flat * s.dim(d) + i;
    }
    return flat;
  }

  static void gemm(
      boolean ta,
      boolean tb,
      int m,
      int n,
      int k,
      float alpha,
      float[] a,
      int aOff,
      int lda,
      float[] b,
      int bOff,
      int ldb,
      float beta,
      float[] c,
      int cOff,
      int ldc) {
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int p = 0; p < k; p++) {
          float av = ta ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
          float bv = tb ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
          s += (double) av * bv;
        }
        int ci = cOff + i * ldc + j;
        c[ci] = (float) (alpha * s + (beta == 0 ? 0 : beta * c[ci]));
      }
    }
  }
}
