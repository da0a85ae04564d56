package dev.segcam.backend.cpu;

import dev.segcam.SegcamException;
import dev.segcam.backend.BroadcastGrad;
import dev.segcam.backend.NotDifferentiableException;
import dev.segcam.backend.OpTable;
import dev.segcam.backend.cpu.grad.ConvGrad;
import dev.segcam.backend.cpu.grad.ElementwiseGrad;
import dev.segcam.backend.cpu.grad.PoolGrad;
import dev.segcam.backend.cpu.grad.ShapeGrad;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import dev.segcam.kernels.ActivationKernels;
import dev.segcam.kernels.ConvGeometry;
import dev.segcam.kernels.ExpKernels;
import dev.segcam.kernels.LogSoftmaxKernels;
import dev.segcam.kernels.UnaryKernels;
import java.util.List;

/**
 * The CPU engine's op table: for every IR op, its forward (on {@link CpuOps} and the kernel twins)
 * and its data gradient (TensorFlow's C++ gradient registry semantics). The only place the CPU
 * engine dispatches on the op.
 */
public final class CpuOpTable {
  private CpuOpTable() {}

  /** Forward of one node: in are the input values (batch N), out the inferred output shape. */
  @FunctionalInterface
  public interface Forward<O extends Op> {
    FloatTensor run(CpuEngine engine, O op, List<FloatTensor> in, Shape out);
  }

  /** Data gradient of one node: reads dy and the values through the step, fills its dx. */
  @FunctionalInterface
  public interface Backward<O extends Op> {
    void run(CpuBackward.Step s, O op);
  }

  /**
   * Conv2D layers with fewer input channels than this take the channel-major GEMM kernel (long
   * vectors over pixels); wider ones the pixel-major kernel that skips zero gradients (measured
   * break-even on AVX2 at 128 channels with half the gradient zero).
   */
  static final int CHANNEL_MAJOR_BELOW = 128;

  /** Elements per parallel task of an element-wise kernel. */
  private static final int CHUNK = 1 << 14;

  public static final OpTable<Forward<Op>, Backward<Op>> TABLE = build();

  private static OpTable<Forward<Op>, Backward<Op>> build() {
    OpTable<Forward<Op>, Backward<Op>> t = new OpTable<>("cpu");
    put(
        t,
        Op.Input.class,
        (e, op, in, out) -> {
          throw new SegcamException("graph input was not fed");
        },
        (s, op) -> {});
    put(t, Op.Const.class, (e, op, in, out) -> op.value(), (s, op) -> {});
    put(
        t,
        Op.Conv2D.class,
        (e, op, in, out) -> CpuConv.conv2d(e.parallel(), in.get(0), op, e.packed(op)),
        CpuOpTable::conv2dGrad);
    put(
        t,
        Op.DepthwiseConv2D.class,
        (e, op, in, out) -> CpuConv.depthwiseConv2d(e.parallel(), in.get(0), op),
        CpuOpTable::depthwiseGrad);
    put(
        t,
        Op.Conv2DTranspose.class,
        (e, op, in, out) -> CpuConv.conv2dTranspose(e.parallel(), in.get(0), op, out),
        CpuOpTable::conv2dTransposeGrad);
    put(
        t,
        Op.BiasAdd.class,
        (e, op, in, out) -> CpuOps.biasAdd(e.parallel(), in.get(0), op.bias().data()),
        (s, op) -> s.dx[0] = s.dyT);
    put(
        t,
        Op.BatchNorm.class,
        (e, op, in, out) ->
            CpuOps.batchNorm(e.parallel(), in.get(0), op.scale().data(), op.offset().data()),
        (s, op) ->
            s.dx[0] =
                new FloatTensor(
                    s.ds,
                    ElementwiseGrad.scaleChannels(
                        s.dy, op.scale().data(), s.dyIfWritable(), s.pool())));
    put(
        t,
        Op.Activation.class,
        (e, op, in, out) -> CpuOps.activation(e.parallel(), in.get(0), op.kind(), op.alpha()),
        (s, op) -> {
          String read = op.gradReads() == Op.GradReads.INPUT ? s.in0 : s.node.name();
          float[] v = s.tiledValue(read).data();
          float[] dx =
              s.guided() && ActivationKernels.guides(op.kind())
                  ? ElementwiseGrad.guidedRelu(op.kind(), s.dy, v, s.dyIfWritable(), s.pool())
                  : ElementwiseGrad.activation(
                      op.kind(), op.alpha(), s.dy, v, s.dyIfWritable(), s.pool());
          s.dx[0] = new FloatTensor(s.ds, dx);
        });
    put(
        t,
        Op.Softmax.class,
        (e, op, in, out) -> CpuOps.softmax(e.parallel(), in.get(0)),
        (s, op) -> {
          FloatTensor y = s.tiledValue(s.node.name());
          s.dx[0] =
              new FloatTensor(
                  s.ds,
                  ElementwiseGrad.softmax(
                      s.dy, y.data(), s.ds.dim(-1), s.dyIfWritable(), s.pool()));
        });
    put(
        t,
        Op.Exp.class,
        (e, op, in, out) -> {
          float[] x = in.get(0).data();
          float[] y = Arena.zeros(x.length);
          e.parallel()
              .parallelFor(x.length, CHUNK, (lo, hi) -> ExpKernels.expFwdRange(y, x, lo, hi));
          return new FloatTensor(out, y);
        },
        (s, op) -> {
          float[] y = s.tiledValue(s.node.name()).data();
          float[] dx = Arena.zeros(s.dy.length);
          s.pool()
              .parallelFor(
                  dx.length,
                  CHUNK,
                  (lo, hi) -> ExpKernels.expBwdRange(dx, s.dy, y, lo, hi, y.length));
          s.dx[0] = new FloatTensor(s.ds, dx);
        });
    put(
        t,
        Op.Pool.class,
        (e, op, in, out) -> CpuOps.pool(e.parallel(), in.get(0), op),
        CpuOpTable::poolGrad);
    put(
        t,
        Op.SpatialMean.class,
        (e, op, in, out) -> CpuOps.spatialMean(e.parallel(), in.get(0), op.keepDims()),
        (s, op) -> {
          Shape xs = s.gradShape(s.in0);
          s.dx[0] =
              new FloatTensor(
                  xs,
                  PoolGrad.spatialMeanData(s.dy, s.b, xs.dim(1), xs.dim(2), xs.dim(3), s.pool()));
        });
    put(
        t,
        Op.Resize.class,
        (e, op, in, out) -> CpuOps.resize(e.parallel(), in.get(0), op),
        CpuOpTable::resizeGrad);
    put(
        t,
        Op.Concat.class,
        (e, op, in, out) -> CpuOps.concat(e.parallel(), in, op.axis(), out),
        CpuOpTable::concatGrad);
    put(
        t,
        Op.Binary.class,
        (e, op, in, out) -> CpuOps.binary(e.parallel(), in.get(0), in.get(1), op.kind(), out),
        CpuOpTable::binaryGrad);
    put(
        t,
        Op.Pad.class,
        (e, op, in, out) -> CpuOps.pad(e.parallel(), in.get(0), op.paddings(), op.value()),
        CpuOpTable::padGrad);
    put(
        t,
        Op.MatMul.class,
        (e, op, in, out) -> CpuOps.matMul(e.parallel(), in.get(0), op),
        (s, op) -> {
          Shape w = op.weights().shape();
          s.dx[0] =
              new FloatTensor(
                  s.ds.withDim(-1, w.dim(0)),
                  ElementwiseGrad.matMulData(
                      s.dy,
                      s.dy.length / w.dim(1),
                      op.weights().data(),
                      w.dim(0),
                      w.dim(1),
                      s.pool()));
        });
    put(t, Op.BatchMatMul.class, CpuMatMulOps::forward, CpuMatMulOps::backward);
    put(
        t,
        Op.Reshape.class,
        // values are never written after they are produced, so a view is safe
        (e, op, in, out) -> in.get(0).reshape(out),
        (s, op) -> s.dx[0] = s.dyT.reshape(s.gradShape(s.in0)));
    put(t, Op.Unary.class, CpuOpTable::unaryForward, CpuOpTable::unaryGrad);
    put(
        t,
        Op.StopGradient.class,
        (e, op, in, out) -> in.get(0),
        (s, op) -> {
          if (op.prevent()) {
            throw new NotDifferentiableException(
                "PreventGradient: TensorFlow forbids differentiating through this node");
          }
          // StopGradient: no gradient flows back (zero), as TensorFlow's
          s.dx[0] = new FloatTensor(s.ds, Arena.zeros(s.dy.length));
        });
    put(t, Op.StridedSlice.class, CpuShapeOps::stridedSlice, CpuShapeOps::stridedSliceGrad);
    put(t, Op.Reduce.class, CpuShapeOps::reduce, CpuShapeOps::reduceGrad);
    put(t, Op.Transpose.class, CpuShapeOps::transpose, CpuShapeOps::transposeGrad);
    put(t, Op.LogSoftmax.class, CpuOpTable::logSoftmax, CpuOpTable::logSoftmaxGrad);
    return t;
  }

  private static FloatTensor unaryForward(
      CpuEngine e, Op.Unary op, List<FloatTensor> in, Shape out) {
    float[] x = in.get(0).data();
    float[] y = Arena.zeros(x.length);
    int kind = op.kind().code;
    e.parallel()
        .parallelFor(
            x.length,
            CHUNK,
            (lo, hi) -> UnaryKernels.unaryFwdRange(y, x, lo, hi, kind, op.param()));
    return new FloatTensor(out, y);
  }

  private static void unaryGrad(CpuBackward.Step s, Op.Unary op) {
    float[] v =
        switch (op.gradReads()) {
          case INPUT -> s.tiledValue(s.in0).data();
          case OUTPUT -> s.tiledValue(s.node.name()).data();
          case NOTHING -> null;
        };
    int valueTotal = v == null ? 1 : v.length;
    float[] dx = Arena.zeros(s.dy.length);
    int kind = op.kind().code;
    s.pool()
        .parallelFor(
            dx.length,
            CHUNK,
            (lo, hi) ->
                UnaryKernels.unaryBwdRange(dx, s.dy, v, lo, hi, valueTotal, kind, op.param()));
    s.dx[0] = new FloatTensor(s.ds, dx);
  }

  private static FloatTensor logSoftmax(
      CpuEngine e, Op.LogSoftmax op, List<FloatTensor> in, Shape out) {
    float[] x = in.get(0).data();
    float[] y = Arena.zeros(x.length);
    int c = out.dim(-1);
    e.parallel()
        .parallelFor(
            c == 0 ? 0 : x.length / c,
            1,
            (lo, hi) -> LogSoftmaxKernels.logSoftmaxFwdRows(y, x, lo, hi, c));
    return new FloatTensor(out, y);
  }

  private static void logSoftmaxGrad(CpuBackward.Step s, Op.LogSoftmax op) {
    float[] y = s.tiledValue(s.node.name()).data();
    float[] dx = Arena.zeros(s.dy.length);
    int c = s.ds.dim(-1);
    s.pool()
        .parallelFor(
            c == 0 ? 0 : dx.length / c,
            1,
            (lo, hi) -> LogSoftmaxKernels.logSoftmaxBwdRows(dx, s.dy, y, lo, hi, y.length / c, c));
    s.dx[0] = new FloatTensor(s.ds, dx);
  }

  @SuppressWarnings("unchecked")
  private static <O extends Op> void put(
      OpTable<Forward<Op>, Backward<Op>> t, Class<O> op, Forward<O> f, Backward<O> b) {
    t.put(op, (Forward<Op>) f, (Backward<Op>) b);
  }

  // ------------------------------------------------------------------------------ gradients

  private static void conv2dGrad(CpuBackward.Step s, Op.Conv2D c) {
    Shape xs = s.gradShape(s.in0);
    Shape f = c.filter().shape();
    Shape ds = s.ds;
    int[] keep = s.neededChannels(s.in0, f.dim(2));
    float[] filter = keep == null ? c.filter().data() : ConvGrad.inputChannels(c.filter(), keep);
    int cin = keep == null ? f.dim(2) : keep.length;
    ConvGeometry geo = checked(ConvGeometry.ofConv(c, xs.withDim(3, cin)), c.padding(), xs, ds);
    boolean unitStride = c.strideH() == 1 && c.strideW() == 1;
    float[] d =
        unitStride && cin < CHANNEL_MAJOR_BELOW
            ? CpuBackwardConv.conv2dData(s.pool(), s.dy, filter, geo)
            : ConvGrad.conv2dDataPixelMajor(s.dy, filter, geo, s.pool());
    s.dx[0] =
        new FloatTensor(
            xs, keep == null ? d : ConvGrad.scatterChannels(d, keep, f.dim(2), s.pool()));
  }

  private static void depthwiseGrad(CpuBackward.Step s, Op.DepthwiseConv2D c) {
    Shape xs = s.gradShape(s.in0);
    ConvGeometry geo = geometry(c, xs, s.ds);
    s.dx[0] = new FloatTensor(xs, ConvGrad.depthwiseData(s.dy, c.filter().data(), geo, s.pool()));
  }

  private static void conv2dTransposeGrad(CpuBackward.Step s, Op.Conv2DTranspose c) {
    Shape xs = s.gradShape(s.in0);
    Shape f = c.filter().shape(); // (KH,KW,F,C): dy has F channels, x has C
    // x is the output of a Conv2D over dy's grid, so dx is exactly that Conv2D of dy
    Op.Conv2D forward =
        new Op.Conv2D(c.filter(), null, c.strideH(), c.strideW(), 1, 1, c.padding());
    geometry(forward, s.ds, xs);
    s.dx[0] = CpuConv.conv2d(s.pool(), s.dyT, forward);
  }

  private static void poolGrad(CpuBackward.Step s, Op.Pool p) {
    Shape xs = s.gradShape(s.in0);
    Shape ds = s.ds;
    int b = s.b;
    ConvGeometry geo = checked(ConvGeometry.ofPool(p, xs), p.padding(), xs, ds);
    FloatTensor x = p.kind() == Op.PoolKind.MAX ? s.value(s.in0) : null;
    int n = x == null ? 1 : x.shape().dim(0);
    if (n == 0 || b % n != 0) {
      throw new ShapeException(
          "value of '" + s.in0 + "' " + x.shape() + " does not tile gradient batch " + b);
    }
    float[] d = PoolGrad.poolData(x == null ? null : x.data(), n, s.dy, ds, xs, geo, s.pool());
    s.dx[0] = new FloatTensor(xs, d);
  }

  private static void resizeGrad(CpuBackward.Step s, Op.Resize r) {
    Shape xs = s.gradShape(s.in0);
    Shape ds = s.ds;
    float[] d =
        PoolGrad.resizeData(
            r.mode() == Op.ResizeMode.BILINEAR,
            s.dy,
            ds,
            xs,
            r.alignCorners(),
            r.halfPixelCenters(),
            s.pool());
    s.dx[0] = new FloatTensor(xs, d);
  }

  private static void concatGrad(CpuBackward.Step s, Op.Concat c) {
    if (c.axis() == 0) {
      throw new NotDifferentiableException(
          "Concat along the batch axis is not supported in backward");
    }
    List<String> ins = s.node.inputs();
    int[] sizes = new int[ins.size()];
    for (int k = 0; k < sizes.length; k++) {
      sizes[k] = s.shapeOf(ins.get(k)).dim(c.axis());
    }
    float[][] parts = ShapeGrad.concatData(s.dy, s.ds.dims(), c.axis(), sizes, s.want, s.pool());
    for (int k = 0; k < sizes.length; k++) {
      if (s.want[k]) {
        s.dx[k] = new FloatTensor(s.gradShape(ins.get(k)), parts[k]);
      }
    }
  }

  private static void padGrad(CpuBackward.Step s, Op.Pad p) {
    Shape xs = s.gradShape(s.in0);
    int[] before = new int[xs.rank()];
    for (int d = 0; d < before.length; d++) {
      before[d] = p.paddings().get(d)[0];
    }
    if (before[0] != 0 || p.paddings().get(0)[1] != 0) {
      throw new NotDifferentiableException("Pad along the batch axis is not supported in backward");
    }
    s.dx[0] =
        new FloatTensor(xs, ShapeGrad.padData(s.dy, s.ds.dims(), xs.dims(), before, s.pool()));
  }

  private static void binaryGrad(CpuBackward.Step s, Op.Binary bin) {
    String an = s.node.inputs().get(0);
    String bn = s.node.inputs().get(1);
    boolean needsValues = bin.kind().gradReadsValues;
    FloatTensor a = needsValues ? s.value(an) : null;
    FloatTensor bv = needsValues ? s.value(bn) : null;
    Shape[] vs = {a != null ? a.shape() : s.shapeOf(an), bv != null ? bv.shape() : s.shapeOf(bn)};
    Shape[] gs =
        BroadcastGrad.gradShapes(
            new String[] {an, bn}, vs, new boolean[] {s.isConst(an), s.isConst(bn)}, s.want, s.ds);
    for (int side = 0; side < 2; side++) {
      if (gs[side] == null) {
        continue;
      }
      if (ShapeGrad.passesDy(bin.kind(), side == 0, gs[side], s.ds)) {
        s.dx[side] = s.dyT; // shared, never written: CpuBackward copies before it sums into it
        continue;
      }
      float[] d =
          ShapeGrad.binaryData(
              bin.kind(),
              side == 0,
              s.dy,
              s.ds.dims(),
              a == null ? null : a.data(),
              a == null ? null : a.shape().dims(),
              bv == null ? null : bv.data(),
              bv == null ? null : bv.shape().dims(),
              gs[side].dims(),
              s.pool());
      s.dx[side] = new FloatTensor(gs[side], d);
    }
  }

  /** The geometry of a convolution from x's grid xs to dy's grid ds, checked against ds. */
  private static ConvGeometry geometry(Op.Windowed c, Shape xs, Shape ds) {
    return checked(ConvGeometry.ofConv(c, xs), c.padding(), xs, ds);
  }

  /**
   * g, a window with TensorFlow's SAME/VALID padding, checked against the grid it produced: in
   * (·,H,W,·) is the window's input grid, out (·,OH,OW,·) its output.
   */
  private static ConvGeometry checked(ConvGeometry g, Padding pad, Shape in, Shape out) {
    if (g.oh() != out.dim(1) || g.ow() != out.dim(2)) {
      throw new ShapeException(
          "window "
              + g.kh()
              + "x"
              + g.kw()
              + " stride "
              + g.sh()
              + "x"
              + g.sw()
              + " "
              + pad
              + " maps "
              + in
              + " to "
              + g.oh()
              + "x"
              + g.ow()
              + ", not to the gradient's "
              + out);
    }
    return g;
  }
}
