package dev.segcam.backend.cuda;

import dev.segcam.SegcamException;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import java.lang.System.Logger.Level;
import java.util.Locale;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The CUDA backend's convolutions: geometry (TensorFlow's SAME/VALID padding, asymmetric padding
 * made explicit), cuDNN forward and backward-data, and the direct kernels of conv_direct.cu as the
 * fallback where cuDNN cannot run a shape. Each fallback is reported once to a listener (by default
 * the {@code dev.segcam.cuda} system logger at INFO), never printed by library code.
 */
final class CudaConvolution implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger("dev.segcam.cuda");

  /** The default fallback listener: the system logger. */
  static final Consumer<String> LOG_LISTENER = m -> LOG.log(Level.INFO, m);

  private final CudaContext ctx;
  private final CudnnConv conv;
  private final CudaGraphOps ops;
  private final Consumer<String> listener;

  CudaConvolution(
      CudaContext ctx, CudnnConv conv, CudaGraphOps ops, ConvMode mode, Consumer<String> listener) {
    this.ctx = ctx;
    this.conv = conv;
    this.ops = ops;
    this.convMode = mode;
    this.listener = listener;
  }

  ConvMode mode() {
    return convMode;
  }

  @Override
  public void close() {
    conv.close();
  }

  /**
   * A convolution over an input grid (n,h,w,c) with TensorFlow's padding split into before/after
   * amounts. cuDNN pads symmetrically: when before != after the input is padded explicitly and the
   * convolution runs unpadded on the larger grid.
   */
  record ConvGeom(
      int n,
      int h,
      int w,
      int c,
      int kh,
      int kw,
      int f,
      int sh,
      int sw,
      int dh,
      int dw,
      int groups,
      int top,
      int bottom,
      int left,
      int right) {
    boolean symmetric() {
      return top == bottom && left == right;
    }

    int hp() {
      return h + top + bottom;
    }

    int wp() {
      return w + left + right;
    }

    CudnnConv.ConvShape cudnn() {
      return symmetric()
          ? new CudnnConv.ConvShape(n, h, w, c, kh, kw, f, top, left, sh, sw, dh, dw, groups)
          : new CudnnConv.ConvShape(n, hp(), wp(), c, kh, kw, f, 0, 0, sh, sw, dh, dw, groups);
    }

    ConvGeom withBatch(int b) {
      return new ConvGeom(b, h, w, c, kh, kw, f, sh, sw, dh, dw, groups, top, bottom, left, right);
    }
  }

  /** TensorFlow's {before, after} padding along one axis. */
  private static int[] tfPad(Padding p, int in, int k, int s, int d) {
    if (p == Padding.VALID) {
      return new int[] {0, 0};
    }
    int effK = (k - 1) * d + 1;
    int out = (in + s - 1) / s;
    int total = Math.max((out - 1) * s + effK - in, 0);
    return new int[] {total / 2, total - total / 2};
  }

  private static ConvGeom geom(
      int n,
      int h,
      int w,
      int c,
      int kh,
      int kw,
      int f,
      int sh,
      int sw,
      int dh,
      int dw,
      int g,
      Padding p) {
    int[] ph = tfPad(p, h, kh, sh, dh);
    int[] pw = tfPad(p, w, kw, sw, dw);
    return new ConvGeom(n, h, w, c, kh, kw, f, sh, sw, dh, dw, g, ph[0], ph[1], pw[0], pw[1]);
  }

  /** The geometry of a conv-like node, checked against the grid it must produce. */
  static ConvGeom convGeom(Node node, Shape x, Shape y) {
    Op op = node.op();
    ConvGeom g;
    int outH;
    int outW;
    if (op instanceof Op.Windowed c) {
      // Conv2D (KH,KW,C,F): F outputs, one group; depthwise (KH,KW,C,M): C·M outputs, C groups
      Shape f = c.filter().shape();
      boolean depthwise = op instanceof Op.DepthwiseConv2D;
      if (f.dim(2) != x.dim(3)) {
        throw shapeError(node, "filter " + f + " does not match input " + x);
      }
      g =
          geom(
              x.dim(0),
              x.dim(1),
              x.dim(2),
              x.dim(3),
              f.dim(0),
              f.dim(1),
              depthwise ? f.dim(2) * f.dim(3) : f.dim(3),
              c.strideH(),
              c.strideW(),
              c.dilationH(),
              c.dilationW(),
              depthwise ? f.dim(2) : 1,
              c.padding());
      outH = y.dim(1);
      outW = y.dim(2);
    } else if (op instanceof Op.Conv2DTranspose c) {
      // the conv from y's grid (F channels) to x's grid (C channels) whose data gradient this is
      Shape f = c.filter().shape();
      if (f.dim(3) != x.dim(3) || f.dim(2) != y.dim(3)) {
        throw shapeError(node, "filter " + f + " does not map " + x + " to " + y);
      }
      g =
          geom(
              y.dim(0),
              y.dim(1),
              y.dim(2),
              f.dim(2),
              f.dim(0),
              f.dim(1),
              f.dim(3),
              c.strideH(),
              c.strideW(),
              1,
              1,
              1,
              c.padding());
      outH = x.dim(1);
      outW = x.dim(2);
    } else {
      throw new IllegalStateException(op.type());
    }
    CudnnConv.ConvShape s = g.cudnn();
    if (s.outH() != outH || s.outW() != outW) {
      throw shapeError(
          node,
          "convolution geometry "
              + g
              + " gives "
              + s.outH()
              + "x"
              + s.outW()
              + ", the graph expects "
              + outH
              + "x"
              + outW);
    }
    return g;
  }

  private static ShapeException shapeError(Node node, String msg) {
    return (ShapeException) new ShapeException(msg).atNode(node.name(), node.op().type());
  }

  /** Which convolution implementation runs: cuDNN with the direct kernel as fallback (default). */
  public enum ConvMode {
    /** cuDNN; a shape cuDNN has no algorithm for runs on the direct kernel (logged once). */
    AUTO,
    /** cuDNN only: a shape it cannot run is an error. */
    CUDNN,
    /** Our direct kernels only (conv_direct.cu): slow, for checking cuDNN. */
    DIRECT
  }

  static ConvMode convModeFromProperty() {
    String m = System.getProperty("segcam.cuda.conv", "auto").trim().toUpperCase(Locale.ROOT);
    try {
      return ConvMode.valueOf(m);
    } catch (IllegalArgumentException e) {
      throw new SegcamException("segcam.cuda.conv must be auto, cudnn or direct, got '" + m + "'");
    }
  }

  private final ConvMode convMode;
  private final Set<String> directShapes = new java.util.HashSet<>();

  /** Convolution shapes (and directions) that run on the direct kernel after cuDNN refused. */
  synchronized Set<String> directFallbacks() {
    return Set.copyOf(directShapes);
  }

  /** Set when cuDNN itself cannot be loaded or started: every convolution runs direct. */
  private boolean cudnnUnusable;

  private boolean direct(ConvGeom g, String dir) {
    return convMode == ConvMode.DIRECT || cudnnUnusable || directShapes.contains(dir + " " + g);
  }

  /**
   * cuDNN refused a convolution (no algorithm, none whose workspace fits, not supported: a
   * CudaException) or cannot be used at all (library missing: BackendUnavailableException or a
   * LinkageError). In AUTO mode the shape, or every shape, goes to the direct kernel, reported once
   * to the listener; otherwise rethrows.
   */
  private void fallBack(ConvGeom g, String dir, Throwable e) {
    if (convMode != ConvMode.AUTO) {
      if (e instanceof RuntimeException r) {
        throw r;
      }
      throw (Error) e;
    }
    if (e instanceof CudaException) {
      directShapes.add(dir + " " + g);
      listener.accept(
          "cuDNN cannot run the convolution "
              + dir
              + " "
              + g
              + " ("
              + e.getMessage()
              + "): using the direct kernel for it");
    } else {
      cudnnUnusable = true;
      directShapes.add("all (cuDNN unusable: " + e + ")");
      listener.accept(
          "cuDNN cannot be used (" + e + "): every convolution runs on the direct kernel");
    }
  }

  /** The argument list shared by conv2d_direct_fwd and conv2d_direct_bwd_data. */
  @FunctionalInterface
  private interface DirectKernel {
    void run(
        DeviceBuffer out,
        DeviceBuffer in,
        DeviceBuffer w,
        int n,
        int h,
        int wd,
        int c,
        int f,
        int oh,
        int ow,
        int kh,
        int kw,
        int sh,
        int sw,
        int dh,
        int dw,
        int pt,
        int pl,
        int groups);
  }

  /** A cuDNN call for one direction. */
  @FunctionalInterface
  private interface CudnnCall {
    void run(ConvGeom g, DeviceBuffer out, DeviceBuffer in, DeviceBuffer w);
  }

  /** y = conv(x), x on the geometry's input grid. */
  void convForward(ConvGeom g, DeviceBuffer y, DeviceBuffer x, DeviceBuffer w) {
    run("forward", this::cudnnForward, ops::conv2d_direct_fwd, g, y, x, w);
  }

  /** dx = the data gradient of the convolution, on the geometry's input grid. */
  void convBackwardData(ConvGeom g, DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer w) {
    run("backward-data", this::cudnnBackwardData, ops::conv2d_direct_bwd_data, g, dx, dy, w);
  }

  /**
   * cuDNN unless this shape (or every shape) runs direct; the direct kernel where it falls back.
   */
  private void run(
      String dir,
      CudnnCall cudnn,
      DirectKernel direct,
      ConvGeom g,
      DeviceBuffer out,
      DeviceBuffer in,
      DeviceBuffer w) {
    if (!direct(g, dir)) {
      try {
        cudnn.run(g, out, in, w);
        return;
      } catch (CudaException | dev.segcam.backend.BackendUnavailableException | LinkageError e) {
        fallBack(g, dir, e);
      }
    }
    CudnnConv.ConvShape s = g.cudnn();
    direct.run(
        out,
        in,
        w,
        g.n(),
        g.h(),
        g.w(),
        g.c(),
        g.f(),
        s.outH(),
        s.outW(),
        g.kh(),
        g.kw(),
        g.sh(),
        g.sw(),
        g.dh(),
        g.dw(),
        g.top(),
        g.left(),
        g.groups());
  }

  private void cudnnForward(ConvGeom g, DeviceBuffer y, DeviceBuffer x, DeviceBuffer w) {
    if (g.symmetric()) {
      conv.forward(g.cudnn(), y, x, w);
      return;
    }
    try (DeviceBuffer xp = ctx.arena().floats((long) g.n() * g.hp() * g.wp() * g.c())) {
      ops.pad_fwd(
          xp,
          x,
          0f,
          new int[] {g.n(), g.hp(), g.wp(), g.c()},
          new int[] {g.n(), g.h(), g.w(), g.c()},
          new int[] {0, g.top(), g.left(), 0});
      conv.forward(g.cudnn(), y, xp, w);
    }
  }

  private void cudnnBackwardData(ConvGeom g, DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer w) {
    if (g.symmetric()) {
      conv.backwardData(g.cudnn(), dx, dy, w);
      return;
    }
    try (DeviceBuffer dxp = ctx.arena().floats((long) g.n() * g.hp() * g.wp() * g.c())) {
      conv.backwardData(g.cudnn(), dxp, dy, w);
      ops.pad_bwd(
          dx,
          dxp,
          new int[] {g.n(), g.h(), g.w(), g.c()},
          new int[] {g.n(), g.hp(), g.wp(), g.c()},
          new int[] {0, g.top(), g.left(), 0});
    }
  }
}
