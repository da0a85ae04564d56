package dev.segcam.backend.cuda;

import dev.segcam.backend.BroadcastGrad;
import dev.segcam.backend.NotDifferentiableException;
import dev.segcam.backend.OpTable;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.ActivationKernels;
import dev.segcam.kernels.ConcatDims;
import dev.segcam.kernels.ConvGeometry;
import dev.segcam.kernels.MapDims;
import dev.segcam.kernels.ResizeDims;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The CUDA backend's op table: for every IR op, its forward and data gradient as kernel launches
 * (kernels/*.cu through {@link CudaGraphOps} and {@link CudaKernels}), cuDNN/direct convolution and
 * cuBLAS. Plain Java: the table loads without a GPU, so the coverage test runs everywhere. The
 * semantics are those of the CPU engine's {@link dev.segcam.backend.cpu.CpuOpTable}.
 */
public final class CudaOpTable {
  private CudaOpTable() {}

  /**
   * Forward of one node: writes {@link CudaStep.Fwd#y()} (or returns a view or a retained
   * constant).
   */
  @FunctionalInterface
  interface Forward<O extends Op> {
    CudaTensor run(CudaStep.Fwd s, O op);
  }

  /**
   * Data gradient of one node: fills {@link CudaStep.Bwd#dx} through {@link CudaStep.Bwd#alloc}.
   */
  @FunctionalInterface
  interface Backward<O extends Op> {
    void run(CudaStep.Bwd s, O op);
  }

  public static final OpTable<Forward<Op>, Backward<Op>> TABLE = build();

  private static OpTable<Forward<Op>, Backward<Op>> build() {
    OpTable<Forward<Op>, Backward<Op>> t = new OpTable<>("cuda");
    put(
        t,
        Op.Input.class,
        (s, op) -> {
          throw new IllegalStateException("graph input '" + s.node.name() + "' was not fed");
        },
        (s, op) -> {});
    put(t, Op.Const.class, (s, op) -> s.p.constant.retain(), (s, op) -> {});
    put(t, Op.Conv2D.class, CudaOpTable::convForward, CudaOpTable::convGrad);
    put(t, Op.DepthwiseConv2D.class, CudaOpTable::convForward, CudaOpTable::convGrad);
    put(
        t,
        Op.Conv2DTranspose.class,
        CudaOpTable::convForward,
        (s, op) ->
            s.be
                .convolution()
                .convForward(s.convGeom(), s.alloc(0, s.gradShape(0)), s.dy.buffer(), s.p.filter));
    put(
        t,
        Op.BiasAdd.class,
        (s, op) -> {
          s.ops.channel_affine(s.y().buffer(), s.x(), null, s.p.bias, s.total(), s.out.dim(-1));
          return s.y;
        },
        (s, op) -> s.set(0, s.dy.retain()));
    put(
        t,
        Op.BatchNorm.class,
        (s, op) -> {
          s.ops.channel_affine(
              s.y().buffer(), s.x(), s.p.scale, s.p.offset, s.total(), s.out.dim(-1));
          return s.y;
        },
        (s, op) ->
            s.ops.channel_scale_bwd(
                s.alloc(0, s.ds), s.dy.buffer(), s.p.scale, s.ds.size(), s.ds.dim(-1)));
    put(
        t,
        Op.Activation.class,
        (s, op) -> {
          s.ops.activation_fwd(s.y().buffer(), s.x(), s.total(), op.kind().code, op.alpha());
          return s.y;
        },
        (s, op) -> {
          CudaTensor v = s.value(op.gradReads() == Op.GradReads.INPUT ? s.in0 : s.node.name());
          if (s.guided && ActivationKernels.guides(op.kind())) {
            s.ops.guided_relu_bwd(
                s.alloc(0, s.ds), s.dy.buffer(), v.buffer(), s.ds.size(), v.size(), op.kind().code);
            return;
          }
          s.ops.activation_bwd(
              s.alloc(0, s.ds),
              s.dy.buffer(),
              v.buffer(),
              s.ds.size(),
              v.size(),
              op.kind().code,
              op.alpha());
        });
    put(
        t,
        Op.Softmax.class,
        (s, op) -> {
          int c = s.out.dim(-1);
          s.ops.softmax_fwd(s.y().buffer(), s.x(), c == 0 ? 0 : s.total() / c, c);
          return s.y;
        },
        (s, op) -> {
          CudaTensor y = s.value(s.node.name());
          int c = s.ds.dim(-1);
          s.ops.softmax_bwd(
              s.alloc(0, s.ds), s.dy.buffer(), y.buffer(), s.ds.size() / c, y.size() / c, c);
        });
    put(
        t,
        Op.Exp.class,
        (s, op) -> s.pointwise("exp", "exp_fwd"),
        (s, op) -> s.pointwiseGrad("exp", "exp_bwd", s.value(s.node.name())));
    put(t, Op.Pool.class, CudaOpTable::poolForward, CudaOpTable::poolGrad);
    put(
        t,
        Op.SpatialMean.class,
        (s, op) -> {
          Shape x = s.xs();
          s.be.camKernels().channel_mean(s.y().buffer(), s.x(), MapDims.of(x.dims()));
          return s.y;
        },
        (s, op) -> {
          Shape xs = s.gradShape(0);
          s.ops.spatial_mean_bwd(
              s.alloc(0, xs), s.dy.buffer(), s.b, xs.dim(1) * xs.dim(2), xs.dim(3));
        });
    put(t, Op.Resize.class, CudaOpTable::resizeForward, CudaOpTable::resizeGrad);
    put(t, Op.Concat.class, CudaOpTable::concatForward, CudaOpTable::concatGrad);
    put(
        t,
        Op.Binary.class,
        (s, op) -> {
          s.ops.binary_fwd(
              s.y().buffer(),
              s.x(),
              s.in.get(1).buffer(),
              op.kind().code,
              CudaCamBackend.dims4(s.out),
              CudaCamBackend.dims4(s.xs()),
              CudaCamBackend.dims4(s.in.get(1).shape()));
          return s.y;
        },
        CudaOpTable::binaryGrad);
    put(t, Op.Pad.class, CudaOpTable::padForward, CudaOpTable::padGrad);
    put(
        t,
        Op.MatMul.class,
        (s, op) -> {
          Shape x = s.xs();
          int in = x.dim(-1);
          int o = s.out.dim(-1);
          s.be.gemm().forward(s.y().buffer(), s.x(), s.p.weights, x.size() / in, in, o);
          if (s.p.bias != null) {
            s.ops.channel_affine(s.y.buffer(), s.y.buffer(), null, s.p.bias, s.total(), o);
          }
          return s.y;
        },
        (s, op) -> {
          Shape w = op.weights().shape();
          s.be
              .gemm()
              .backward(
                  s.alloc(0, s.ds.withDim(-1, w.dim(0))),
                  s.dy.buffer(),
                  s.p.weights,
                  s.ds.size() / w.dim(1),
                  w.dim(0),
                  w.dim(1));
        });
    put(t, Op.BatchMatMul.class, CudaMatMulOps::forward, CudaMatMulOps::backward);
    put(
        t,
        Op.Reshape.class,
        (s, op) -> s.in.get(0).view(s.out),
        (s, op) -> s.set(0, s.dy.view(s.gradShape(0))));
    put(t, Op.Unary.class, CudaOpTable::unaryForward, CudaOpTable::unaryGrad);
    put(
        t,
        Op.StopGradient.class,
        (s, op) -> s.in.get(0).view(s.out),
        (s, op) -> {
          if (op.prevent()) {
            throw new NotDifferentiableException(
                "PreventGradient: TensorFlow forbids differentiating through this node");
          }
          s.alloc(0, s.ds).zero(); // StopGradient: no gradient flows back (zero)
        });
    put(t, Op.StridedSlice.class, CudaShapeOps::stridedSlice, CudaShapeOps::stridedSliceGrad);
    put(t, Op.Reduce.class, CudaShapeOps::reduce, CudaShapeOps::reduceGrad);
    put(
        t,
        Op.LogSoftmax.class,
        (s, op) -> {
          int c = s.out.dim(-1);
          int rows = c == 0 ? 0 : s.total() / c;
          s.ops.launchIn("log_softmax", "log_softmax_fwd", rows, s.y().buffer(), s.x(), rows, c);
          return s.y;
        },
        (s, op) -> {
          CudaTensor y = s.value(s.node.name());
          int c = s.ds.dim(-1);
          int rows = s.ds.size() / c;
          s.ops.launchIn(
              "log_softmax",
              "log_softmax_bwd",
              rows,
              s.alloc(0, s.ds),
              s.dy.buffer(),
              y.buffer(),
              rows,
              y.size() / c,
              c);
        });
    put(t, Op.Transpose.class, CudaShapeOps::transpose, CudaShapeOps::transposeGrad);
    return t;
  }

  private static CudaTensor unaryForward(CudaStep.Fwd s, Op.Unary op) {
    return s.pointwise("unary", "unary_fwd", op.kind().code, op.param());
  }

  private static void unaryGrad(CudaStep.Bwd s, Op.Unary op) {
    // NEG reads no value: dy stands in for the unread buffer
    CudaTensor v =
        switch (op.gradReads()) {
          case INPUT -> s.value(s.in0);
          case OUTPUT -> s.value(s.node.name());
          case NOTHING -> s.dy;
        };
    s.pointwiseGrad("unary", "unary_bwd", v, op.kind().code, op.param());
  }

  /**
   * Throws {@link UnsupportedOpException} for the first node this backend cannot run: an op
   * configuration its kernels do not cover (ranks, axes, negative padding).
   */
  static void checkSupported(Graph g) {
    for (Node n : g.nodes()) {
      Op op = n.op();
      int rank = n.shape().rank();
      List<Integer> inRanks = new ArrayList<>();
      for (String in : n.inputs()) {
        inRanks.add(g.node(in).shape().rank());
      }
      if (op instanceof Op.Conv2D
          || op instanceof Op.DepthwiseConv2D
          || op instanceof Op.Conv2DTranspose
          || op instanceof Op.Pool
          || op instanceof Op.SpatialMean
          || op instanceof Op.Resize) {
        if (inRanks.size() != 1 || inRanks.get(0) != 4) {
          throw new UnsupportedOpException(
              n.name(), op.type(), "needs one (N,H,W,C) input, has ranks " + inRanks);
        }
      } else if (op instanceof Op.MatMul) {
        if (inRanks.size() != 1 || inRanks.get(0) < 2) {
          throw new UnsupportedOpException(
              n.name(), op.type(), "needs one (N,...,I) input, has ranks " + inRanks);
        }
      } else if (op instanceof Op.Binary) {
        if (rank > 4 || inRanks.stream().anyMatch(r -> r > 4)) {
          throw new UnsupportedOpException(
              n.name(), op.type(), "broadcasts only up to rank 4, has " + inRanks + " -> " + rank);
        }
      } else if (op instanceof Op.Pad p) {
        if (rank > 4) {
          throw new UnsupportedOpException(n.name(), op.type(), "pads only up to rank 4");
        }
        for (int[] pp : p.paddings()) {
          if (pp[0] < 0 || pp[1] < 0) {
            throw new UnsupportedOpException(
                n.name(), op.type(), "negative padding " + Arrays.toString(pp));
          }
        }
      } else if (op instanceof Op.Concat c) {
        if (c.axis() < 0 || c.axis() >= rank) {
          throw new UnsupportedOpException(
              n.name(), op.type(), "axis " + c.axis() + " outside rank " + rank);
        }
      } else if (op instanceof Op.Softmax
          || op instanceof Op.LogSoftmax
          || op instanceof Op.Activation) {
        if (rank < 1) {
          throw new UnsupportedOpException(n.name(), op.type(), "needs rank >= 1");
        }
      } else if (op instanceof Op.StridedSlice
          || op instanceof Op.Reduce
          || op instanceof Op.Transpose) {
        if (inRanks.get(0) > dev.segcam.kernels.StridedSliceKernels.RANK) {
          throw new UnsupportedOpException(n.name(), op.type(), "runs only up to rank 5");
        }
      } else if (TABLE.find(op) == null) {
        throw new UnsupportedOpException(n.name(), op.type(), "no CUDA kernel for this op");
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static <O extends Op> void put(
      OpTable<Forward<Op>, Backward<Op>> t, Class<O> op, Forward<O> f, Backward<O> b) {
    t.put(op, (Forward<Op>) f, (Backward<Op>) b);
  }

  // ------------------------------------------------------------------------------ rules

  private static CudaTensor convForward(CudaStep.Fwd s, Op op) {
    ConvGeometry g = CudaConvolution.convGeom(s.node, s.xs(), s.out);
    if (op instanceof Op.Conv2DTranspose) {
      s.be.convolution().convBackwardData(g, s.y().buffer(), s.x(), s.p.filter);
    } else {
      s.be.convolution().convForward(g, s.y().buffer(), s.x(), s.p.filter);
    }
    if (s.p.bias != null) {
      s.ops.channel_affine(s.y.buffer(), s.y.buffer(), null, s.p.bias, s.total(), s.out.dim(3));
    }
    return s.y;
  }

  private static void convGrad(CudaStep.Bwd s, Op op) {
    s.be
        .convolution()
        .convBackwardData(s.convGeom(), s.alloc(0, s.gradShape(0)), s.dy.buffer(), s.p.filter);
  }

  private static CudaTensor poolForward(CudaStep.Fwd s, Op.Pool pool) {
    ConvGeometry g = ConvGeometry.ofPool(pool, s.xs());
    s.ops.pool_fwd(s.y().buffer(), s.x(), g, pool.kind() == Op.PoolKind.MAX);
    return s.y;
  }

  private static void poolGrad(CudaStep.Bwd s, Op.Pool pool) {
    CudaTensor x = s.value(s.in0);
    ConvGeometry g = ConvGeometry.ofPool(pool, x.shape());
    DeviceBuffer dx = s.alloc(0, x.shape().withDim(0, s.b));
    if (pool.kind() == Op.PoolKind.MAX) {
      s.ops.maxpool_bwd(dx, s.dy.buffer(), x.buffer(), s.b, g);
    } else {
      s.ops.avgpool_bwd(dx, s.dy.buffer(), g.withBatch(s.b));
    }
  }

  /** The argument list the four resize kernels share (output, input, sizes and TF's flags). */
  @FunctionalInterface
  private interface ResizeKernel {
    void run(DeviceBuffer out, DeviceBuffer in, ResizeDims d);
  }

  /** The kernel of a resize and direction: bilinear or nearest (both resize.cu). */
  private static ResizeKernel resizeKernel(CudaCamBackend be, Op.Resize r, boolean backward) {
    CudaKernels k = be.camKernels();
    CudaGraphOps g = be.graphOps();
    if (r.mode() == Op.ResizeMode.BILINEAR) {
      return backward ? k::resize_bilinear_bwd : k::resize_bilinear_fwd;
    }
    return backward ? g::resize_nearest_bwd : g::resize_nearest_fwd;
  }

  /** The resize between x's grid (batch n) and the op's output grid. */
  private static ResizeDims resizeDims(Op.Resize r, int n, Shape x, Shape out) {
    return new ResizeDims(
        n,
        x.dim(1),
        x.dim(2),
        x.dim(3),
        out.dim(1),
        out.dim(2),
        r.alignCorners(),
        r.halfPixelCenters());
  }

  private static CudaTensor resizeForward(CudaStep.Fwd s, Op.Resize r) {
    ResizeDims d = resizeDims(r, s.xs().dim(0), s.xs(), s.out);
    resizeKernel(s.be, r, false).run(s.y().buffer(), s.x(), d);
    return s.y;
  }

  private static void resizeGrad(CudaStep.Bwd s, Op.Resize r) {
    Shape xs = s.gradShape(0);
    resizeKernel(s.be, r, true).run(s.alloc(0, xs), s.dy.buffer(), resizeDims(r, s.b, xs, s.ds));
  }

  private static CudaTensor concatForward(CudaStep.Fwd s, Op.Concat c) {
    int a = c.axis();
    Shape out = s.out;
    int outer = CudaCamBackend.prodDims(out, 0, a);
    int inner = CudaCamBackend.prodDims(out, a + 1, out.rank());
    int offset = 0;
    DeviceBuffer y = s.y().buffer();
    for (CudaTensor t : s.in) {
      int len = t.shape().dim(a);
      if (len > 0 && outer > 0 && inner > 0) {
        s.ops.concat_copy(
            y, t.buffer(), new ConcatDims(outer, len, inner, out.dim(a), offset), false);
      }
      offset += len;
    }
    return s.y;
  }

  private static void concatGrad(CudaStep.Bwd s, Op.Concat c) {
    int a = c.axis();
    if (a == 0) {
      throw new NotDifferentiableException(
          "Concat along the batch axis is not supported in backward");
    }
    Shape ds = s.ds;
    int outer = CudaCamBackend.prodDims(ds, 0, a);
    int inner = CudaCamBackend.prodDims(ds, a + 1, ds.rank());
    int offset = 0;
    for (int k = 0; k < s.dx.length; k++) {
      Shape xs = s.gradShape(k);
      int len = xs.dim(a);
      if (s.want[k]) {
        DeviceBuffer dx = s.alloc(k, xs);
        if (len > 0 && outer > 0 && inner > 0) {
          ConcatDims d = new ConcatDims(outer, len, inner, ds.dim(a), offset);
          s.ops.concat_copy(s.dy.buffer(), dx, d, true);
        }
      }
      offset += len;
    }
  }

  private static CudaTensor padForward(CudaStep.Fwd s, Op.Pad pad) {
    Shape x = s.xs();
    int[] before = new int[4];
    for (int d = 0; d < x.rank(); d++) {
      before[4 - x.rank() + d] = pad.paddings().get(d)[0];
    }
    s.ops.pad_fwd(
        s.y().buffer(),
        s.x(),
        pad.value(),
        CudaCamBackend.dims4(s.out),
        CudaCamBackend.dims4(x),
        before);
    return s.y;
  }

  private static void padGrad(CudaStep.Bwd s, Op.Pad pad) {
    if (pad.paddings().get(0)[0] != 0 || pad.paddings().get(0)[1] != 0) {
      throw new NotDifferentiableException("Pad along the batch axis is not supported in backward");
    }
    Shape xs = s.gradShape(0);
    int[] before = new int[4];
    for (int d = 0; d < xs.rank(); d++) {
      before[4 - xs.rank() + d] = pad.paddings().get(d)[0];
    }
    s.ops.pad_bwd(
        s.alloc(0, xs),
        s.dy.buffer(),
        CudaCamBackend.dims4(xs),
        CudaCamBackend.dims4(s.ds),
        before);
  }

  private static void binaryGrad(CudaStep.Bwd s, Op.Binary bin) {
    String an = s.node.inputs().get(0);
    String bn = s.node.inputs().get(1);
    CudaTensor a = s.value(an);
    CudaTensor bv = s.value(bn);
    Shape[] gs =
        BroadcastGrad.gradShapes(
            new String[] {an, bn},
            new Shape[] {a.shape(), bv.shape()},
            new boolean[] {s.be.isConst(an), s.be.isConst(bn)},
            s.want,
            s.ds);
    for (int side = 0; side < 2; side++) {
      if (gs[side] == null) {
        continue;
      }
      s.ops.binary_bwd(
          s.alloc(side, gs[side]),
          s.dy.buffer(),
          a.buffer(),
          bv.buffer(),
          bin.kind().code,
          side == 0,
          new int[][] {
            CudaCamBackend.dims4(s.ds),
            CudaCamBackend.dims4(gs[side]),
            CudaCamBackend.dims4(a.shape()),
            CudaCamBackend.dims4(bv.shape())
          });
    }
  }
}
