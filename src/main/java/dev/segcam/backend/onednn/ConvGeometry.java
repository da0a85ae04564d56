package dev.segcam.backend.onednn;

import dev.segcam.ir.Padding;

/**
 * A 2-D convolution's geometry in oneDNN's terms: input (N,H,W,C), output (N,OH,OW,F), kernel
 * KHxKW, groups, strides, dilations (segcam's: 1 = none; oneDNN counts the gap, so it gets d-1) and
 * explicit padding on all four sides. TensorFlow's SAME puts the odd pad after (bottom/right);
 * VALID pads nothing and drops input rows a stride skips, which the floor in oneDNN's output rule
 * also does, so the after-pads are clamped at 0 and the rule is checked.
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

  /** A forward convolution of an (N,H,W,C) input with TensorFlow padding. */
  public static ConvGeometry forward(
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
      Padding padding) {
    int oh = padding.outputSize(h, kh, sh, dh);
    int ow = padding.outputSize(w, kw, sw, dw);
    return withOutput(n, h, w, c, kh, kw, f, groups, sh, sw, dh, dw, padding, oh, ow);
  }

  /**
   * A convolution whose output size is given (the forward conv behind a transposed convolution: its
   * input is the transposed op's output). Pads before follow TensorFlow; pads after are what makes
   * the sizes agree, and may come out negative (see {@link #supported}).
   */
  public static ConvGeometry withOutput(
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
      Padding padding,
      int oh,
      int ow) {
    int padT = padding.before(h, kh, sh, dh);
    int padL = padding.before(w, kw, sw, dw);
    int padB = afterPad(h, kh, sh, dh, padT, oh);
    int padR = afterPad(w, kw, sw, dw, padL, ow);
    return new ConvGeometry(
        n, h, w, c, kh, kw, f, groups, sh, sw, dh, dw, padT, padL, padB, padR, oh, ow);
  }

  // The after-pad oneDNN needs so that (in + before + after - effK) / stride + 1 == out, clamped at
  // 0 when the floor already drops the extra input (TensorFlow's VALID with a stride).
  private static int afterPad(int in, int k, int s, int d, int before, int out) {
    int effK = (k - 1) * d + 1;
    int need = (out - 1) * s + effK - in - before;
    if (need >= 0) {
      return need;
    }
    return (in + before - effK) / s + 1 == out ? 0 : need;
  }

  /** Null when oneDNN can run this geometry, else why not. */
  public String unsupportedReason() {
    if (padB < 0 || padR < 0) {
      return "negative padding after (" + padB + "," + padR + ")";
    }
    int effH = (kh - 1) * dh + 1;
    int effW = (kw - 1) * dw + 1;
    if ((h + padT + padB - effH) / sh + 1 != oh || (w + padL + padR - effW) / sw + 1 != ow) {
      return "output size " + oh + "x" + ow + " does not follow from the padding";
    }
    if (c % groups != 0 || f % groups != 0) {
      return groups + " groups do not divide " + c + " input / " + f + " output channels";
    }
    return null;
  }

  public boolean supported() {
    return unsupportedReason() == null;
  }

  long[] strides() {
    return new long[] {sh, sw};
  }

  long[] dilations() {
    return new long[] {dh - 1, dw - 1};
  }

  long[] padBefore() {
    return new long[] {padT, padL};
  }

  long[] padAfter() {
    return new long[] {padB, padR};
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
