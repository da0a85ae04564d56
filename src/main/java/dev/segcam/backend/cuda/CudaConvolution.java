package dev.segcam.backend.cuda;

import dev.segcam.SegcamException;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import dev.segcam.kernels.ConvGeometry;
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
   * The geometry of a conv-like node, checked against the grid it must produce. Conv2DTranspose is
   * the data gradient of the conv from its output grid y to its input grid x.
   */
  static ConvGeometry convGeom(Node node, Shape x, Shape y) {
    Op op = node.op();
    ConvGeometry g;
    Shape expected;
    if (op instanceof Op.Windowed c) {
      Shape f = c.filter().shape();
      if (f.dim(2) != x.dim(3)) {
        throw shapeError(node, "filter " + f + " does not match input " + x);
      }
      g = ConvGeometry.ofConv(c, x);
      expected = y;
    } else if (op instanceof Op.Conv2DTranspose c) {
      Shape f = c.filter().shape();
      if (f.dim(3) != x.dim(3) || f.dim(2) != y.dim(3)) {
        throw shapeError(node, "filter " + f + " does not map " + x + " to " + y);
      }
      g = ConvGeometry.ofTransposed(c, x, y);
      expected = x;
    } else {
      throw new IllegalStateException(op.type());
    }
    String why = g.unsupportedReason();
    if (why != null || g.oh() != expected.dim(1) || g.ow() != expected.dim(2)) {
      throw shapeError(
          node,
          "convolution geometry "
              + g
              + " does not give the graph's "
              + expected.dim(1)
              + "x"
              + expected.dim(2)
              + (why == null ? "" : ": " + why));
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

  private boolean direct(ConvGeometry g, String dir) {
    return convMode == ConvMode.DIRECT || cudnnUnusable || directShapes.contains(dir + " " + g);
  }

  /**
   * cuDNN refused a convolution (no algorithm, none whose workspace fits, not supported: a
   * CudaException) or cannot be used at all (library missing: BackendUnavailableException or a
   * LinkageError). In AUTO mode the shape, or every shape, goes to the direct kernel, reported once
   * to the listener; otherwise rethrows.
   */
  private void fallBack(ConvGeometry g, String dir, Throwable e) {
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

  /** One direction of a convolution: the direct kernel's or a cuDNN call's. */
  @FunctionalInterface
  private interface ConvCall {
    void run(DeviceBuffer out, DeviceBuffer in, DeviceBuffer w, ConvGeometry g);
  }

  /** y = conv(x), x on the geometry's input grid. */
  void convForward(ConvGeometry g, DeviceBuffer y, DeviceBuffer x, DeviceBuffer w) {
    run("forward", (o, i, k, c) -> cudnn(true, o, i, k, c), ops::conv2d_direct_fwd, g, y, x, w);
  }

  /** dx = the data gradient of the convolution, on the geometry's input grid. */
  void convBackwardData(ConvGeometry g, DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer w) {
    run(
        "backward-data",
        (o, i, k, c) -> cudnn(false, o, i, k, c),
        ops::conv2d_direct_bwd_data,
        g,
        dx,
        dy,
        w);
  }

  /**
   * cuDNN unless this shape (or every shape) runs direct; the direct kernel where it falls back.
   */
  private void run(
      String dir,
      ConvCall cudnn,
      ConvCall direct,
      ConvGeometry g,
      DeviceBuffer out,
      DeviceBuffer in,
      DeviceBuffer w) {
    if (!direct(g, dir)) {
      try {
        cudnn.run(out, in, w, g);
        return;
      } catch (CudaException | dev.segcam.backend.BackendUnavailableException | LinkageError e) {
        fallBack(g, dir, e);
      }
    }
    direct.run(out, in, w, g);
  }

  /** The (N,H,W,C) dims of the geometry's input grid without and with its padding, and the pads. */
  private static int[][] padDims(ConvGeometry g) {
    return new int[][] {
      {g.n(), g.h(), g.w(), g.c()}, {g.n(), g.hp(), g.wp(), g.c()}, {0, g.padT(), g.padL(), 0}
    };
  }

  /**
   * cuDNN's forward or backward-data; an asymmetric padding runs unpadded on the explicitly padded
   * input grid (pad_fwd before the forward, a crop with pad_bwd after the data gradient).
   */
  private void cudnn(
      boolean forward, DeviceBuffer out, DeviceBuffer in, DeviceBuffer w, ConvGeometry g) {
    if (g.symmetric()) {
      if (forward) {
        conv.forward(g, out, in, w);
      } else {
        conv.backwardData(g, out, in, w);
      }
      return;
    }
    int[][] d = padDims(g);
    try (DeviceBuffer p = ctx.arena().floats((long) g.n() * g.hp() * g.wp() * g.c())) {
      if (forward) {
        ops.pad_fwd(p, in, 0f, d[1], d[0], d[2]);
        conv.forward(g.padded(), out, p, w);
      } else {
        conv.backwardData(g.padded(), p, in, w);
        ops.pad_bwd(out, p, d[0], d[1], d[2]);
      }
    }
  }
}
