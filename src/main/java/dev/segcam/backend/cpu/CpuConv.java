package dev.segcam.backend.cpu;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import dev.segcam.kernels.ConvGeometry;

/**
 * The CPU engine's convolutions on NHWC float arrays: Conv2D (GEMM over packed filters, Winograd
 * for 3x3 stride 1), depthwise and transposed convolutions, with TensorFlow's SAME/VALID padding.
 */
public final class CpuConv {
  private static final int GRAIN = 1 << 14;

  private CpuConv() {}

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
    int c = xs.dim(3);
    if (c != w.c()) {
      throw new ShapeException("conv2d input " + xs + " has " + c + " channels, filter " + w.c());
    }
    ConvGeometry g = ConvGeometry.ofConv(op, xs);
    int oh = g.oh();
    int ow = g.ow();
    int f = w.f();
    int p = g.n() * oh * ow;
    float[] out = Arena.zeros(p * f);
    fillBias(par, out, p, f, op.bias());
    Shape ys = Shape.of(g.n(), oh, ow, f);
    if (g.sh() == 1 && g.sw() == 1 && g.dh() == 1 && g.dw() == 1 && w.winograd() != null) {
      CpuWinograd.conv3x3(par, x, w.winograd(), g.padT(), g.padL(), oh, ow, out);
      return new FloatTensor(ys, out);
    }
    if (g.sh() == 1 && g.sw() == 1) {
      conv2dStride1(par, x, w, g, out);
      return new FloatTensor(ys, out);
    }
    // strided: im2col panels gathered through per-k tables, k -> (kh*dh, kw*dw, c)
    int k = w.kh() * w.kw() * c;
    int[] kOffH = new int[k];
    int[] kOffW = new int[k];
    int[] kC = new int[k];
    for (int i = 0; i < w.kh(); i++) {
      for (int j = 0; j < w.kw(); j++) {
        for (int q = 0; q < c; q++) {
          int idx = (i * w.kw() + j) * c + q;
          kOffH[idx] = i * g.dh();
          kOffW[idx] = j * g.dw();
          kC[idx] = q;
        }
      }
    }
    float[] xd = x.data();
    int h = g.h();
    int wd = g.w();
    int hw = oh * ow;
    Gemm.PanelB panel =
        (pc, kc, jc, nc, bp) -> {
          Gemm.PixelTables t = Gemm.PixelTables.get();
          for (int j = 0; j < nc; j++) {
            int pix = jc + j;
            int b = pix / hw;
            int r = pix - b * hw;
            int y = r / ow;
            t.base[j] = b * h * wd * c;
            t.ih[j] = y * g.sh() - g.padT();
            t.iw[j] = (r - y * ow) * g.sw() - g.padL();
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
    return new FloatTensor(ys, out);
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
      Parallel par, FloatTensor x, PackedConv w, ConvGeometry g, float[] out) {
    int h = g.h();
    int wd = g.w();
    int c = g.c();
    int f = w.f();
    // the padded plane: every tap's run of pixels stays inside it
    int wp = g.ow() + (w.kw() - 1) * g.dw();
    int plane = (g.oh() + (w.kh() - 1) * g.dh()) * wp + (w.kw() - 1) * g.dw();
    float[] xp = Arena.zeros(g.n() * c * plane);
    float[] xd = x.data();
    par.parallelFor(
        g.n() * h,
        Math.max(1, GRAIN / Math.max(1, wd * c)),
        (lo, hi) -> {
          for (int row = lo; row < hi; row++) {
            int b = row / h;
            int y = row - b * h;
            for (int q = 0; q < c; q++) {
              int dst = (b * c + q) * plane + (y + g.padT()) * wp + g.padL();
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
          kSrc[(i * w.kw() + j) * c + q] = q * plane + i * g.dh() * wp + j * g.dw();
        }
      }
    }
    int oh = g.oh();
    int ow = g.ow();
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
    Gemm.core(par, f, pimg, g.n(), k, w.wt(), w.kp(), panel, sink);
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
    if (fs.dim(2) != xs.dim(3)) {
      throw new ShapeException("depthwise input " + xs + " vs filter " + fs);
    }
    ConvGeometry g = ConvGeometry.ofConv(op, xs);
    int h = g.h();
    int wd = g.w();
    int c = g.c();
    int kw = g.kw();
    int m = fs.dim(3);
    int oh = g.oh();
    int ow = g.ow();
    int co = g.f();
    float[] out = Arena.zeros(g.n() * oh * ow * co);
    float[] xd = x.data();
    float[] fd = op.filter().data();
    float[] bias = op.bias() == null ? null : op.bias().data();
    par.parallelFor(
        g.n() * oh,
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
              for (int i = 0; i < g.kh(); i++) {
                int iy = y * g.sh() - g.padT() + i * g.dh();
                if (iy < 0 || iy >= h) {
                  continue;
                }
                for (int j = 0; j < kw; j++) {
                  int ix = xx * g.sw() - g.padL() + j * g.dw();
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
    return new FloatTensor(Shape.of(g.n(), oh, ow, co), out);
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
    if (fs.dim(3) != xs.dim(3)) {
      throw new ShapeException("transposed conv input " + xs + " vs filter " + fs);
    }
    // the forward conv behind it: its input grid is the output (OH,OW), its output grid x's (H,W)
    ConvGeometry g = ConvGeometry.ofTransposed(op, xs, outShape);
    if (g.kh() <= g.sh() && g.kw() <= g.sw()) {
      return conv2dTransposeDisjoint(par, x, op, g);
    }
    int h = g.oh();
    int wd = g.ow();
    int c = g.f();
    int f = g.c();
    int pin = g.n() * h * wd;
    int r = g.kh() * g.kw() * f;
    float[] cols = Arena.zeros(r * pin);
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
    int oh = g.h();
    int ow = g.w();
    float[] out = Arena.zeros(g.n() * oh * ow * f);
    float[] bias = op.bias() == null ? null : op.bias().data();
    par.parallelFor(
        g.n() * oh,
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
              for (int i = 0; i < g.kh(); i++) {
                int iy = g.outRow(y, i);
                if (iy < 0) {
                  continue;
                }
                for (int j = 0; j < g.kw(); j++) {
                  int ix = g.outCol(xx, j);
                  if (ix < 0) {
                    continue;
                  }
                  int src = ((i * g.kw() + j) * f) * pin + (b * h + iy) * wd + ix;
                  for (int q = 0; q < f; q++) {
                    out[o + q] += cols[src + q * pin];
                  }
                }
              }
            }
          }
        });
    return new FloatTensor(Shape.of(g.n(), oh, ow, f), out);
  }

  /**
   * Transposed conv whose taps never overlap (kernel no larger than the stride, as in U-Net's 2x2
   * stride-2 up-convolutions): every output pixel receives from at most one input pixel, so the
   * GEMM's finished blocks are scattered straight into the output with no race and no cols buffer.
   */
  // x (N,H,W,C), filter (KH,KW,F,C) -> (N,OH,OW,F)
  private static FloatTensor conv2dTransposeDisjoint(
      Parallel par, FloatTensor x, Op.Conv2DTranspose op, ConvGeometry g) {
    // g is the forward conv behind it: g's input grid (H,W) is the output, its output grid x's
    int c = g.f();
    int f = g.c();
    int oh = g.h();
    int ow = g.w();
    int kw = g.kw();
    int r = g.kh() * kw * f;
    int kp = Gemm.padK(c);
    float[] fd = op.filter().data();
    float[] ap = Arena.zeros(r * kp);
    for (int i = 0; i < r; i++) {
      System.arraycopy(fd, i * c, ap, i * kp, c);
    }
    float[] out = Arena.zeros(g.n() * oh * ow * f);
    fillBias(par, out, g.n() * oh * ow, f, op.bias());
    int wd = g.ow();
    int hw = g.oh() * wd;
    int taps = g.kh() * kw;
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
              int ty = iy * g.sh() - g.padT() + tap / kw;
              int tx = ix * g.sw() - g.padL() + tap % kw;
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
    // B = x as (N·H·W x C): its panels are x's pixels transposed
    Gemm.core(par, r, g.n() * hw, 1, c, ap, kp, Gemm.transposedB(x.data(), 0, c), sink);
    return new FloatTensor(Shape.of(g.n(), oh, ow, f), out);
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
}
