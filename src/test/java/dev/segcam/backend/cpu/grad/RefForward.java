package dev.segcam.backend.cpu.grad;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A deliberately naive float64 forward pass of the IR, for finite-difference checks of the
 * gradients: written straight from each op's definition (scatter form for the transposed conv), no
 * code shared with the gradient kernels. Float64 keeps central differences exact to ~1e-9.
 */
public final class RefForward {
  /** A float64 tensor, row-major. */
  public record D(int[] dims, double[] v) {
    int size() {
      return v.length;
    }

    FloatTensor toFloat() {
      float[] f = new float[v.length];
      for (int i = 0; i < f.length; i++) {
        f[i] = (float) v[i];
      }
      return new FloatTensor(Shape.of(dims), f);
    }

    static D of(FloatTensor t) {
      double[] d = new double[t.size()];
      for (int i = 0; i < d.length; i++) {
        d[i] = t.data()[i];
      }
      return new D(t.shape().dims(), d);
    }
  }

  private RefForward() {}

  /** Values of every node; overrides replace a node's computed value (for perturbing a layer). */
  public static Map<String, D> run(Graph g, Map<String, D> inputs, Map<String, D> overrides) {
    Map<String, D> vals = new HashMap<>();
    for (Node n : g.nodes()) {
      D out;
      if (overrides.containsKey(n.name())) {
        out = overrides.get(n.name());
      } else if (n.op() instanceof Op.Input) {
        out = inputs.get(n.name());
      } else {
        D[] in = new D[n.inputs().size()];
        for (int i = 0; i < in.length; i++) {
          in[i] = vals.get(n.inputs().get(i));
        }
        out = eval(n.op(), in);
      }
      vals.put(n.name(), out);
    }
    return vals;
  }

  public static Map<String, FloatTensor> toFloat(Map<String, D> vals) {
    Map<String, FloatTensor> m = new HashMap<>();
    vals.forEach((k, v) -> m.put(k, v.toFloat()));
    return m;
  }

  static double[] toDouble(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }

  static D eval(Op op, D[] in) {
    if (op instanceof Op.Const c) {
      return D.of(c.value());
    }
    if (op instanceof Op.Conv2D c) {
      return conv(
          in[0],
          c.filter(),
          c.bias(),
          c.strideH(),
          c.strideW(),
          c.dilationH(),
          c.dilationW(),
          c.padding(),
          false);
    }
    if (op instanceof Op.DepthwiseConv2D c) {
      return conv(
          in[0],
          c.filter(),
          c.bias(),
          c.strideH(),
          c.strideW(),
          c.dilationH(),
          c.dilationW(),
          c.padding(),
          true);
    }
    if (op instanceof Op.Conv2DTranspose c) {
      return convTranspose(in[0], c);
    }
    if (op instanceof Op.BiasAdd b) {
      return perChannel(in[0], null, b.bias());
    }
    if (op instanceof Op.BatchNorm b) {
      return perChannel(in[0], b.scale(), b.offset());
    }
    if (op instanceof Op.Activation a) {
      double[] o = new double[in[0].size()];
      for (int i = 0; i < o.length; i++) {
        double x = in[0].v()[i];
        o[i] =
            switch (a.kind()) {
              case RELU -> Math.max(x, 0);
              case RELU6 -> Math.min(Math.max(x, 0), 6);
              case LEAKY_RELU -> x > 0 ? x : a.alpha() * x;
              case ELU -> x < 0 ? Math.expm1(x) : x;
              case SIGMOID -> 1 / (1 + Math.exp(-x));
              case TANH -> Math.tanh(x);
            };
      }
      return new D(in[0].dims(), o);
    }
    if (op instanceof Op.Unary u) {
      double[] o = new double[in[0].size()];
      for (int i = 0; i < o.length; i++) {
        o[i] = unary(u, in[0].v()[i]);
      }
      return new D(in[0].dims(), o);
    }
    if (op instanceof Op.Transpose tr) {
      return transpose(in[0], tr);
    }
    if (op instanceof Op.Reduce rd) {
      return reduce(in[0], rd);
    }
    if (op instanceof Op.StridedSlice ss) {
      return stridedSlice(in[0], ss);
    }
    if (op instanceof Op.Exp) {
      double[] o = new double[in[0].size()];
      for (int i = 0; i < o.length; i++) {
        o[i] = Math.exp(in[0].v()[i]);
      }
      return new D(in[0].dims(), o);
    }
    if (op instanceof Op.LogSoftmax) {
      int n = in[0].dims()[in[0].dims().length - 1];
      double[] o = new double[in[0].size()];
      for (int r = 0; r < o.length / n; r++) {
        double s = 0;
        for (int i = 0; i < n; i++) {
          s += Math.exp(in[0].v()[r * n + i]);
        }
        for (int i = 0; i < n; i++) {
          o[r * n + i] = in[0].v()[r * n + i] - Math.log(s);
        }
      }
      return new D(in[0].dims(), o);
    }
    if (op instanceof Op.Softmax) {
      int n = in[0].dims()[in[0].dims().length - 1];
      double[] o = new double[in[0].size()];
      for (int r = 0; r < o.length / n; r++) {
        double mx = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
          mx = Math.max(mx, in[0].v()[r * n + i]);
        }
        double s = 0;
        for (int i = 0; i < n; i++) {
          o[r * n + i] = Math.exp(in[0].v()[r * n + i] - mx);
          s += o[r * n + i];
        }
        for (int i = 0; i < n; i++) {
          o[r * n + i] /= s;
        }
      }
      return new D(in[0].dims(), o);
    }
    if (op instanceof Op.Pool p) {
      return pool(in[0], p);
    }
    if (op instanceof Op.SpatialMean m) {
      int[] d = in[0].dims();
      double[] o = new double[d[0] * d[3]];
      for (int b = 0; b < d[0]; b++) {
        for (int i = 0; i < d[1] * d[2]; i++) {
          for (int c = 0; c < d[3]; c++) {
            o[b * d[3] + c] += in[0].v()[(b * d[1] * d[2] + i) * d[3] + c] / (d[1] * d[2]);
          }
        }
      }
      return new D(m.keepDims() ? new int[] {d[0], 1, 1, d[3]} : new int[] {d[0], d[3]}, o);
    }
    if (op instanceof Op.Resize r) {
      return resize(in[0], r);
    }
    if (op instanceof Op.Concat c) {
      return concat(in, c.axis());
    }
    if (op instanceof Op.Binary b) {
      return binary(in[0], in[1], b.kind());
    }
    if (op instanceof Op.Pad p) {
      return pad(in[0], p);
    }
    if (op instanceof Op.BatchMatMul bm) {
      return batchMatMul(in[0], in[1], bm);
    }
    if (op instanceof Op.MatMul m) {
      int[] xd = in[0].dims();
      int n = in[0].size() / xd[xd.length - 1];
      int ii = m.weights().shape().dim(0);
      int oo = m.weights().shape().dim(1);
      double[] o = new double[n * oo];
      for (int b = 0; b < n; b++) {
        for (int j = 0; j < oo; j++) {
          double s = m.bias() == null ? 0 : m.bias().data()[j];
          for (int i = 0; i < ii; i++) {
            s += in[0].v()[b * ii + i] * m.weights().data()[i * oo + j];
          }
          o[b * oo + j] = s;
        }
      }
      int[] od = xd.clone();
      od[od.length - 1] = oo;
      return new D(od, o);
    }
    if (op instanceof Op.Reshape r) {
      int[] t = r.target().dims();
      int[] d = new int[t.length + 1];
      d[0] = in[0].dims()[0];
      int per = in[0].size() / d[0];
      int known = 1;
      for (int i = 0; i < t.length; i++) {
        d[i + 1] = t[i];
        if (t[i] >= 0) {
          known *= t[i];
        }
      }
      for (int i = 1; i < d.length; i++) {
        if (d[i] < 0) {
          d[i] = per / known;
        }
      }
      return new D(d, in[0].v().clone());
    }
    throw new IllegalArgumentException("RefForward: no op " + op.type());
  }

  /**
   * The slice element by element over multi-indices (the per-axis start/step/count of {@link
   * dev.segcam.ir.Slicing}, itself checked against TensorFlow in SliceOpsTfTest).
   */
  private static D stridedSlice(D x, Op.StridedSlice op) {
    Shape xs = Shape.of(x.dims());
    dev.segcam.ir.Slicing.Geometry g = dev.segcam.ir.Slicing.geometry(op, xs);
    int r = xs.rank();
    int total = 1;
    for (int c : g.count()) {
      total *= c;
    }
    double[] o = new double[total];
    int[] q = new int[r];
    for (int i = 0; i < total; i++) {
      int flat = 0;
      for (int d = 0; d < r; d++) {
        flat = flat * xs.dim(d) + g.start()[d] + q[d] * g.step()[d];
      }
      o[i] = x.v()[flat];
      for (int d = r - 1; d >= 0 && ++q[d] == g.count()[d]; d--) {
        q[d] = 0;
      }
    }
    return new D(dev.segcam.ir.Slicing.outputShape(op, xs).dims(), o);
  }

  /**
   * Sum / Mean: every input element added into its output element (reduced axes at 0); Max / Min:
   * the extreme of them.
   */
  private static D reduce(D x, Op.Reduce op) {
    int r = x.dims().length;
    int[] od = x.dims().clone();
    int count = 1;
    for (int d = 0; d < r; d++) {
      if ((op.axesMask() >> d & 1) != 0) {
        count *= od[d];
        od[d] = 1;
      }
    }
    double[] o = new double[Shape.of(od).size()];
    boolean max = op.kind() == Op.ReduceKind.MAX;
    if (op.kind().extreme()) {
      java.util.Arrays.fill(o, max ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY);
    }
    int[] c = new int[r];
    for (int i = 0; i < x.size(); i++) {
      int flat = 0;
      for (int d = 0; d < r; d++) {
        flat = flat * od[d] + (od[d] == 1 ? 0 : c[d]);
      }
      if (op.kind().extreme()) {
        o[flat] = max ? Math.max(o[flat], x.v()[i]) : Math.min(o[flat], x.v()[i]);
      } else {
        o[flat] += x.v()[i];
      }
      for (int d = r - 1; d >= 0 && ++c[d] == x.dims()[d]; d--) {
        c[d] = 0;
      }
    }
    if (op.kind() == Op.ReduceKind.MEAN) {
      for (int i = 0; i < o.length; i++) {
        o[i] /= count;
      }
    }
    Shape x0 = Shape.of(x.dims());
    return new D(dev.segcam.ir.Slicing.reduced(op, x0).dims(), o);
  }

  /** The batched product in double, element (row, col) of op(a)·op(b) read by index. */
  private static D batchMatMul(D a, D b, Op.BatchMatMul op) {
    int[] ad = a.dims();
    int[] bd = b.dims();
    int r = ad.length;
    int m = op.adjA() ? ad[r - 1] : ad[r - 2];
    int k = op.adjA() ? ad[r - 2] : ad[r - 1];
    int n = op.adjB() ? bd[r - 2] : bd[r - 1];
    int batch = a.size() / (m * k);
    double[] o = new double[batch * m * n];
    for (int t = 0; t < batch; t++) {
      for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
          double s = 0;
          for (int q = 0; q < k; q++) {
            double x = a.v()[t * m * k + (op.adjA() ? q * m + i : i * k + q)];
            double y = b.v()[t * k * n + (op.adjB() ? j * k + q : q * n + j)];
            s += x * y;
          }
          o[(t * m + i) * n + j] = s;
        }
      }
    }
    int[] od = ad.clone();
    od[r - 2] = m;
    od[r - 1] = n;
    return new D(od, o);
  }

  /** Transpose element by element: output multi-index c reads input index c permuted back. */
  private static D transpose(D x, Op.Transpose op) {
    int r = x.dims().length;
    int[] od = new int[r];
    for (int d = 0; d < r; d++) {
      od[d] = x.dims()[op.perm().get(d)];
    }
    double[] o = new double[x.size()];
    int[] c = new int[r];
    int[] at = new int[r];
    for (int i = 0; i < o.length; i++) {
      for (int d = 0; d < r; d++) {
        at[op.perm().get(d)] = c[d];
      }
      int flat = 0;
      for (int d = 0; d < r; d++) {
        flat = flat * x.dims()[d] + at[d];
      }
      o[i] = x.v()[flat];
      for (int d = r - 1; d >= 0 && ++c[d] == od[d]; d--) {
        c[d] = 0;
      }
    }
    return new D(od, o);
  }

  private static D perChannel(D x, FloatTensor scale, FloatTensor offset) {
    int c = offset.size();
    double[] o = new double[x.size()];
    for (int i = 0; i < o.length; i++) {
      double s = scale == null ? 1 : scale.data()[i % c];
      o[i] = x.v()[i] * s + offset.data()[i % c];
    }
    return new D(x.dims(), o);
  }

  /** Direct convolution; depthwise: filter (KH,KW,C,M), output channel c*M+m. */
  private static D conv(
      D x,
      FloatTensor filter,
      FloatTensor bias,
      int sh,
      int sw,
      int dh,
      int dw,
      Padding pad,
      boolean depthwise) {
    int[] d = x.dims();
    int n = d[0];
    int h = d[1];
    int w = d[2];
    int c = d[3];
    int[] f = filter.shape().dims();
    int kh = f[0];
    int kw = f[1];
    int outC = depthwise ? f[2] * f[3] : f[3];
    int oh = pad.outputSize(h, kh, sh, dh);
    int ow = pad.outputSize(w, kw, sw, dw);
    int pt = pad.before(h, kh, sh, dh);
    int pl = pad.before(w, kw, sw, dw);
    double[] o = new double[n * oh * ow * outC];
    for (int b = 0; b < n; b++) {
      for (int y = 0; y < oh; y++) {
        for (int xx = 0; xx < ow; xx++) {
          for (int oc = 0; oc < outC; oc++) {
            double s = bias == null ? 0 : bias.data()[oc];
            for (int r = 0; r < kh; r++) {
              int ih = y * sh - pt + r * dh;
              if (ih < 0 || ih >= h) {
                continue;
              }
              for (int q = 0; q < kw; q++) {
                int iw = xx * sw - pl + q * dw;
                if (iw < 0 || iw >= w) {
                  continue;
                }
                int xo = ((b * h + ih) * w + iw) * c;
                if (depthwise) {
                  int ci = oc / f[3];
                  int m = oc % f[3];
                  s += x.v()[xo + ci] * filter.data()[((r * kw + q) * c + ci) * f[3] + m];
                } else {
                  for (int ci = 0; ci < c; ci++) {
                    s += x.v()[xo + ci] * filter.data()[((r * kw + q) * c + ci) * outC + oc];
                  }
                }
              }
            }
            o[((b * oh + y) * ow + xx) * outC + oc] = s;
          }
        }
      }
    }
    return new D(new int[] {n, oh, ow, outC}, o);
  }

  /** Scatter form: every input pixel adds filter-weighted copies of itself to the output. */
  private static D convTranspose(D x, Op.Conv2DTranspose t) {
    int[] d = x.dims();
    int n = d[0];
    int h = d[1];
    int w = d[2];
    int c = d[3];
    int[] f = t.filter().shape().dims(); // (KH,KW,F,C)
    int oh =
        t.outH() >= 0
            ? t.outH()
            : t.padding() == Padding.SAME ? h * t.strideH() : (h - 1) * t.strideH() + f[0];
    int ow =
        t.outW() >= 0
            ? t.outW()
            : t.padding() == Padding.SAME ? w * t.strideW() : (w - 1) * t.strideW() + f[1];
    int pt = t.padding().before(oh, f[0], t.strideH(), 1);
    int pl = t.padding().before(ow, f[1], t.strideW(), 1);
    int outC = f[2];
    double[] o = new double[n * oh * ow * outC];
    for (int b = 0; b < n; b++) {
      for (int ih = 0; ih < h; ih++) {
        for (int iw = 0; iw < w; iw++) {
          for (int ci = 0; ci < c; ci++) {
            double v = x.v()[((b * h + ih) * w + iw) * c + ci];
            for (int r = 0; r < f[0]; r++) {
              int y = ih * t.strideH() - pt + r;
              if (y < 0 || y >= oh) {
                continue;
              }
              for (int q = 0; q < f[1]; q++) {
                int xx = iw * t.strideW() - pl + q;
                if (xx < 0 || xx >= ow) {
                  continue;
                }
                for (int fo = 0; fo < outC; fo++) {
                  o[((b * oh + y) * ow + xx) * outC + fo] +=
                      v * t.filter().data()[((r * f[1] + q) * outC + fo) * c + ci];
                }
              }
            }
          }
        }
      }
    }
    if (t.bias() != null) {
      for (int i = 0; i < o.length; i++) {
        o[i] += t.bias().data()[i % outC];
      }
    }
    return new D(new int[] {n, oh, ow, outC}, o);
  }

  private static D pool(D x, Op.Pool p) {
    int[] d = x.dims();
    int h = d[1];
    int w = d[2];
    int c = d[3];
    int oh = p.padding().outputSize(h, p.windowH(), p.strideH(), 1);
    int ow = p.padding().outputSize(w, p.windowW(), p.strideW(), 1);
    int pt = p.padding().before(h, p.windowH(), p.strideH(), 1);
    int pl = p.padding().before(w, p.windowW(), p.strideW(), 1);
    double[] o = new double[d[0] * oh * ow * c];
    for (int b = 0; b < d[0]; b++) {
      for (int y = 0; y < oh; y++) {
        for (int xx = 0; xx < ow; xx++) {
          for (int ci = 0; ci < c; ci++) {
            double best = Double.NEGATIVE_INFINITY;
            double sum = 0;
            int count = 0;
            for (int r = 0; r < p.windowH(); r++) {
              for (int q = 0; q < p.windowW(); q++) {
                int ih = y * p.strideH() - pt + r;
                int iw = xx * p.strideW() - pl + q;
                if (ih < 0 || ih >= h || iw < 0 || iw >= w) {
                  continue;
                }
                double v = x.v()[((b * h + ih) * w + iw) * c + ci];
                best = Math.max(best, v);
                sum += v;
                count++;
              }
            }
            o[((b * oh + y) * ow + xx) * c + ci] = p.kind() == Op.PoolKind.MAX ? best : sum / count;
          }
        }
      }
    }
    return new D(new int[] {d[0], oh, ow, c}, o);
  }

  /** TensorFlow's resize coordinate rules; the scale and source coordinate are float32 as in TF. */
  private static D resize(D x, Op.Resize r) {
    int[] d = x.dims();
    int h = d[1];
    int w = d[2];
    int c = d[3];
    int oh = r.outH();
    int ow = r.outW();
    double[] o = new double[d[0] * oh * ow * c];
    float sy = r.alignCorners() && oh > 1 ? (h - 1) / (float) (oh - 1) : h / (float) oh;
    float sx = r.alignCorners() && ow > 1 ? (w - 1) / (float) (ow - 1) : w / (float) ow;
    for (int b = 0; b < d[0]; b++) {
      for (int y = 0; y < oh; y++) {
        for (int xx = 0; xx < ow; xx++) {
          for (int ci = 0; ci < c; ci++) {
            double v;
            if (r.mode() == Op.ResizeMode.NEAREST) {
              int iy = nearestSrc(y, sy, h, r);
              int ix = nearestSrc(xx, sx, w, r);
              v = x.v()[((b * h + iy) * w + ix) * c + ci];
            } else {
              float fy = r.halfPixelCenters() ? (y + 0.5f) * sy - 0.5f : y * sy;
              float fx = r.halfPixelCenters() ? (xx + 0.5f) * sx - 0.5f : xx * sx;
              int y0 = Math.max((int) Math.floor(fy), 0);
              int y1 = Math.min((int) Math.ceil(fy), h - 1);
              int x0 = Math.max((int) Math.floor(fx), 0);
              int x1 = Math.min((int) Math.ceil(fx), w - 1);
              double ly = fy - (float) Math.floor(fy);
              double lx = fx - (float) Math.floor(fx);
              double tl = x.v()[((b * h + y0) * w + x0) * c + ci];
              double tr = x.v()[((b * h + y0) * w + x1) * c + ci];
              double bl = x.v()[((b * h + y1) * w + x0) * c + ci];
              double br = x.v()[((b * h + y1) * w + x1) * c + ci];
              double top = tl + (tr - tl) * lx;
              double bot = bl + (br - bl) * lx;
              v = top + (bot - top) * ly;
            }
            o[((b * oh + y) * ow + xx) * c + ci] = v;
          }
        }
      }
    }
    return new D(new int[] {d[0], oh, ow, c}, o);
  }

  private static int nearestSrc(int i, float scale, int in, Op.Resize r) {
    float s = r.halfPixelCenters() ? (i + 0.5f) * scale : i * scale;
    long k = r.alignCorners() ? Math.round((double) s) : (long) Math.floor(s);
    k = Math.min(k, in - 1);
    return (int) (r.halfPixelCenters() ? Math.max(0, k) : k);
  }

  private static D concat(D[] in, int axis) {
    int[] d = in[0].dims().clone();
    int total = 0;
    for (D t : in) {
      total += t.dims()[axis];
    }
    d[axis] = total;
    int outer = 1;
    for (int i = 0; i < axis; i++) {
      outer *= d[i];
    }
    int inner = 1;
    for (int i = axis + 1; i < d.length; i++) {
      inner *= d[i];
    }
    double[] o = new double[outer * total * inner];
    int at = 0;
    for (D t : in) {
      int run = t.dims()[axis] * inner;
      for (int k = 0; k < outer; k++) {
        System.arraycopy(t.v(), k * run, o, k * total * inner + at * inner, run);
      }
      at += t.dims()[axis];
    }
    return new D(d, o);
  }

  /** The textbook definitions, in double (SELU's constants from Klambauer et al.). */
  private static double unary(Op.Unary u, double x) {
    double seluScale = 1.0507009873554804934193349852946;
    double seluAlpha = 1.6732632423543772848170429916717;
    return switch (u.kind()) {
      case NEG -> -x;
      case ABS -> Math.abs(x);
      case SQUARE -> x * x;
      case SQRT -> Math.sqrt(x);
      case RSQRT -> 1 / Math.sqrt(x);
      case LOG -> Math.log(x);
      case POW -> Math.pow(x, u.param());
      case SELU -> seluScale * (x > 0 ? x : seluAlpha * Math.expm1(x));
      case SOFTPLUS -> Math.log(1 + Math.exp(x));
      case ERF -> dev.segcam.kernels.UnaryKernels.erf(x);
    };
  }

  private static D binary(D a, D b, Op.BinaryKind kind) {
    int r = Math.max(a.dims().length, b.dims().length);
    int[] da = pad1(a.dims(), r);
    int[] db = pad1(b.dims(), r);
    int[] d = new int[r];
    for (int i = 0; i < r; i++) {
      d[i] = Math.max(da[i], db[i]);
    }
    int size = 1;
    for (int x : d) {
      size *= x;
    }
    double[] o = new double[size];
    int[] idx = new int[r];
    for (int i = 0; i < size; i++) {
      int rem = i;
      for (int k = r - 1; k >= 0; k--) {
        idx[k] = rem % d[k];
        rem /= d[k];
      }
      double x = a.v()[flat(idx, da)];
      double y = b.v()[flat(idx, db)];
      o[i] =
          switch (kind) {
            case ADD -> x + y;
            case SUB -> x - y;
            case MUL -> x * y;
            case DIV -> x / y;
            case MAXIMUM -> Math.max(x, y);
            case MINIMUM -> Math.min(x, y);
            case SQUARED_DIFFERENCE -> (x - y) * (x - y);
          };
    }
    return new D(d, o);
  }

  private static int[] pad1(int[] dims, int r) {
    int[] o = new int[r];
    java.util.Arrays.fill(o, 1);
    System.arraycopy(dims, 0, o, r - dims.length, dims.length);
    return o;
  }

  private static int flat(int[] idx, int[] dims) {
    int f = 0;
    for (int k = 0; k < dims.length; k++) {
      f = f * dims[k] + (dims[k] == 1 ? 0 : idx[k]);
    }
    return f;
  }

  private static D pad(D x, Op.Pad p) {
    int[] d = x.dims();
    int r = d.length;
    int[] od = new int[r];
    for (int i = 0; i < r; i++) {
      od[i] = d[i] + p.paddings().get(i)[0] + p.paddings().get(i)[1];
    }
    int size = 1;
    for (int v : od) {
      size *= v;
    }
    double[] o = new double[size];
    java.util.Arrays.fill(o, p.value());
    int[] idx = new int[r];
    for (int i = 0; i < x.size(); i++) {
      int rem = i;
      for (int k = r - 1; k >= 0; k--) {
        idx[k] = rem % d[k];
        rem /= d[k];
      }
      int f = 0;
      for (int k = 0; k < r; k++) {
        f = f * od[k] + idx[k] + p.paddings().get(k)[0];
      }
      o[f] = x.v()[i];
    }
    return new D(od, o);
  }

  static List<String> names(Graph g) {
    return g.nodes().stream().map(Node::name).toList();
  }
}
