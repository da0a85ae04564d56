package dev.segcam.kernels;

import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;

/**
 * The geometry of a 2-D window op (convolution, pooling) that every backend shares: input
 * (N,H,W,C), output (N,OH,OW,F), kernel KHxKW, groups, strides, dilations (1 = none) and explicit
 * padding on all four sides. TensorFlow's SAME puts the odd pad after (bottom/right); VALID pads
 * nothing and drops input rows a stride skips (the floor in the output rule), so the after-pads are
 * what makes the sizes agree, clamped at 0, and {@link #unsupportedReason} checks the rule.
 *
 * <p>Users: cuDNN (symmetric padding only: {@link #padded} pads the input grid explicitly), the
 * direct-convolution and pooling kernels (top/left pads), oneDNN (all four pads).
 */
public record ConvGeometry(
    int n,
    int h,
    int w,
    int c,
    int kh,
    int kw,
    int f,
    int groups,
    int sh,
    int sw,
    int dh,
    int dw,
    int padT,
    int padL,
    int padB,
    int padR,
    int oh,
    int ow) {

  /** A window: kernel size, strides and dilations (1 = none). */
  public record Window(int kh, int kw, int sh, int sw, int dh, int dw) {}

  /** A forward convolution of an (N,H,W,C) input with TensorFlow padding. */
  public static ConvGeometry forward(
      int n, int h, int w, int c, int f, int groups, Window k, Padding padding) {
    int oh = padding.outputSize(h, k.kh(), k.sh(), k.dh());
    int ow = padding.outputSize(w, k.kw(), k.sw(), k.dw());
    return withOutput(n, h, w, c, f, groups, k, padding, oh, ow);
  }

  /**
   * A convolution whose output size is given (the forward conv behind a transposed convolution: its
   * input is the transposed op's output). Pads before follow TensorFlow; pads after are what makes
   * the sizes agree, and may come out negative (see {@link #unsupportedReason}).
   */
  public static ConvGeometry withOutput(
      int n, int h, int w, int c, int f, int groups, Window k, Padding padding, int oh, int ow) {
    int padT = padding.before(h, k.kh(), k.sh(), k.dh());
    int padL = padding.before(w, k.kw(), k.sw(), k.dw());
    int padB = afterPad(h, k.kh(), k.sh(), k.dh(), padT, oh);
    int padR = afterPad(w, k.kw(), k.sw(), k.dw(), padL, ow);
    return new ConvGeometry(
        n, h, w, c, k.kh(), k.kw(), f, groups, k.sh(), k.sw(), k.dh(), k.dw(), padT, padL, padB,
        padR, oh, ow);
  }

  /**
   * Conv2D (filter KH,KW,C,F: F outputs, one group) or DepthwiseConv2D (filter KH,KW,C,M: C·M
   * outputs, C groups) over the input x (N,H,W,C).
   */
  public static ConvGeometry ofConv(Op.Windowed op, Shape x) {
    Shape fs = op.filter().shape();
    boolean depthwise = op instanceof Op.DepthwiseConv2D;
    int c = x.dim(3);
    Window k =
        new Window(
            fs.dim(0), fs.dim(1), op.strideH(), op.strideW(), op.dilationH(), op.dilationW());
    return forward(
        x.dim(0),
        x.dim(1),
        x.dim(2),
        c,
        depthwise ? c * fs.dim(3) : fs.dim(3),
        depthwise ? c : 1,
        k,
        op.padding());
  }

  /** Max or average pooling over the input x (N,H,W,C): F = C, one group. */
  public static ConvGeometry ofPool(Op.Pool op, Shape x) {
    Window k = new Window(op.windowH(), op.windowW(), op.strideH(), op.strideW(), 1, 1);
    return forward(x.dim(0), x.dim(1), x.dim(2), x.dim(3), x.dim(3), 1, k, op.padding());
  }

  /**
   * The forward convolution behind a Conv2DTranspose with input x (N,H,W,F) and output out
   * (N,OH,OW,C): its input grid is out's, its output grid x's; TensorFlow pads as that forward conv
   * would.
   */
  public static ConvGeometry ofTransposed(Op.Conv2DTranspose op, Shape x, Shape out) {
    Shape fs = op.filter().shape();
    Window k = new Window(fs.dim(0), fs.dim(1), op.strideH(), op.strideW(), 1, 1);
    return withOutput(
        x.dim(0),
        out.dim(1),
        out.dim(2),
        fs.dim(2),
        fs.dim(3),
        1,
        k,
        op.padding(),
        x.dim(1),
        x.dim(2));
  }

  // The after-pad that makes (in + before + after - effK) / stride + 1 == out, clamped at 0 when
  // the floor already drops the extra input (TensorFlow's VALID with a stride).
  private static int afterPad(int in, int k, int s, int d, int before, int out) {
    int effK = (k - 1) * d + 1;
    int need = (out - 1) * s + effK - in - before;
    if (need >= 0) {
      return need;
    }
    return (in + before - effK) / s + 1 == out ? 0 : need;
  }

  /** Null when the geometry is consistent (what every backend can run), else why not. */
  public String unsupportedReason() {
    if (n <= 0 || h <= 0 || w <= 0 || c <= 0 || kh <= 0 || kw <= 0 || f <= 0) {
      return "dims must be > 0";
    }
    if (sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || padT < 0 || padL < 0) {
      return "strides and dilations must be > 0, pads before >= 0";
    }
    if (padB < 0 || padR < 0) {
      return "negative padding after (" + padB + "," + padR + ")";
    }
    int effH = (kh - 1) * dh + 1;
    int effW = (kw - 1) * dw + 1;
    if ((h + padT + padB - effH) / sh + 1 != oh || (w + padL + padR - effW) / sw + 1 != ow) {
      return "output size " + oh + "x" + ow + " does not follow from the padding";
    }
    if (groups <= 0 || c % groups != 0 || f % groups != 0) {
      return groups + " groups do not divide " + c + " input / " + f + " output channels";
    }
    return null;
  }

  public boolean supported() {
    return unsupportedReason() == null;
  }

  /** Whether the padding is the same before and after on both axes (what cuDNN takes). */
  public boolean symmetric() {
    return padT == padB && padL == padR;
  }

  /** Height of the input grid with its padding. */
  public int hp() {
    return h + padT + padB;
  }

  /** Width of the input grid with its padding. */
  public int wp() {
    return w + padL + padR;
  }

  /**
   * This geometry when its padding is symmetric; else the unpadded convolution over the explicitly
   * padded input grid (HP,WP), the same output.
   */
  public ConvGeometry padded() {
    return symmetric()
        ? this
        : new ConvGeometry(n, hp(), wp(), c, kh, kw, f, groups, sh, sw, dh, dw, 0, 0, 0, 0, oh, ow);
  }

  /** The same geometry over a batch of b. */
  public ConvGeometry withBatch(int b) {
    return new ConvGeometry(
        b, h, w, c, kh, kw, f, groups, sh, sw, dh, dw, padT, padL, padB, padR, oh, ow);
  }

  /**
   * The output row whose window puts kernel row ky on input row iy, or -1 where none does (iy falls
   * between strides or off the output grid): the gather of the data gradients.
   */
  public int outRow(int iy, int ky) {
    return outIndex(iy + padT - ky * dh, sh, oh);
  }

  /** {@link #outRow} along the width: the output column that puts kernel column kx on ix, or -1. */
  public int outCol(int ix, int kx) {
    return outIndex(ix + padL - kx * dw, sw, ow);
  }

  private static int outIndex(int t, int s, int out) {
    return t < 0 || t % s != 0 || t / s >= out ? -1 : t / s;
  }

  /** Values of the input (N,H,W,C). */
  public long inputSize() {
    return (long) n * h * w * c;
  }

  /** Values of the output (N,OH,OW,F). */
  public long outputSize() {
    return (long) n * oh * ow * f;
  }

  /** Values of the filter (F,KH,KW,C/G) in any order. */
  public long filterSize() {
    return (long) f * kh * kw * (c / groups);
  }

  /** Multiply-adds of one forward pass (for GFLOP/s in benchmarks). */
  public long macs() {
    return (long) n * oh * ow * f * kh * kw * (c / groups);
  }

  @Override
  public String toString() {
    return String.format(
        "x(%d,%d,%d,%d) k%dx%d f%d g%d s%d,%d d%d,%d pad t%d l%d b%d r%d -> (%d,%d)",
        n, h, w, c, kh, kw, f, groups, sh, sw, dh, dw, padT, padL, padB, padR, oh, ow);
  }
}
