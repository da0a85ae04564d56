package dev.segcam.backend.cpu;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import dev.segcam.kernels.ActivationKernels;
import dev.segcam.kernels.ConvGeometry;
import dev.segcam.kernels.CpuKernels;
import dev.segcam.kernels.Dims4;
import dev.segcam.kernels.LayoutKernels;
import dev.segcam.kernels.PoolKernels;
import dev.segcam.kernels.ResizeDims;
import dev.segcam.kernels.ResizeKernels;
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
    float[] out = Arena.zeros(xd.length);
    int rows = c == 0 ? 0 : xd.length / c;
    par.parallelFor(
        rows,
        Math.max(1, GRAIN / Math.max(1, c)),
        (lo, hi) -> ActivationKernels.channelAffineRows(out, xd, scale, offset, lo, hi, c));
    return new FloatTensor(x.shape(), out);
  }

  // ---------------------------------------------------------------- element-wise

  // x (any) -> (same); the kernel twin over ranges of elements
  public static FloatTensor activation(
      Parallel par, FloatTensor x, Op.ActivationKind kind, float alpha) {
    float[] xd = x.data();
    float[] out = Arena.zeros(xd.length);
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
    float[] out = Arena.zeros(xd.length);
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
    ConvGeometry g = ConvGeometry.ofPool(op, x.shape());
    boolean max = op.kind() == Op.PoolKind.MAX;
    return outputRows(
        par,
        x,
        g.oh(),
        g.ow(),
        (out, xd, n, hh, ww, c, lo, hi) -> PoolKernels.pool_fwd_rows(out, xd, g, max, lo, hi));
  }

  /** A twin's range variant over rows [lo, hi) of the N·OH output rows. */
  @FunctionalInterface
  private interface OutputRows {
    void run(float[] out, float[] x, int n, int h, int w, int c, int lo, int hi);
  }

  /** Runs rows over the N·OH rows of the (N,OH,OW,C) output of x (N,H,W,C), in parallel. */
  private static FloatTensor outputRows(
      Parallel par, FloatTensor x, int oh, int ow, OutputRows rows) {
    Nhwc d = Nhwc.of(x.shape());
    int n = d.n();
    int c = d.c();
    float[] out = Arena.zeros(n * oh * ow * c);
    par.parallelFor(n * oh, 1, (lo, hi) -> rows.run(out, x.data(), n, d.h(), d.w(), c, lo, hi));
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
    float[] out = Arena.zeros(n * c);
    par.parallelFor(n, 1, (lo, hi) -> CpuKernels.channelMeanRows(out, xd, lo, hi, hw, c));
    return new FloatTensor(keepDims ? Shape.of(n, 1, 1, c) : Shape.of(n, c), out);
  }

  // ---------------------------------------------------------------- resize

  // x (N,H,W,C) -> (N,outH,outW,C)
  public static FloatTensor resize(Parallel par, FloatTensor x, Op.Resize op) {
    int oh = op.outH();
    int ow = op.outW();
    boolean ac = op.alignCorners();
    boolean hp = op.halfPixelCenters();
    boolean nearest = op.mode() == Op.ResizeMode.NEAREST;
    return outputRows(
        par,
        x,
        oh,
        ow,
        (out, xd, n, h, wd, c, lo, hi) -> {
          if (nearest) {
            ResizeKernels.resize_nearest_fwd_rows(
                out, xd, new ResizeDims(n, h, wd, c, oh, ow, ac, hp), lo, hi);
          } else {
            ResizeKernels.resize_bilinear_fwd_rows(
                out, xd, new ResizeDims(n, h, wd, c, oh, ow, ac, hp), lo, hi);
          }
        });
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
    int outAxis = outShape.dim(axis);
    int innerSize = inner;
    float[] out = Arena.zeros(outShape.size());
    int at = 0;
    for (FloatTensor t : xs) {
      if (t.shape().rank() != rank) {
        throw new ShapeException("concat of " + t.shape() + " into " + outShape);
      }
      int len = t.shape().dim(axis);
      float[] src = t.data();
      int offset = at;
      par.parallelFor(
          outer,
          Math.max(1, GRAIN / Math.max(1, len * inner)),
          (lo, hi) ->
              LayoutKernels.concatCopyRows(
                  out, src, lo, hi, len, innerSize, outAxis, offset, false));
      at += len;
    }
    return new FloatTensor(outShape, out);
  }

  /** Element-wise a (op) b with NumPy broadcasting: the binary_fwd twin over rows of its view. */
  // a (...), b (...) -> broadcast shape
  public static FloatTensor binary(
      Parallel par, FloatTensor a, FloatTensor b, Op.BinaryKind kind, Shape outShape) {
    checkBroadcast(a.shape(), outShape);
    checkBroadcast(b.shape(), outShape);
    int[][] v =
        Dims4.broadcast(
            outShape.dims(),
            new int[][] {a.shape().dims(), b.shape().dims()},
            new boolean[] {false, false});
    float[] out = Arena.zeros(outShape.size());
    int[] o = v[0];
    par.parallelFor(
        o[0] * o[1] * o[2],
        Math.max(1, GRAIN / Math.max(1, o[3])),
        (lo, hi) -> LayoutKernels.binary_fwd_rows(out, a.data(), b.data(), kind, v, lo, hi));
    return new FloatTensor(outShape, out);
  }

  /** Each axis of s (right-aligned) is 1 or the output's: NumPy broadcasting, no tiling. */
  private static void checkBroadcast(Shape s, Shape out) {
    int r = out.rank();
    for (int d = 0; d < s.rank(); d++) {
      int od = d + r - s.rank();
      if (od < 0 || (s.dim(d) != 1 && s.dim(d) != out.dim(od))) {
        throw new ShapeException("cannot broadcast " + s + " to " + out);
      }
    }
  }

  /** Constant padding of every axis: the pad_fwd twin over rows of its view. */
  // x (d0..dr) -> (d0+b0+a0 .. dr+br+ar)
  public static FloatTensor pad(Parallel par, FloatTensor x, List<int[]> paddings, float value) {
    Shape xs = x.shape();
    int rank = xs.rank();
    if (paddings.size() != rank) {
      throw new ShapeException("paddings for rank " + paddings.size() + " on input " + xs);
    }
    int[] before = new int[rank];
    int[] after = new int[rank];
    int[] od = new int[rank];
    for (int d = 0; d < rank; d++) {
      int[] pp = paddings.get(d);
      if (pp[0] < 0 || pp[1] < 0) {
        throw new ShapeException(
            "negative padding " + java.util.Arrays.toString(pp) + " on axis " + d);
      }
      before[d] = pp[0];
      after[d] = pp[1];
      od[d] = xs.dim(d) + pp[0] + pp[1];
    }
    Shape os = Shape.of(od);
    float[] out = Arena.zeros(os.size());
    int[][] v = Dims4.pad(xs.dims(), before, after);
    int[] o = v[1];
    par.parallelFor(
        o[0] * o[1] * o[2],
        Math.max(1, GRAIN / Math.max(1, o[3])),
        (lo, hi) -> LayoutKernels.pad_fwd_rows(out, x.data(), value, v, lo, hi));
    return new FloatTensor(os, out);
  }

  /** Dense layer on the last axis. */
  // x (N,...,I), weights (I,O), bias (O) -> (N,...,O)
  public static FloatTensor matMul(Parallel par, FloatTensor x, Op.MatMul op) {
    int in = x.shape().dim(-1);
    int n = x.size() / in;
    Shape ws = op.weights().shape();
    if (ws.dim(0) != in) {
      throw new ShapeException("matmul input " + x.shape() + " vs weights " + ws);
    }
    int o = ws.dim(1);
    float[] out = Arena.zeros(n * o);
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
    return new FloatTensor(x.shape().withDim(-1, o), out);
  }
}
