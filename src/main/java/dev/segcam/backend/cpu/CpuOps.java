package dev.segcam.backend.cpu;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import dev.segcam.kernels.ActivationKernels;
import java.util.List;

/**
 * The forward kernels of the CPU engine, one static function per IR op, on NHWC float arrays. Each
 * follows TensorFlow's semantics (SAME padding puts the odd pixel after, average pooling divides by
 * the number of in-bounds pixels, resize uses TF's exact coordinate rules). The heavy ones
 * (convolutions, matmul) go through {@link Gemm}; the rest are parallel over rows of the output.
 */
public final class CpuOps {
  private CpuOps() {}

  /** Elements per parallel chunk below which a split is not worth a thread hand-off. */
  private static final int GRAIN = 1 << 14;

  // ---------------------------------------------------------------- convolution

  /**
   * Conv2D filter packed for the GEMM: (F x kp) with row f = filter[.,.,.,f] in (kh,kw,c) order,
   * zero-padded to kp = padK(KH*KW*C). Built once per op and reused across runs.
   */
  public record PackedConv(
      int kh, int kw, int c, int f, int kp, float[] wt, CpuWinograd.Weights winograd) {
    /** Set -Dsegcam.cpu.winograd=false to force the GEMM path (comparisons, debugging). */
    static final boolean WINOGRAD = !"false".equals(System.getProperty("segcam.cpu.winograd"));

    /** Fewest input and output channels for the Winograd path. */
    static final int WINOGRAD_MIN = Integer.getInteger("segcam.cpu.winograd.min", 32);

    public static PackedConv of(FloatTensor filter) {
      Shape s = filter.shape();
      int kh = s.dim(0);
      int kw = s.dim(1);
      int c = s.dim(2);
      int f = s.dim(3);
      int k = kh * kw * c;
      int kp = Gemm.padK(k);
      float[] src = filter.data();
      float[] wt = new float[f * kp];
      for (int q = 0; q < k; q++) {
        for (int o = 0; o < f; o++) {
          wt[o * kp + q] = src[q * f + o];
        }
      }
      // With few channels the transforms cost more than the saved products (measured: at 16
      // channels the GEMM path wins, at 32 they tie, from 64 Winograd is ~1.7x faster).
      boolean wino = WINOGRAD && kh == 3 && kw == 3 && c >= WINOGRAD_MIN && f >= WINOGRAD_MIN;
      return new PackedConv(kh, kw, c, f, kp, wt, wino ? CpuWinograd.Weights.of(filter) : null);
    }
  }

  /**
   * Conv2D as a GEMM on the transposed problem: out^T (F x P) = Wt (F x K) * col^T (K x P), P =
   * N*OH*OW output pixels. Pixels run along the vectorized inner loop (long, whatever F is), and
   * im2col panels are built on the fly from x, never materialized.
   */
  // x (N,H,W,C), filter (KH,KW,C,F), bias (F) -> (N,OH,OW,F)
  public static FloatTensor conv2d(Parallel par, FloatTensor x, Op.Conv2D op, PackedConv w) {
    Shape xs = x.shape();
    int n = xs.dim(0);
    int h = xs.dim(1);
    int wd = xs.dim(2);
    int c = xs.dim(3);
    if (c != w.c()) {
      throw new ShapeException("conv2d input " + xs + " has " + c + " channels, filter " + w.c());
    }
    int sh = op.strideH();
    int sw = op.strideW();
    int dh = op.dilationH();
    int dw = op.dilationW();
    int oh = op.padding().outputSize(h, w.kh(), sh, dh);
    int ow = op.padding().outputSize(wd, w.kw(), sw, dw);
    int pt = op.padding().before(h, w.kh(), sh, dh);
    int pl = op.padding().before(wd, w.kw(), sw, dw);
    int f = w.f();
    int p = n * oh * ow;
    float[] out = new float[p * f];
    fillBias(par, out, p, f, op.bias());
    if (sh == 1 && sw == 1 && dh == 1 && dw == 1 && w.winograd() != null) {
      CpuWinograd.conv3x3(par, x, w.winograd(), pt, pl, oh, ow, out);
      return new FloatTensor(Shape.of(n, oh, ow, f), out);
    }
    if (sh == 1 && sw == 1) {
      conv2dStride1(par, x, w, dh, dw, pt, pl, oh, ow, out);
      return new FloatTensor(Shape.of(n, oh, ow, f), out);
    }
    int k = w.kh() * w.kw() * c;
    // k -> (kh*dh, kw*dw, c)
    int[] kOffH = new int[k];
    int[] kOffW = new int[k];
    int[] kC = new int[k];
    for (int i = 0; i < w.kh(); i++) {
      for (int j = 0; j < w.kw(); j++) {
        for (int q = 0; q < c; q++) {
          int idx = (i * w.kw() + j) * c + q;
          kOffH[idx] = i * dh;
          kOffW[idx] = j * dw;
          kC[idx] = q;
        }
      }
    }
    float[] xd = x.data();
    boolean direct = w.kh() == 1 && w.kw() == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0;
    int hw = oh * ow;
    Gemm.PanelB panel =
        direct
            ? (pc, kc, jc, nc, bp) -> {
              // 1x1 stride 1: col^T is x^T.
              for (int kk = 0; kk < kc; kk++) {
                float[] row = bp[kk];
                int src = jc * c + pc + kk;
                for (int j = 0; j < nc; j++) {
                  row[j] = xd[src + j * c];
                }
              }
            }
            : (pc, kc, jc, nc, bp) -> {
              Gemm.PixelTables t = Gemm.PixelTables.get();
              for (int j = 0; j < nc; j++) {
                int pix = jc + j;
                int b = pix / hw;
                int r = pix - b * hw;
                int y = r / ow;
                int xx = r - y * ow;
                t.base[j] = b * h * wd * c;
                t.ih[j] = y * sh - pt;
                t.iw[j] = xx * sw - pl;
              }
              for (int kk = 0; kk < kc; kk++) {
                float[] row = bp[kk];
                int offH = kOffH[pc + kk];
                int offW = kOffW[pc + kk];
                int cc = kC[pc + kk];
                for (int j = 0; j < nc; j++) {
                  int iy = t.ih[j] + offH;
                  int ix = t.iw[j] + offW;
                  row[j] =
                      (iy >= 0 && iy < h && ix >= 0 && ix < wd)
                          ? xd[t.base[j] + (iy * wd + ix) * c + cc]
                          : 0f;
                }
              }
            };
    Gemm.core(par, f, p, 1, k, w.wt(), w.kp(), panel, Gemm.intoPixels(out, f));
    return new FloatTensor(Shape.of(n, oh, ow, f), out);
  }

  /**
   * Stride-1 convolution without an im2col gather. x is copied once into zero-padded planar planes
   * (per image and channel, Hp x Wp). Output pixels are numbered over the padded width, p' = oy*Wp
   * + ox, so tap (kh,kw) of channel c for a run of pixels is one contiguous slice of a plane,
   * starting at p' + kh*dh*Wp + kw*dw: B panels are filled by System.arraycopy. The columns ox >=
   * OW this computes are wasted ((KW-1)*dw of every Wp) and dropped by the sink.
   */
  // x (N,H,W,C), w packed (F x KH*KW*C) -> out (N,OH,OW,F), out pre-filled with the bias
  private static void conv2dStride1(
      Parallel par,
      FloatTensor x,
      PackedConv w,
      int dh,
      int dw,
      int pt,
      int pl,
      int oh,
      int ow,
      float[] out) {
    Shape xs = x.shape();
    int n = xs.dim(0);
    int h = xs.dim(1);
    int wd = xs.dim(2);
    int c = xs.dim(3);
    int f = w.f();
    int effH = (w.kh() - 1) * dh + 1;
    int effW = (w.kw() - 1) * dw + 1;
    int hp = oh + effH - 1;
    int wp = ow + effW - 1;
    int plane = hp * wp + effW - 1;
    float[] xp = new float[n * c * plane];
    float[] xd = x.data();
    par.parallelFor(
        n * h,
        Math.max(1, GRAIN / Math.max(1, wd * c)),
        (lo, hi) -> {
          for (int row = lo; row < hi; row++) {
            int b = row / h;
            int y = row - b * h;
            for (int q = 0; q < c; q++) {
              int dst = (b * c + q) * plane + (y + pt) * wp + pl;
              int src = (b * h + y) * wd * c + q;
              for (int xx = 0; xx < wd; xx++) {
                xp[dst + xx] = xd[src + xx * c];
              }
            }
          }
        });
    int k = w.kh() * w.kw() * c;
    int[] kSrc = new int[k];
    for (int i = 0; i < w.kh(); i++) {
      for (int j = 0; j < w.kw(); j++) {
        for (int q = 0; q < c; q++) {
          kSrc[(i * w.kw() + j) * c + q] = q * plane + i * dh * wp + j * dw;
        }
      }
    }
    int pimg = oh * wp;
    Gemm.PanelB panel =
        (pc, kc, jc, nc, bp) -> {
          int b = jc / pimg;
          int base = b * c * plane + (jc - b * pimg);
          for (int kk = 0; kk < kc; kk++) {
            System.arraycopy(xp, base + kSrc[pc + kk], bp[kk], 0, nc);
          }
        };
    Gemm.Sink sink =
        (i0, i1, jc, nc, rows) -> {
          int b = jc / pimg;
          int l0 = jc - b * pimg;
          int oy = l0 / wp;
          int ox = l0 - oy * wp;
          int obase = b * oh * ow * f;
          for (int j = 0; j < nc; j++) {
            if (ox < ow) {
              int o = obase + (oy * ow + ox) * f;
              for (int i = i0; i < i1; i++) {
                out[o + i] += rows[i - i0][j];
              }
            }
            if (++ox == wp) {
              ox = 0;
              oy++;
            }
          }
        };
    Gemm.core(par, f, pimg, n, k, w.wt(), w.kp(), panel, sink);
  }

  /** Convenience: packs the filter per call (tests, one-off use). */
  public static FloatTensor conv2d(Parallel par, FloatTensor x, Op.Conv2D op) {
    return conv2d(par, x, op, PackedConv.of(op.filter()));
  }

  private static void fillBias(Parallel par, float[] out, int rows, int f, FloatTensor bias) {
    if (bias == null) {
      return;
    }
    float[] b = bias.data();
    par.parallelFor(
        rows,
        Math.max(1, GRAIN / Math.max(1, f)),
        (lo, hi) -> {
          for (int r = lo; r < hi; r++) {
            System.arraycopy(b, 0, out, r * f, f);
          }
        });
  }

  /** Direct loop: each output channel reads one input channel, too little work for a GEMM. */
  // x (N,H,W,C), filter (KH,KW,C,M), bias (C*M) -> (N,OH,OW,C*M)
  public static FloatTensor depthwiseConv2d(Parallel par, FloatTensor x, Op.DepthwiseConv2D op) {
    Shape xs = x.shape();
    Shape fs = op.filter().shape();
    int n = xs.dim(0);
    int h = xs.dim(1);
    int wd = xs.dim(2);
    int c = xs.dim(3);
    int kh = fs.dim(0);
    int kw = fs.dim(1);
    int m = fs.dim(3);
    if (fs.dim(2) != c) {
      throw new ShapeException("depthwise input " + xs + " vs filter " + fs);
    }
    int sh = op.strideH();
    int sw = op.strideW();
    int dh = op.dilationH();
    int dw = op.dilationW();
    int oh = op.padding().outputSize(h, kh, sh, dh);
    int ow = op.padding().outputSize(wd, kw, sw, dw);
    int pt = op.padding().before(h, kh, sh, dh);
    int pl = op.padding().before(wd, kw, sw, dw);
    int co = c * m;
    float[] out = new float[n * oh * ow * co];
    float[] xd = x.data();
    float[] fd = op.filter().data();
    float[] bias = op.bias() == null ? null : op.bias().data();
    par.parallelFor(
        n * oh,
        1,
        (lo, hi) -> {
          float[] acc = new float[co];
          for (int row = lo; row < hi; row++) {
            int b = row / oh;
            int y = row - b * oh;
            for (int xx = 0; xx < ow; xx++) {
              if (bias != null) {
                System.arraycopy(bias, 0, acc, 0, co);
              } else {
                java.util.Arrays.fill(acc, 0f);
              }
              for (int i = 0; i < kh; i++) {
                int iy = y * sh - pt + i * dh;
                if (iy < 0 || iy >= h) {
                  continue;
                }
                for (int j = 0; j < kw; j++) {
                  int ix = xx * sw - pl + j * dw;
                  if (ix < 0 || ix >= wd) {
                    continue;
                  }
                  int xo = ((b * h + iy) * wd + ix) * c;
                  int fo = (i * kw + j) * co;
                  if (m == 1) {
                    for (int q = 0; q < c; q++) {
                      acc[q] += xd[xo + q] * fd[fo + q];
                    }
                  } else {
                    for (int q = 0; q < c; q++) {
                      float v = xd[xo + q];
                      for (int t = 0; t < m; t++) {
                        acc[q * m + t] += v * fd[fo + q * m + t];
                      }
                    }
                  }
                }
              }
              System.arraycopy(acc, 0, out, ((b * oh + y) * ow + xx) * co, co);
            }
          }
        });
    return new FloatTensor(Shape.of(n, oh, ow, co), out);
  }

  /**
   * Conv2DBackpropInput: cols^T (KH*KW*F x P) = filter (KH*KW*F x C) * x^T (C x P), then every
   * output pixel gathers the (kh,kw) taps that land on it. Gathering per output row instead of
   * scattering per input pixel keeps threads from writing the same pixels. Padding is what the
   * forward conv from the output size would have.
   */
  // x (N,H,W,C), filter (KH,KW,F,C), bias (F) -> (N,OH,OW,F)
  public static FloatTensor conv2dTranspose(
      Parallel par, FloatTensor x, Op.Conv2DTranspose op, Shape outShape) {
    Shape xs = x.shape();
    Shape fs = op.filter().shape();
    int n = xs.dim(0);
    int h = xs.dim(1);
    int wd = xs.dim(2);
    int c = xs.dim(3);
    int kh = fs.dim(0);
    int kw = fs.dim(1);
    int f = fs.dim(2);
    if (fs.dim(3) != c) {
      throw new ShapeException("transposed conv input " + xs + " vs filter " + fs);
    }
    int oh = outShape.dim(1);
    int ow = outShape.dim(2);
    int sh = op.strideH();
    int sw = op.strideW();
    int pt = op.padding().before(oh, kh, sh, 1);
    int pl = op.padding().before(ow, kw, sw, 1);
    int pin = n * h * wd;
    int r = kh * kw * f;
    if (kh <= sh && kw <= sw) {
      return conv2dTransposeDisjoint(par, x, op, oh, ow, pt, pl);
    }
    float[] cols = new float[r * pin];
    Gemm.sgemm(
        par,
        false,
        true,
        r,
        pin,
        c,
        1f,
        op.filter().data(),
        0,
        c,
        x.data(),
        0,
        c,
        0f,
        cols,
        0,
        pin);
    float[] out = new float[n * oh * ow * f];
    float[] bias = op.bias() == null ? null : op.bias().data();
    par.parallelFor(
        n * oh,
        1,
        (lo, hi) -> {
          for (int row = lo; row < hi; row++) {
            int b = row / oh;
            int y = row - b * oh;
            for (int xx = 0; xx < ow; xx++) {
              int o = ((b * oh + y) * ow + xx) * f;
              if (bias != null) {
                System.arraycopy(bias, 0, out, o, f);
              }
              for (int i = 0; i < kh; i++) {
                int ty = y + pt - i;
                if (ty < 0 || ty % sh != 0 || ty / sh >= h) {
                  continue;
                }
                int iy = ty / sh;
                for (int j = 0; j < kw; j++) {
                  int tx = xx + pl - j;
                  if (tx < 0 || tx % sw != 0 || tx / sw >= wd) {
                    continue;
                  }
                  int ix = tx / sw;
                  int src = ((i * kw + j) * f) * pin + (b * h + iy) * wd + ix;
                  for (int q = 0; q < f; q++) {
                    out[o + q] += cols[src + q * pin];
                  }
                }
              }
            }
          }
        });
    return new FloatTensor(Shape.of(n, oh, ow, f), out);
  }

  /**
   * Transposed conv whose taps never overlap (kernel no larger than the stride, as in U-Net's 2x2
   * stride-2 up-convolutions): every output pixel receives from at most one input pixel, so the
   * GEMM's finished blocks are scattered straight into the output with no race and no cols buffer.
   */
  // x (N,H,W,C), filter (KH,KW,F,C) -> (N,OH,OW,F)
  private static FloatTensor conv2dTransposeDisjoint(
      Parallel par, FloatTensor x, Op.Conv2DTranspose op, int oh, int ow, int pt, int pl) {
    Shape xs = x.shape();
    Shape fs = op.filter().shape();
    int n = xs.dim(0);
    int h = xs.dim(1);
    int wd = xs.dim(2);
    int c = xs.dim(3);
    int kw = fs.dim(1);
    int f = fs.dim(2);
    int r = fs.dim(0) * kw * f;
    int sh = op.strideH();
    int sw = op.strideW();
    int kp = Gemm.padK(c);
    float[] fd = op.filter().data();
    float[] ap = new float[r * kp];
    for (int i = 0; i < r; i++) {
      System.arraycopy(fd, i * c, ap, i * kp, c);
    }
    float[] out = new float[n * oh * ow * f];
    fillBias(par, out, n * oh * ow, f, op.bias());
    float[] xd = x.data();
    int hw = h * wd;
    Gemm.PanelB panel =
        (pc, kc, jc, nc, bp) -> {
          for (int kk = 0; kk < kc; kk++) {
            float[] row = bp[kk];
            int src = jc * c + pc + kk;
            for (int j = 0; j < nc; j++) {
              row[j] = xd[src + j * c];
            }
          }
        };
    int taps = fs.dim(0) * kw;
    Gemm.Sink sink =
        (i0, i1, jc, nc, rows) -> {
          // dst[tap][j]: output offset of input pixel jc+j under that tap, or -1 if cropped
          int[][] dst = new int[taps][nc];
          for (int j = 0; j < nc; j++) {
            int p = jc + j;
            int b = p / hw;
            int iy = (p - b * hw) / wd;
            int ix = p - b * hw - iy * wd;
            for (int tap = 0; tap < taps; tap++) {
              int ty = iy * sh - pt + tap / kw;
              int tx = ix * sw - pl + tap % kw;
              dst[tap][j] =
                  ty >= 0 && ty < oh && tx >= 0 && tx < ow ? ((b * oh + ty) * ow + tx) * f : -1;
            }
          }
          for (int rr = i0; rr < i1; rr++) {
            int tap = rr / f;
            int fch = rr - tap * f;
            int[] d = dst[tap];
            float[] row = rows[rr - i0];
            for (int j = 0; j < nc; j++) {
              if (d[j] >= 0) {
                out[d[j] + fch] += row[j];
              }
            }
          }
        };
    Gemm.core(par, r, n * hw, 1, c, ap, kp, panel, sink);
    return new FloatTensor(Shape.of(n, oh, ow, f), out);
  }

  /** Output shape of a transposed conv for a concrete input (outH/outW of -1 derived). */
  public static Shape conv2dTransposeShape(Shape xs, Op.Conv2DTranspose op) {
    Shape fs = op.filter().shape();
    int oh =
        op.outH() >= 0
            ? op.outH()
            : transposedSize(op.padding(), xs.dim(1), fs.dim(0), op.strideH());
    int ow =
        op.outW() >= 0
            ? op.outW()
            : transposedSize(op.padding(), xs.dim(2), fs.dim(1), op.strideW());
    return Shape.of(xs.dim(0), oh, ow, fs.dim(2));
  }

  private static int transposedSize(Padding p, int in, int k, int s) {
    return p == Padding.SAME ? in * s : (in - 1) * s + k;
  }

  // ---------------------------------------------------------------- channel-wise

  /** y = x + bias along the last axis. */
  // x (..., C), bias (C) -> (..., C)
  public static FloatTensor biasAdd(Parallel par, FloatTensor x, float[] bias) {
    return channelAffine(par, x, null, bias);
  }

  /** y = x * scale + offset along the last axis. */
  // x (..., C), scale (C), offset (C) -> (..., C)
  public static FloatTensor batchNorm(Parallel par, FloatTensor x, float[] scale, float[] offset) {
    return channelAffine(par, x, scale, offset);
  }

  private static FloatTensor channelAffine(
      Parallel par, FloatTensor x, float[] scale, float[] offset) {
    int c = x.shape().dim(-1);
    if ((scale != null && scale.length != c) || offset.length != c) {
      throw new ShapeException(
          "per-channel vector of " + offset.length + " for input " + x.shape());
    }
    float[] xd = x.data();
    float[] out = new float[xd.length];
    int rows = c == 0 ? 0 : xd.length / c;
    par.parallelFor(
        rows,
        Math.max(1, GRAIN / Math.max(1, c)),
        (lo, hi) -> {
          for (int r = lo; r < hi; r++) {
            int o = r * c;
            if (scale == null) {
              for (int q = 0; q < c; q++) {
                out[o + q] = xd[o + q] + offset[q];
              }
            } else {
              for (int q = 0; q < c; q++) {
                out[o + q] = xd[o + q] * scale[q] + offset[q];
              }
            }
          }
        });
    return new FloatTensor(x.shape(), out);
  }

  // ---------------------------------------------------------------- element-wise

  // x (any) -> (same); the kernel twin over ranges of elements
  public static FloatTensor activation(
      Parallel par, FloatTensor x, Op.ActivationKind kind, float alpha) {
    float[] xd = x.data();
    float[] out = new float[xd.length];
    par.parallelFor(
        xd.length,
        GRAIN,
        (lo, hi) -> ActivationKernels.activationFwdRange(out, xd, lo, hi, kind.code, alpha));
    return new FloatTensor(x.shape(), out);
  }

  /** Softmax over the last axis, max-subtracted so large logits do not overflow. */
  // x (..., C) -> (..., C); the kernel twin over ranges of rows
  public static FloatTensor softmax(Parallel par, FloatTensor x) {
    int c = x.shape().dim(-1);
    float[] xd = x.data();
    float[] out = new float[xd.length];
    int rows = c == 0 ? 0 : xd.length / c;
    par.parallelFor(
        rows,
        Math.max(1, GRAIN / Math.max(1, c) / 8),
        (lo, hi) -> ActivationKernels.softmaxFwdRows(out, xd, lo, hi, c));
    return new FloatTensor(x.shape(), out);
  }

  // ---------------------------------------------------------------- pooling

  /** MAX ignores padded pixels; AVG divides by the in-bounds count (TF). */
  // x (N,H,W,C) -> (N,OH,OW,C)
  public static FloatTensor pool(Parallel par, FloatTensor x, Op.Pool op) {
    Shape xs = x.shape();
    int n = xs.dim(0);
    int h = xs.dim(1);
    int wd = xs.dim(2);
    int c = xs.dim(3);
    int kh = op.windowH();
    int kw = op.windowW();
    int sh = op.strideH();
    int sw = op.strideW();
    int oh = op.padding().outputSize(h, kh, sh, 1);
    int ow = op.padding().outputSize(wd, kw, sw, 1);
    int pt = op.padding().before(h, kh, sh, 1);
    int pl = op.padding().before(wd, kw, sw, 1);
    boolean max = op.kind() == Op.PoolKind.MAX;
    float[] xd = x.data();
    float[] out = new float[n * oh * ow * c];
    par.parallelFor(
        n * oh,
        1,
        (lo, hi) -> {
          for (int row = lo; row < hi; row++) {
            int b = row / oh;
            int y = row - b * oh;
            int y0 = Math.max(0, y * sh - pt);
            int y1 = Math.min(h, y * sh - pt + kh);
            for (int xx = 0; xx < ow; xx++) {
              int x0 = Math.max(0, xx * sw - pl);
              int x1 = Math.min(wd, xx * sw - pl + kw);
              int o = ((b * oh + y) * ow + xx) * c;
              java.util.Arrays.fill(out, o, o + c, max ? Float.NEGATIVE_INFINITY : 0f);
              for (int iy = y0; iy < y1; iy++) {
                for (int ix = x0; ix < x1; ix++) {
                  int src = ((b * h + iy) * wd + ix) * c;
                  if (max) {
                    for (int q = 0; q < c; q++) {
                      out[o + q] = Math.max(out[o + q], xd[src + q]);
                    }
                  } else {
                    for (int q = 0; q < c; q++) {
                      out[o + q] += xd[src + q];
                    }
                  }
                }
              }
              if (!max) {
                float inv = 1f / ((y1 - y0) * (x1 - x0));
                for (int q = 0; q < c; q++) {
                  out[o + q] *= inv;
                }
              }
            }
          }
        });
    return new FloatTensor(Shape.of(n, oh, ow, c), out);
  }

  /** Mean over H and W, accumulated in double. */
  // x (N,H,W,C) -> (N,1,1,C) or (N,C)
  public static FloatTensor spatialMean(Parallel par, FloatTensor x, boolean keepDims) {
    Shape xs = x.shape();
    int n = xs.dim(0);
    int hw = xs.dim(1) * xs.dim(2);
    int c = xs.dim(3);
    float[] xd = x.data();
    float[] out = new float[n * c];
    par.parallelFor(
        n,
        1,
        (lo, hi) -> {
          double[] acc = new double[c];
          for (int b = lo; b < hi; b++) {
            java.util.Arrays.fill(acc, 0);
            for (int p = 0; p < hw; p++) {
              int src = (b * hw + p) * c;
              for (int q = 0; q < c; q++) {
                acc[q] += xd[src + q];
              }
            }
            for (int q = 0; q < c; q++) {
              out[b * c + q] = (float) (acc[q] / hw);
            }
          }
        });
    return new FloatTensor(keepDims ? Shape.of(n, 1, 1, c) : Shape.of(n, c), out);
  }

  // ---------------------------------------------------------------- resize

  /** TF's CalculateResizeScale, in float as TF computes it. */
  public static float resizeScale(int in, int out, boolean alignCorners) {
    return alignCorners && out > 1 ? (in - 1) / (float) (out - 1) : in / (float) out;
  }

  /**
   * Source coordinates of a bilinear resize along one axis, TF's compute_interpolation_weights:
   * lower/upper neighbours (clamped) and the fraction toward upper.
   */
  public static void bilinearTaps(
      int in,
      int out,
      boolean alignCorners,
      boolean halfPixel,
      int[] lower,
      int[] upper,
      float[] lerp) {
    float scale = resizeScale(in, out, alignCorners);
    for (int i = 0; i < out; i++) {
      float src = halfPixel ? (i + 0.5f) * scale - 0.5f : i * scale;
      float fl = (float) Math.floor(src);
      lower[i] = Math.max((int) fl, 0);
      upper[i] = Math.min((int) Math.ceil(src), in - 1);
      lerp[i] = src - fl;
    }
  }

  /** Source index of a nearest-neighbour resize along one axis, TF's rule. */
  public static int nearestTap(
      int i, int in, float scale, boolean alignCorners, boolean halfPixel) {
    float src = halfPixel ? (i + 0.5f) * scale : i * scale;
    int s = alignCorners ? Math.round(src) : (int) Math.floor(src);
    s = Math.min(s, in - 1);
    return halfPixel ? Math.max(0, s) : s;
  }

  // x (N,H,W,C) -> (N,outH,outW,C)
  public static FloatTensor resize(Parallel par, FloatTensor x, Op.Resize op) {
    Shape xs = x.shape();
    int n = xs.dim(0);
    int h = xs.dim(1);
    int wd = xs.dim(2);
    int c = xs.dim(3);
    int oh = op.outH();
    int ow = op.outW();
    float[] xd = x.data();
    float[] out = new float[n * oh * ow * c];
    if (op.mode() == Op.ResizeMode.NEAREST) {
      float hs = resizeScale(h, oh, op.alignCorners());
      float ws = resizeScale(wd, ow, op.alignCorners());
      int[] xi = new int[ow];
      for (int i = 0; i < ow; i++) {
        xi[i] = nearestTap(i, wd, ws, op.alignCorners(), op.halfPixelCenters());
      }
      par.parallelFor(
          n * oh,
          1,
          (lo, hi) -> {
            for (int row = lo; row < hi; row++) {
              int b = row / oh;
              int y = row - b * oh;
              int iy = nearestTap(y, h, hs, op.alignCorners(), op.halfPixelCenters());
              for (int xx = 0; xx < ow; xx++) {
                System.arraycopy(
                    xd, ((b * h + iy) * wd + xi[xx]) * c, out, ((b * oh + y) * ow + xx) * c, c);
              }
            }
          });
    } else {
      int[] yl = new int[oh];
      int[] yu = new int[oh];
      float[] yf = new float[oh];
      int[] xl = new int[ow];
      int[] xu = new int[ow];
      float[] xf = new float[ow];
      bilinearTaps(h, oh, op.alignCorners(), op.halfPixelCenters(), yl, yu, yf);
      bilinearTaps(wd, ow, op.alignCorners(), op.halfPixelCenters(), xl, xu, xf);
      par.parallelFor(
          n * oh,
          1,
          (lo, hi) -> {
            for (int row = lo; row < hi; row++) {
              int b = row / oh;
              int y = row - b * oh;
              int top = (b * h + yl[y]) * wd;
              int bot = (b * h + yu[y]) * wd;
              float dy = yf[y];
              for (int xx = 0; xx < ow; xx++) {
                int tl = (top + xl[xx]) * c;
                int tr = (top + xu[xx]) * c;
                int bl = (bot + xl[xx]) * c;
                int br = (bot + xu[xx]) * c;
                float dx = xf[xx];
                int o = ((b * oh + y) * ow + xx) * c;
                for (int q = 0; q < c; q++) {
                  float t = xd[tl + q] + (xd[tr + q] - xd[tl + q]) * dx;
                  float bo = xd[bl + q] + (xd[br + q] - xd[bl + q]) * dx;
                  out[o + q] = t + (bo - t) * dy;
                }
              }
            }
          });
    }
    return new FloatTensor(Shape.of(n, oh, ow, c), out);
  }

  // ---------------------------------------------------------------- structure

  // inputs (d0..axis_i..dr) -> (d0..sum axis_i..dr)
  public static FloatTensor concat(Parallel par, List<FloatTensor> xs, int axis, Shape outShape) {
    int rank = outShape.rank();
    int outer = 1;
    for (int d = 0; d < axis; d++) {
      outer *= outShape.dim(d);
    }
    int inner = 1;
    for (int d = axis + 1; d < rank; d++) {
      inner *= outShape.dim(d);
    }
    int outRow = outShape.dim(axis) * inner;
    float[] out = new float[outShape.size()];
    int at = 0;
    for (FloatTensor t : xs) {
      if (t.shape().rank() != rank) {
        throw new ShapeException("concat of " + t.shape() + " into " + outShape);
      }
      int chunk = t.shape().dim(axis) * inner;
      float[] src = t.data();
      int dst0 = at;
      par.parallelFor(
          outer,
          Math.max(1, GRAIN / Math.max(1, chunk)),
          (lo, hi) -> {
            for (int o = lo; o < hi; o++) {
              System.arraycopy(src, o * chunk, out, o * outRow + dst0, chunk);
            }
          });
      at += chunk;
    }
    return new FloatTensor(outShape, out);
  }

  /** Element-wise a (op) b with NumPy broadcasting. */
  // a (...), b (...) -> broadcast shape
  public static FloatTensor binary(
      Parallel par, FloatTensor a, FloatTensor b, Op.BinaryKind kind, Shape outShape) {
    float[] ad = a.data();
    float[] bd = b.data();
    int size = outShape.size();
    float[] out = new float[size];
    int rank = outShape.rank();
    int[] od = outShape.dims();
    int[] sa = broadcastStrides(a.shape(), outShape);
    int[] sb = broadcastStrides(b.shape(), outShape);
    // Rows along the last axis share one stride pattern; the inner loop handles a row.
    int last = rank == 0 ? 1 : od[rank - 1];
    int rows = last == 0 ? 0 : size / last;
    int la = rank == 0 ? 0 : sa[rank - 1];
    int lb = rank == 0 ? 0 : sb[rank - 1];
    par.parallelFor(
        rows,
        Math.max(1, GRAIN / Math.max(1, last)),
        (lo, hi) -> {
          for (int r = lo; r < hi; r++) {
            int ia = 0;
            int ib = 0;
            int rem = r;
            for (int d = rank - 2; d >= 0; d--) {
              int idx = rem % od[d];
              rem /= od[d];
              ia += idx * sa[d];
              ib += idx * sb[d];
            }
            int o = r * last;
            for (int j = 0; j < last; j++) {
              float u = ad[ia + j * la];
              float v = bd[ib + j * lb];
              out[o + j] =
                  switch (kind) {
                    case ADD -> u + v;
                    case SUB -> u - v;
                    case MUL -> u * v;
                    case DIV -> u / v;
                  };
            }
          }
        });
    return new FloatTensor(outShape, out);
  }

  /** Strides of s read as the (right-aligned) broadcast shape out: 0 along broadcast axes. */
  private static int[] broadcastStrides(Shape s, Shape out) {
    int r = out.rank();
    int[] st = new int[r];
    int stride = 1;
    for (int d = r - 1; d >= 0; d--) {
      int sd = d - (r - s.rank());
      int dim = sd >= 0 ? s.dim(sd) : 1;
      if (dim != 1 && dim != out.dim(d)) {
        throw new ShapeException("cannot broadcast " + s + " to " + out);
      }
      st[d] = dim == 1 ? 0 : stride;
      stride *= dim;
    }
    return st;
  }

  /** Constant padding of every axis. */
  // x (d0..dr) -> (d0+b0+a0 .. dr+br+ar)
  public static FloatTensor pad(Parallel par, FloatTensor x, List<int[]> paddings, float value) {
    Shape xs = x.shape();
    int rank = xs.rank();
    if (paddings.size() != rank) {
      throw new ShapeException("paddings for rank " + paddings.size() + " on input " + xs);
    }
    int[] od = new int[rank];
    for (int d = 0; d < rank; d++) {
      int[] pp = paddings.get(d);
      if (pp[0] < 0 || pp[1] < 0) {
        throw new ShapeException(
            "negative padding " + java.util.Arrays.toString(pp) + " on axis " + d);
      }
      od[d] = xs.dim(d) + pp[0] + pp[1];
    }
    Shape os = Shape.of(od);
    float[] out = new float[os.size()];
    if (value != 0f) {
      java.util.Arrays.fill(out, value);
    }
    float[] xd = x.data();
    if (xd.length == 0) {
      return new FloatTensor(os, out);
    }
    if (rank == 0) {
      out[0] = xd[0];
      return new FloatTensor(os, out);
    }
    int last = xs.dim(rank - 1);
    int rows = xd.length / last;
    int[] ostride = new int[rank];
    int s = 1;
    for (int d = rank - 1; d >= 0; d--) {
      ostride[d] = s;
      s *= od[d];
    }
    int lastBefore = paddings.get(rank - 1)[0];
    par.parallelFor(
        rows,
        Math.max(1, GRAIN / Math.max(1, last)),
        (lo, hi) -> {
          for (int r = lo; r < hi; r++) {
            int rem = r;
            int o = lastBefore;
            for (int d = rank - 2; d >= 0; d--) {
              int idx = rem % xs.dim(d);
              rem /= xs.dim(d);
              o += (idx + paddings.get(d)[0]) * ostride[d];
            }
            System.arraycopy(xd, r * last, out, o, last);
          }
        });
    return new FloatTensor(os, out);
  }

  /** Dense layer. */
  // x (N,I), weights (I,O), bias (O) -> (N,O)
  public static FloatTensor matMul(Parallel par, FloatTensor x, Op.MatMul op) {
    int n = x.shape().dim(0);
    int in = x.shape().dim(1);
    Shape ws = op.weights().shape();
    if (ws.dim(0) != in) {
      throw new ShapeException("matmul input " + x.shape() + " vs weights " + ws);
    }
    int o = ws.dim(1);
    float[] out = new float[n * o];
    Gemm.sgemm(
        par, false, false, n, o, in, 1f, x.data(), 0, in, op.weights().data(), 0, o, 0f, out, 0, o);
    if (op.bias() != null) {
      float[] b = op.bias().data();
      for (int r = 0; r < n; r++) {
        for (int j = 0; j < o; j++) {
          out[r * o + j] += b[j];
        }
      }
    }
    return new FloatTensor(Shape.of(n, o), out);
  }
}
