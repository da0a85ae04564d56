package dev.segcam.backend.cuda;

import dev.segcam.SegcamException;
import dev.segcam.backend.BackwardPlan;
import dev.segcam.backend.NotDifferentiableException;
import dev.segcam.cam.CamBackend;
import dev.segcam.cam.CamException;
import dev.segcam.cam.CamTensor;
import dev.segcam.cam.Normalization;
import dev.segcam.cam.SeedChecks;
import dev.segcam.cam.SeedMode;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import dev.segcam.kernels.CpuKernels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The CAM backend on one CUDA device: every tensor lives in device memory, from the uploaded images
 * to the normalised maps; only what the caller asks for with {@link CamTensor#toHost()} (and the
 * per-row scores of {@link #scoreSeed}) comes back.
 *
 * <p>Forward and data-gradient backward run over the IR graph node by node, on one stream:
 * convolutions (plain, strided, dilated, grouped/depthwise, transposed) are cuDNN forward and
 * backward-data; dense layers are cuBLAS SGEMMs; everything else is our PTX in {@code
 * kernels/graph_ops.cu} (pooling, activations and softmax included: TensorFlow's semantics — the
 * asymmetric SAME padding, average pooling over real pixels only, max-pool gradients to the first
 * maximum — and the backward's K-target batches, whose forward values are tiled, are simpler to get
 * exactly right in a kernel than through cuDNN's descriptors). The CAM steps use {@link
 * CudaKernels}. Weights are uploaded once, when the backend is built; a node the backend cannot run
 * is an {@link UnsupportedOpException} then, not at the first frame.
 *
 * <p>Precision: FP32 (default) asks cuDNN for FMA math only and cuBLAS for pedantic math, which is
 * what the strict CUDA-vs-CPU tolerance (1e-5) assumes. TF32 ({@code -Dsegcam.cuda.precision=tf32}
 * or {@link #create(Graph, int, CudnnConv.Precision)}) lets both use tensor cores (tolerance 1e-3).
 * FP16 is not offered.
 *
 * <p>Not thread-safe: one thread drives a backend.
 */
public final class CudaCamBackend implements CamBackend {
  /** XGrad-CAM's denominator guard, as the CPU backend's. */
  private static final float XGRADCAM_EPS = 1e-7f;

  private final Graph graph;
  private final CudaContext ctx;
  private final CudnnConv.Precision precision;
  private final CudnnConv conv;
  private final CudaGraphOps ops;
  private final Map<String, Params> params = new HashMap<>();
  private final FloatPointer one = new FloatPointer(1f);
  private final FloatPointer zero = new FloatPointer(0f);
  private boolean closed;

  /** Device copies of a node's weights (null where the op has none). */
  private static final class Params {
    DeviceBuffer filter; // cuDNN KRSC layout
    DeviceBuffer bias;
    DeviceBuffer scale;
    DeviceBuffer offset;
    DeviceBuffer weights; // MatMul (I,O) row-major
    CudaTensor constant;

    void close() {
      for (DeviceBuffer b : new DeviceBuffer[] {filter, bias, scale, offset, weights}) {
        if (b != null) {
          b.close();
        }
      }
      if (constant != null) {
        constant.close();
      }
    }
  }

  private CudaCamBackend(Graph graph, CudaContext ctx, CudnnConv.Precision precision) {
    this.graph = graph;
    this.ctx = ctx;
    this.precision = precision;
    this.conv = new CudnnConv(ctx, precision);
    this.ops = new CudaGraphOps(ctx);
  }

  /**
   * The backend on device 0, FP32 unless {@code -Dsegcam.cuda.precision=tf32}. Throws {@link
   * dev.segcam.backend.BackendUnavailableException} with the probe's reason without a usable GPU,
   * {@link UnsupportedOpException} for a graph it cannot run.
   */
  public static CudaCamBackend create(Graph graph) {
    return create(graph, 0);
  }

  /** {@link #create(Graph)} on device {@code device} (e.g. the GPU a Spark task was given). */
  public static CudaCamBackend create(Graph graph, int device) {
    String p = System.getProperty("segcam.cuda.precision", "fp32").trim().toLowerCase(Locale.ROOT);
    CudnnConv.Precision precision;
    if (p.equals("fp32")) {
      precision = CudnnConv.Precision.FP32;
    } else if (p.equals("tf32")) {
      precision = CudnnConv.Precision.TF32;
    } else {
      throw new SegcamException("segcam.cuda.precision must be fp32 or tf32, got '" + p + "'");
    }
    return create(graph, device, precision);
  }

  /** The backend on a given device and precision. */
  public static CudaCamBackend create(Graph graph, int device, CudnnConv.Precision precision) {
    checkSupported(graph); // before touching the device: an unsupported graph costs nothing
    CudaContext ctx = CudaContext.open(device);
    CudaCamBackend b = null;
    try {
      b = new CudaCamBackend(graph, ctx, precision);
      b.uploadWeights();
      if (precision == CudnnConv.Precision.TF32 && hasMatMul(graph)) {
        CudaException.checkCublas(
            cublas.cublasSetMathMode(ctx.cublas(), cublas.CUBLAS_TF32_TENSOR_OP_MATH),
            "cublasSetMathMode(TF32)");
      }
      ctx.synchronize("uploading the weights");
      return b;
    } catch (RuntimeException | Error e) {
      try {
        if (b != null) {
          b.close();
        } else {
          ctx.close();
        }
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  private static boolean hasMatMul(Graph g) {
    for (Node n : g.nodes()) {
      if (n.op() instanceof Op.MatMul) {
        return true;
      }
    }
    return false;
  }

  // ------------------------------------------------------------------------------ construction

  /** Throws {@link UnsupportedOpException} for the first node this backend cannot run. */
  public static void checkSupported(Graph g) {
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
        if (inRanks.size() != 1 || inRanks.get(0) != 2) {
          throw new UnsupportedOpException(
              n.name(), op.type(), "needs one (N,I) input, has ranks " + inRanks);
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
      } else if (op instanceof Op.Softmax || op instanceof Op.Activation) {
        if (rank < 1) {
          throw new UnsupportedOpException(n.name(), op.type(), "needs rank >= 1");
        }
      } else if (!(op instanceof Op.Input
          || op instanceof Op.Const
          || op instanceof Op.BiasAdd
          || op instanceof Op.BatchNorm
          || op instanceof Op.Reshape)) {
        throw new UnsupportedOpException(n.name(), op.type(), "no CUDA kernel for this op");
      }
    }
  }

  private DeviceBuffer up(float[] host) {
    return ctx.arena().upload(host);
  }

  private DeviceBuffer upOrNull(FloatTensor t) {
    return t == null ? null : up(t.data());
  }

  private void uploadWeights() {
    for (Node n : graph.nodes()) {
      Op op = n.op();
      Params p = new Params();
      params.put(n.name(), p);
      if (op instanceof Op.Conv2D c) {
        p.filter = up(krsc(op));
        p.bias = upOrNull(c.bias());
      } else if (op instanceof Op.DepthwiseConv2D c) {
        p.filter = up(krsc(op));
        p.bias = upOrNull(c.bias());
      } else if (op instanceof Op.Conv2DTranspose c) {
        p.filter = up(krsc(op));
        p.bias = upOrNull(c.bias());
      } else if (op instanceof Op.BiasAdd b) {
        p.bias = up(b.bias().data());
      } else if (op instanceof Op.BatchNorm b) {
        p.scale = up(b.scale().data());
        p.offset = up(b.offset().data());
      } else if (op instanceof Op.MatMul m) {
        p.weights = up(m.weights().data());
        p.bias = upOrNull(m.bias());
      } else if (op instanceof Op.Const c) {
        p.constant = new CudaTensor(this, up(c.value().data()), c.value().shape());
      }
    }
  }

  /**
   * A conv-like op's filter in cuDNN's KRSC layout (F,KH,KW,C/groups) for the convolution {@link
   * #convGeom} describes: Conv2D (KH,KW,C,F) as is; depthwise (KH,KW,C,M) read as (KH,KW,1,C·M);
   * transposed (KH,KW,F,C) is the HWIO filter of the conv from its F-channel output grid to its
   * C-channel input.
   */
  static float[] krsc(Op op) {
    if (op instanceof Op.Conv2D c) {
      Shape f = c.filter().shape();
      return CudnnConv.filterToKrsc(c.filter().data(), f.dim(0), f.dim(1), f.dim(2), f.dim(3));
    }
    if (op instanceof Op.DepthwiseConv2D c) {
      Shape f = c.filter().shape();
      return CudnnConv.filterToKrsc(c.filter().data(), f.dim(0), f.dim(1), 1, f.dim(2) * f.dim(3));
    }
    if (op instanceof Op.Conv2DTranspose c) {
      Shape f = c.filter().shape();
      return CudnnConv.filterToKrsc(c.filter().data(), f.dim(0), f.dim(1), f.dim(2), f.dim(3));
    }
    throw new IllegalArgumentException("not a convolution: " + op.type());
  }

  // ------------------------------------------------------------------------------ basics

  @Override
  public String name() {
    return "cuda:" + ctx.device();
  }

  @Override
  public Graph graph() {
    return graph;
  }

  /** The device, driver and runtime, and the math mode, in one line. */
  public String describe() {
    return ctx.describe() + ", " + precision + " math, convolutions " + convMode;
  }

  public CudnnConv.Precision precision() {
    return precision;
  }

  /** Host-device copies so far (weights included): take differences around a frame. */
  public DeviceArena.CopyCounts copies() {
    return ctx.arena().copies();
  }

  /** Bytes of device memory held by the backend's pool, and its counters, in one line. */
  public String memoryStats() {
    return ctx.arena().stats();
  }

  /** Gives the pooled, unused device memory back to the driver. */
  public void trimMemory() {
    ctx.arena().trim();
  }

  /** An uninitialised (zeroed) device tensor, e.g. for tests that fill the device. */
  public CudaTensor allocate(Shape shape) {
    CudaTensor t = alloc(shape);
    t.buffer().zero();
    return t;
  }

  private CudaTensor alloc(Shape shape) {
    checkOpen();
    return new CudaTensor(this, ctx.arena().floats(Math.max(1, shape.size())), shape);
  }

  @Override
  public CamTensor upload(FloatTensor host) {
    CudaTensor t = alloc(host.shape());
    if (host.size() > 0) {
      t.buffer().upload(host.data());
    }
    return t;
  }

  /** Our device tensor, or an upload of a foreign one (counted like any upload). */
  private CudaTensor dev(CamTensor t, String what) {
    if (t == null) {
      throw new CamException(what + " is null");
    }
    if (t instanceof CudaTensor c && c.owner() == this) {
      return c;
    }
    throw new CamException(
        what
            + " is a "
            + t.getClass().getSimpleName()
            + ", not a tensor of this CUDA backend: upload it first");
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("CUDA backend is closed");
    }
  }

  // ------------------------------------------------------------------------------ convolutions

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
    if (op instanceof Op.Conv2D c) {
      Shape f = c.filter().shape();
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
              f.dim(3),
              c.strideH(),
              c.strideW(),
              c.dilationH(),
              c.dilationW(),
              1,
              c.padding());
      outH = y.dim(1);
      outW = y.dim(2);
    } else if (op instanceof Op.DepthwiseConv2D c) {
      Shape f = c.filter().shape();
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
              f.dim(2) * f.dim(3),
              c.strideH(),
              c.strideW(),
              c.dilationH(),
              c.dilationW(),
              f.dim(2),
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
    return new ShapeException("node '" + node.name() + "' (" + node.op().type() + "): " + msg);
  }

  /** Which convolution implementation runs: cuDNN with the direct kernel as fallback (default). */
  public enum ConvMode {
    /** cuDNN; a shape cuDNN has no algorithm for runs on the direct kernel (logged once). */
    AUTO,
    /** cuDNN only: a shape it cannot run is an error. */
    CUDNN,
    /** Our direct kernels only (graph_ops.cu): slow, for checking cuDNN. */
    DIRECT
  }

  private static ConvMode convModeFromProperty() {
    String m = System.getProperty("segcam.cuda.conv", "auto").trim().toUpperCase(Locale.ROOT);
    try {
      return ConvMode.valueOf(m);
    } catch (IllegalArgumentException e) {
      throw new SegcamException("segcam.cuda.conv must be auto, cudnn or direct, got '" + m + "'");
    }
  }

  private final ConvMode convMode = convModeFromProperty();
  private final Set<String> directShapes = new java.util.HashSet<>();

  /** Convolution shapes (and directions) that run on the direct kernel after cuDNN refused. */
  public synchronized Set<String> directFallbacks() {
    return Set.copyOf(directShapes);
  }

  /** Set when cuDNN itself cannot be loaded or started: every convolution runs direct. */
  private boolean cudnnUnusable;

  private boolean direct(ConvGeom g, String dir) {
    return convMode == ConvMode.DIRECT || cudnnUnusable || directShapes.contains(dir + " " + g);
  }

  /**
   * cuDNN refused a convolution (no algorithm, not supported: a CudaException) or cannot be used at
   * all (library missing: BackendUnavailableException or a LinkageError). In AUTO mode the shape,
   * or every shape, goes to the direct kernel, said once on stderr; otherwise rethrows.
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
      System.err.println(
          "[segcam] cuDNN cannot run the convolution "
              + dir
              + " "
              + g
              + " ("
              + e.getMessage()
              + "): using the direct kernel for it");
    } else {
      cudnnUnusable = true;
      directShapes.add("all (cuDNN unusable: " + e + ")");
      System.err.println(
          "[segcam] cuDNN cannot be used (" + e + "): every convolution runs on the direct kernel");
    }
  }

  /** y = conv(x), x on the geometry's input grid. */
  private void convForward(ConvGeom g, DeviceBuffer y, DeviceBuffer x, DeviceBuffer w) {
    if (!direct(g, "forward")) {
      try {
        cudnnForward(g, y, x, w);
        return;
      } catch (CudaException | dev.segcam.backend.BackendUnavailableException | LinkageError e) {
        fallBack(g, "forward", e);
      }
    }
    CudnnConv.ConvShape s = g.cudnn();
    ops.conv2d_direct_fwd(
        y,
        x,
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

  /** dx = the data gradient of the convolution, on the geometry's input grid. */
  private void convBackwardData(ConvGeom g, DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer w) {
    if (!direct(g, "backward-data")) {
      try {
        cudnnBackwardData(g, dx, dy, w);
        return;
      } catch (CudaException | dev.segcam.backend.BackendUnavailableException | LinkageError e) {
        fallBack(g, "backward-data", e);
      }
    }
    CudnnConv.ConvShape s = g.cudnn();
    ops.conv2d_direct_bwd_data(
        dx,
        dy,
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

  // ------------------------------------------------------------------------------ dense

  private static FloatPointer fp(DeviceBuffer b) {
    return new FloatPointer(b.pointer());
  }

  // x (rows,I), w (I,O) -> y (rows,O); row-major is cuBLAS's column-major transposed
  private void gemmForward(
      DeviceBuffer y, DeviceBuffer x, DeviceBuffer w, int rows, int in, int out) {
    cublasContext h = ctx.cublas();
    CudaException.checkCublas(
        cublas.cublasSgemm_v2(
            h,
            cublas.CUBLAS_OP_N,
            cublas.CUBLAS_OP_N,
            out,
            rows,
            in,
            one,
            fp(w),
            out,
            fp(x),
            in,
            zero,
            fp(y),
            out),
        "cublasSgemm dense forward rows=" + rows + " in=" + in + " out=" + out);
  }

  // dy (rows,O), w (I,O) -> dx (rows,I) = dy · wᵀ
  private void gemmBackward(
      DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer w, int rows, int in, int out) {
    cublasContext h = ctx.cublas();
    CudaException.checkCublas(
        cublas.cublasSgemm_v2(
            h,
            cublas.CUBLAS_OP_T,
            cublas.CUBLAS_OP_N,
            in,
            rows,
            out,
            one,
            fp(w),
            out,
            fp(dy),
            out,
            zero,
            fp(dx),
            in),
        "cublasSgemm dense backward rows=" + rows + " in=" + in + " out=" + out);
  }

  // ------------------------------------------------------------------------------ forward

  /** Left-pads dims to rank 4 with 1s. */
  private static int[] dims4(Shape s) {
    int r = s.rank();
    if (r > 4) {
      throw new ShapeException("rank " + r + " > 4: " + s);
    }
    int[] d = {1, 1, 1, 1};
    for (int i = 0; i < r; i++) {
      d[4 - r + i] = s.dim(i);
    }
    return d;
  }

  private static int prodDims(Shape s, int from, int to) {
    int p = 1;
    for (int i = from; i < to; i++) {
      p *= s.dim(i);
    }
    return p;
  }

  @Override
  public Forward forward(String input, CamTensor images, Set<String> keep) {
    checkOpen();
    Node in = graph.node(input);
    if (!(in.op() instanceof Op.Input)) {
      throw new SegcamException("'" + input + "' is a " + in.op().type() + " node, not an input");
    }
    if (graph.inputs().size() != 1) {
      throw new SegcamException(
          "the CUDA backend feeds one graph input, this graph has " + graph.inputs());
    }
    if (keep != null) {
      for (String k : keep) {
        graph.node(k); // UnknownNodeException with close names
      }
    }
    CudaTensor img = dev(images, "images");
    Map<String, Shape> shapes = graph.inferShapes(Map.of(input, img.shape()));
    Pass pass = new Pass(shapes);
    try {
      for (Node n : graph.nodes()) {
        CudaTensor v;
        try {
          v = n.op() instanceof Op.Input ? img.retain() : run(n, pass, shapes.get(n.name()));
        } catch (SegcamException e) {
          throw atNode(n, e);
        }
        pass.values.put(n.name(), v);
      }
      return pass;
    } catch (RuntimeException | Error e) {
      pass.close();
      throw e;
    }
  }

  /** The exception with the node named, keeping the types callers act on. */
  private static RuntimeException atNode(Node n, SegcamException e) {
    String where = "node '" + n.name() + "' (" + n.op().type() + ")";
    if (e instanceof dev.segcam.backend.DeviceOutOfMemoryException
        || (e.getMessage() != null && e.getMessage().contains("'" + n.name() + "'"))) {
      return e;
    }
    if (e instanceof CudaException c) {
      CudaException w = new CudaException(where + " on CUDA: " + c.getMessage(), c.code());
      w.initCause(c);
      return w;
    }
    return new SegcamException(where + " on CUDA: " + e.getMessage(), e);
  }

  private CudaTensor run(Node n, Pass pass, Shape out) {
    Op op = n.op();
    Params p = params.get(n.name());
    List<CudaTensor> in = new ArrayList<>();
    for (String i : n.inputs()) {
      in.add(pass.values.get(i));
    }
    if (op instanceof Op.Const) {
      return p.constant.retain();
    }
    if (op instanceof Op.Reshape) {
      return in.get(0).view(out);
    }
    CudaTensor y = alloc(out);
    try {
      int total = out.size();
      if (op instanceof Op.Conv2D
          || op instanceof Op.DepthwiseConv2D
          || op instanceof Op.Conv2DTranspose) {
        ConvGeom g = convGeom(n, in.get(0).shape(), out);
        if (op instanceof Op.Conv2DTranspose) {
          convBackwardData(g, y.buffer(), in.get(0).buffer(), p.filter);
        } else {
          convForward(g, y.buffer(), in.get(0).buffer(), p.filter);
        }
        if (p.bias != null) {
          ops.channel_affine(y.buffer(), y.buffer(), null, p.bias, total, out.dim(3));
        }
      } else if (op instanceof Op.BiasAdd) {
        ops.channel_affine(y.buffer(), in.get(0).buffer(), null, p.bias, total, out.dim(-1));
      } else if (op instanceof Op.BatchNorm) {
        ops.channel_affine(y.buffer(), in.get(0).buffer(), p.scale, p.offset, total, out.dim(-1));
      } else if (op instanceof Op.Activation a) {
        ops.activation_fwd(y.buffer(), in.get(0).buffer(), total, a.kind().ordinal(), a.alpha());
      } else if (op instanceof Op.Softmax) {
        int c = out.dim(-1);
        ops.softmax_fwd(y.buffer(), in.get(0).buffer(), c == 0 ? 0 : total / c, c);
      } else if (op instanceof Op.Pool pool) {
        Shape x = in.get(0).shape();
        ops.pool_fwd(
            y.buffer(),
            in.get(0).buffer(),
            x.dim(0),
            x.dim(1),
            x.dim(2),
            x.dim(3),
            out.dim(1),
            out.dim(2),
            pool.windowH(),
            pool.windowW(),
            pool.strideH(),
            pool.strideW(),
            pool.padding().before(x.dim(1), pool.windowH(), pool.strideH(), 1),
            pool.padding().before(x.dim(2), pool.windowW(), pool.strideW(), 1),
            pool.kind() == Op.PoolKind.MAX);
      } else if (op instanceof Op.SpatialMean) {
        Shape x = in.get(0).shape();
        ctx.kernels()
            .channel_mean(y.buffer(), in.get(0).buffer(), x.dim(0), x.dim(1), x.dim(2), x.dim(3));
      } else if (op instanceof Op.Resize r) {
        Shape x = in.get(0).shape();
        if (r.mode() == Op.ResizeMode.BILINEAR) {
          ctx.kernels()
              .resize_bilinear_fwd(
                  y.buffer(),
                  in.get(0).buffer(),
                  x.dim(0),
                  x.dim(1),
                  x.dim(2),
                  x.dim(3),
                  out.dim(1),
                  out.dim(2),
                  r.alignCorners(),
                  r.halfPixelCenters());
        } else {
          ops.resize_nearest_fwd(
              y.buffer(),
              in.get(0).buffer(),
              x.dim(0),
              x.dim(1),
              x.dim(2),
              x.dim(3),
              out.dim(1),
              out.dim(2),
              r.alignCorners(),
              r.halfPixelCenters());
        }
      } else if (op instanceof Op.Concat c) {
        int a = c.axis();
        int outer = prodDims(out, 0, a);
        int inner = prodDims(out, a + 1, out.rank());
        int offset = 0;
        for (CudaTensor t : in) {
          int len = t.shape().dim(a);
          if (len > 0 && outer > 0 && inner > 0) {
            ops.concat_copy(y.buffer(), t.buffer(), outer, len, inner, out.dim(a), offset, false);
          }
          offset += len;
        }
      } else if (op instanceof Op.Binary b) {
        ops.binary_fwd(
            y.buffer(),
            in.get(0).buffer(),
            in.get(1).buffer(),
            b.kind().ordinal(),
            dims4(out),
            dims4(in.get(0).shape()),
            dims4(in.get(1).shape()));
      } else if (op instanceof Op.Pad pad) {
        Shape x = in.get(0).shape();
        int[] before = new int[4];
        for (int d = 0; d < x.rank(); d++) {
          before[4 - x.rank() + d] = pad.paddings().get(d)[0];
        }
        ops.pad_fwd(y.buffer(), in.get(0).buffer(), pad.value(), dims4(out), dims4(x), before);
      } else if (op instanceof Op.MatMul) {
        Shape x = in.get(0).shape();
        gemmForward(y.buffer(), in.get(0).buffer(), p.weights, x.dim(0), x.dim(1), out.dim(1));
        if (p.bias != null) {
          ops.channel_affine(y.buffer(), y.buffer(), null, p.bias, total, out.dim(1));
        }
      } else {
        throw new UnsupportedOpException(n.name(), op.type(), "no CUDA kernel for this op");
      }
      return y;
    } catch (RuntimeException | Error e) {
      y.close();
      throw e;
    }
  }

  // ------------------------------------------------------------------------------ pass + backward

  /** One forward pass: the value of every node (the backward may need any of them). */
  private final class Pass implements Forward {
    final Map<String, Shape> shapes;
    final Map<String, CudaTensor> values = new LinkedHashMap<>();
    boolean passClosed;

    Pass(Map<String, Shape> shapes) {
      this.shapes = shapes;
    }

    @Override
    public CamTensor value(String node) {
      checkPass();
      CudaTensor v = values.get(node);
      if (v == null) {
        graph.node(node); // UnknownNodeException with close names
        throw new CamException("the forward pass kept no value for node '" + node + "'");
      }
      return v;
    }

    @Override
    public Map<String, CamTensor> backward(Map<String, CamTensor> seeds, List<String> layers) {
      checkPass();
      if (layers == null || layers.isEmpty()) {
        throw new SegcamException("backward: no layers requested");
      }
      if (seeds == null || seeds.isEmpty()) {
        throw new SegcamException("backward: no seeds (output gradients) given");
      }
      return new Backward(this).run(seeds, layers);
    }

    private void checkPass() {
      if (passClosed) {
        throw new IllegalStateException("forward pass is closed");
      }
    }

    @Override
    public void close() {
      if (passClosed) {
        return;
      }
      passClosed = true;
      RuntimeException first = null;
      for (CudaTensor t : values.values()) {
        try {
          t.close();
        } catch (RuntimeException e) {
          first = first == null ? e : first;
        }
      }
      values.clear();
      if (first != null) {
        throw first;
      }
    }
  }

  /** One backward run, mirroring {@link dev.segcam.backend.cpu.CpuBackward}'s rules. */
  private final class Backward {
    final Pass pass;
    final List<Node> nodes = graph.nodes();
    final Map<String, Integer> index = new HashMap<>();
    final CudaTensor[] grad;

    Backward(Pass pass) {
      this.pass = pass;
      for (int i = 0; i < nodes.size(); i++) {
        index.put(nodes.get(i).name(), i);
      }
      grad = new CudaTensor[nodes.size()];
    }

    int index(String name) {
      Integer i = index.get(name);
      if (i == null) {
        graph.node(name); // throws UnknownNodeException
      }
      return i;
    }

    Map<String, CamTensor> run(Map<String, CamTensor> seeds, List<String> layers) {
      int n = nodes.size();
      boolean[] isLayer = new boolean[n];
      for (String l : layers) {
        isLayer[index(l)] = true;
      }
      Map<Integer, CudaTensor> seedAt = new LinkedHashMap<>();
      int batch = -1;
      for (Map.Entry<String, CamTensor> e : seeds.entrySet()) {
        int i = index(e.getKey());
        CudaTensor s = dev(e.getValue(), "seed for '" + e.getKey() + "'");
        batch = checkSeed(nodes.get(i), s, batch);
        seedAt.put(i, s);
      }
      boolean[] visit = BackwardPlan.onPath(graph, index, seeds.keySet(), layers);
      try {
        for (Map.Entry<Integer, CudaTensor> e : seedAt.entrySet()) {
          if (visit[e.getKey()]) {
            accumulate(e.getKey(), e.getValue().retain());
          }
        }
        for (int i = n - 1; i >= 0; i--) {
          if (!visit[i] || grad[i] == null) {
            continue;
          }
          Node node = nodes.get(i);
          List<String> ins = node.inputs();
          boolean[] want = new boolean[ins.size()];
          boolean any = false;
          for (int k = 0; k < ins.size(); k++) {
            want[k] = visit[index.get(ins.get(k))];
            any |= want[k];
          }
          if (any) {
            CudaTensor[] dx;
            try {
              dx = inputGradients(node, grad[i], want);
            } catch (ShapeException e) {
              throw new ShapeException(
                  "backward through node '"
                      + node.name()
                      + "' ("
                      + node.op().type()
                      + ") on CUDA: "
                      + e.getMessage());
            }
            for (int k = 0; k < ins.size(); k++) {
              if (dx[k] != null) {
                CudaTensor d = dx[k];
                dx[k] = null;
                try {
                  accumulate(index.get(ins.get(k)), d);
                } catch (RuntimeException | Error e) {
                  for (CudaTensor rest : dx) {
                    if (rest != null) {
                      rest.close();
                    }
                  }
                  throw e;
                }
              }
            }
          }
          if (!isLayer[i]) {
            grad[i].close();
            grad[i] = null;
          }
        }
        Map<String, CamTensor> out = new LinkedHashMap<>();
        for (String l : layers) {
          int i = index.get(l);
          if (!out.containsKey(l)) {
            out.put(l, grad[i]);
            grad[i] = null;
          }
        }
        return out;
      } finally {
        for (int i = 0; i < n; i++) {
          if (grad[i] != null) {
            grad[i].close();
            grad[i] = null;
          }
        }
      }
    }

    private int checkSeed(Node node, CudaTensor seed, int batch) {
      Shape s = seed.shape();
      if (s.rank() == 0) {
        throw new ShapeException("seed for '" + node.name() + "' has no batch axis: " + s);
      }
      if (batch >= 0 && s.dim(0) != batch) {
        throw new ShapeException(
            "seeds differ in batch: " + batch + " vs " + s.dim(0) + " for '" + node.name() + "'");
      }
      Shape v = pass.values.get(node.name()).shape();
      boolean ok = v.rank() == s.rank() && v.dim(0) > 0 && s.dim(0) % v.dim(0) == 0;
      for (int d = 1; ok && d < s.rank(); d++) {
        ok = v.dim(d) == s.dim(d);
      }
      if (!ok) {
        throw new ShapeException(
            "seed for '"
                + node.name()
                + "' has shape "
                + s
                + ", node value is "
                + v
                + " (seed batch must be a multiple of the value batch)");
      }
      return s.dim(0);
    }

    /** Adds a gradient (whose reference passes to us) into node i's. */
    private void accumulate(int i, CudaTensor dx) {
      Node node = nodes.get(i);
      Shape v = pass.values.get(node.name()).shape();
      if (!sameButBatch(v, dx.shape())) {
        dx.close();
        throw new ShapeException(
            "gradient for '"
                + node.name()
                + "' has shape "
                + dx.shape()
                + " but its value is "
                + v);
      }
      CudaTensor cur = grad[i];
      if (cur == null) {
        grad[i] = dx;
        return;
      }
      try {
        if (!cur.shape().equals(dx.shape())) {
          throw new ShapeException(
              "gradients reaching '"
                  + node.name()
                  + "' differ in shape: "
                  + cur.shape()
                  + " vs "
                  + dx.shape());
        }
        if (!cur.exclusive()) {
          // shared (a caller's seed, a reshape view): sum into a new tensor
          CudaTensor copy = alloc(cur.shape());
          copyDevice(copy.buffer(), cur.buffer(), cur.size());
          cur.close();
          cur = copy;
          grad[i] = cur;
        }
        ops.add_inplace(cur.buffer(), dx.buffer(), cur.size());
      } finally {
        dx.close();
      }
    }

    private boolean sameButBatch(Shape v, Shape g) {
      if (v.rank() != g.rank()) {
        return false;
      }
      for (int d = 1; d < v.rank(); d++) {
        if (v.dim(d) != g.dim(d)) {
          return false;
        }
      }
      return true;
    }

    private CudaTensor value(String name) {
      return pass.values.get(name);
    }

    private CudaTensor[] inputGradients(Node node, CudaTensor dy, boolean[] want) {
      Op op = node.op();
      CudaTensor[] dx = new CudaTensor[node.inputs().size()];
      Shape ds = dy.shape();
      int b = ds.dim(0);
      String in0 = node.inputs().isEmpty() ? null : node.inputs().get(0);
      Params p = params.get(node.name());
      try {
        if (op instanceof Op.Conv2D || op instanceof Op.DepthwiseConv2D) {
          Shape xs = value(in0).shape().withDim(0, b);
          ConvGeom g = convGeom(node, value(in0).shape(), value(node.name()).shape()).withBatch(b);
          dx[0] = alloc(xs);
          convBackwardData(g, dx[0].buffer(), dy.buffer(), p.filter);
        } else if (op instanceof Op.Conv2DTranspose) {
          Shape xs = value(in0).shape().withDim(0, b);
          ConvGeom g = convGeom(node, value(in0).shape(), value(node.name()).shape()).withBatch(b);
          dx[0] = alloc(xs);
          convForward(g, dx[0].buffer(), dy.buffer(), p.filter);
        } else if (op instanceof Op.BiasAdd) {
          dx[0] = dy.retain();
        } else if (op instanceof Op.BatchNorm) {
          dx[0] = alloc(ds);
          ops.channel_scale_bwd(dx[0].buffer(), dy.buffer(), p.scale, ds.size(), ds.dim(-1));
        } else if (op instanceof Op.Activation a) {
          boolean readsInput =
              a.kind() == Op.ActivationKind.RELU
                  || a.kind() == Op.ActivationKind.RELU6
                  || a.kind() == Op.ActivationKind.LEAKY_RELU;
          CudaTensor v = value(readsInput ? in0 : node.name());
          dx[0] = alloc(ds);
          ops.activation_bwd(
              dx[0].buffer(),
              dy.buffer(),
              v.buffer(),
              ds.size(),
              v.size(),
              a.kind().ordinal(),
              a.alpha());
        } else if (op instanceof Op.Softmax) {
          CudaTensor y = value(node.name());
          int c = ds.dim(-1);
          dx[0] = alloc(ds);
          ops.softmax_bwd(dx[0].buffer(), dy.buffer(), y.buffer(), ds.size() / c, y.size() / c, c);
        } else if (op instanceof Op.Pool pool) {
          CudaTensor x = value(in0);
          Shape xv = x.shape();
          int pt = pool.padding().before(xv.dim(1), pool.windowH(), pool.strideH(), 1);
          int pl = pool.padding().before(xv.dim(2), pool.windowW(), pool.strideW(), 1);
          dx[0] = alloc(xv.withDim(0, b));
          if (pool.kind() == Op.PoolKind.MAX) {
            ops.maxpool_bwd(
                dx[0].buffer(),
                dy.buffer(),
                x.buffer(),
                b,
                xv.dim(0),
                xv.dim(1),
                xv.dim(2),
                xv.dim(3),
                ds.dim(1),
                ds.dim(2),
                pool.windowH(),
                pool.windowW(),
                pool.strideH(),
                pool.strideW(),
                pt,
                pl);
          } else {
            ops.avgpool_bwd(
                dx[0].buffer(),
                dy.buffer(),
                b,
                xv.dim(1),
                xv.dim(2),
                xv.dim(3),
                ds.dim(1),
                ds.dim(2),
                pool.windowH(),
                pool.windowW(),
                pool.strideH(),
                pool.strideW(),
                pt,
                pl);
          }
        } else if (op instanceof Op.SpatialMean) {
          Shape xs = value(in0).shape().withDim(0, b);
          dx[0] = alloc(xs);
          ops.spatial_mean_bwd(dx[0].buffer(), dy.buffer(), b, xs.dim(1) * xs.dim(2), xs.dim(3));
        } else if (op instanceof Op.Resize r) {
          Shape xs = value(in0).shape().withDim(0, b);
          dx[0] = alloc(xs);
          if (r.mode() == Op.ResizeMode.BILINEAR) {
            ctx.kernels()
                .resize_bilinear_bwd(
                    dx[0].buffer(),
                    dy.buffer(),
                    b,
                    xs.dim(1),
                    xs.dim(2),
                    xs.dim(3),
                    ds.dim(1),
                    ds.dim(2),
                    r.alignCorners(),
                    r.halfPixelCenters());
          } else {
            ops.resize_nearest_bwd(
                dx[0].buffer(),
                dy.buffer(),
                b,
                xs.dim(1),
                xs.dim(2),
                xs.dim(3),
                ds.dim(1),
                ds.dim(2),
                r.alignCorners(),
                r.halfPixelCenters());
          }
        } else if (op instanceof Op.Concat c) {
          int a = c.axis();
          if (a == 0) {
            throw new NotDifferentiableException(
                "node '"
                    + node.name()
                    + "': Concat along the batch axis is not supported in"
                    + " backward");
          }
          int outer = prodDims(ds, 0, a);
          int inner = prodDims(ds, a + 1, ds.rank());
          int offset = 0;
          for (int k = 0; k < dx.length; k++) {
            Shape xs = value(node.inputs().get(k)).shape().withDim(0, b);
            int len = xs.dim(a);
            if (want[k]) {
              dx[k] = alloc(xs);
              if (len > 0 && outer > 0 && inner > 0) {
                ops.concat_copy(
                    dy.buffer(), dx[k].buffer(), outer, len, inner, ds.dim(a), offset, true);
              }
            }
            offset += len;
          }
        } else if (op instanceof Op.Binary bin) {
          binary(node, bin, dy, want, dx);
        } else if (op instanceof Op.Pad pad) {
          if (pad.paddings().get(0)[0] != 0 || pad.paddings().get(0)[1] != 0) {
            throw new NotDifferentiableException(
                "node '"
                    + node.name()
                    + "': Pad along the batch axis is not supported in backward");
          }
          Shape xs = value(in0).shape().withDim(0, b);
          int[] before = new int[4];
          for (int d = 0; d < xs.rank(); d++) {
            before[4 - xs.rank() + d] = pad.paddings().get(d)[0];
          }
          dx[0] = alloc(xs);
          ops.pad_bwd(dx[0].buffer(), dy.buffer(), dims4(xs), dims4(ds), before);
        } else if (op instanceof Op.MatMul m) {
          Shape w = m.weights().shape();
          dx[0] = alloc(Shape.of(b, w.dim(0)));
          gemmBackward(dx[0].buffer(), dy.buffer(), p.weights, b, w.dim(0), w.dim(1));
        } else if (op instanceof Op.Reshape) {
          dx[0] = dy.view(value(in0).shape().withDim(0, b));
        } else if (op instanceof Op.Input || op instanceof Op.Const) {
          // leaves
        } else {
          throw new NotDifferentiableException(
              "no data gradient for op " + op.type() + " (node '" + node.name() + "')");
        }
        for (int k = 0; k < dx.length; k++) {
          if (!want[k] && dx[k] != null) {
            dx[k].close();
            dx[k] = null;
          }
        }
        return dx;
      } catch (RuntimeException | Error e) {
        for (CudaTensor t : dx) {
          if (t != null) {
            t.close();
          }
        }
        throw e;
      }
    }

    private void binary(Node node, Op.Binary bin, CudaTensor dy, boolean[] want, CudaTensor[] dx) {
      String an = node.inputs().get(0);
      String bn = node.inputs().get(1);
      CudaTensor a = value(an);
      CudaTensor bv = value(bn);
      Shape[] vs = {a.shape(), bv.shape()};
      Shape ds = dy.shape();
      int r = ds.rank();
      int n = -1; // the forward batch: the largest leading dim of full-rank operands
      for (Shape v : vs) {
        if (v.rank() == r) {
          n = Math.max(n, v.dim(0));
        }
      }
      if (n > 0 && ds.dim(0) % n != 0) {
        throw new ShapeException(
            "gradient batch " + ds.dim(0) + " is not a multiple of the forward batch " + n);
      }
      int k = n > 0 ? ds.dim(0) / n : 1;
      for (int side = 0; side < 2; side++) {
        if (!want[side]) {
          continue;
        }
        String name = side == 0 ? an : bn;
        Shape v = vs[side];
        boolean batched =
            !(graph.node(name).op() instanceof Op.Const)
                && v.rank() == r
                && (v.dim(0) == n || n < 0);
        if (!batched && k > 1) {
          throw new NotDifferentiableException(
              "node '"
                  + node.name()
                  + "': operand '"
                  + name
                  + "' "
                  + v
                  + " is broadcast over the batch, so batched targets would mix in its gradient");
        }
        Shape gs = batched ? v.withDim(0, ds.dim(0)) : v;
        dx[side] = alloc(gs);
        ops.binary_bwd(
            dx[side].buffer(),
            dy.buffer(),
            a.buffer(),
            bv.buffer(),
            bin.kind().ordinal(),
            side == 0,
            dims4(gs),
            dims4(ds),
            dims4(a.shape()),
            dims4(bv.shape()));
      }
    }
  }

  private void copyDevice(DeviceBuffer dst, DeviceBuffer src, int floats) {
    CudaException.check(
        org.bytedeco.cuda.global.cudart.cudaMemcpyAsync(
            dst.pointer(),
            src.pointer(),
            4L * floats,
            org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToDevice,
            ctx.stream()),
        "cudaMemcpyAsync device->device " + 4L * floats + " B");
  }

  // ------------------------------------------------------------------------------ CAM steps

  /** (N,H,W,C) or (N,C) as N,H,W,C. */
  private static int[] nhwc(Shape s, String what) {
    if (s.rank() == 4) {
      return s.dims();
    }
    if (s.rank() == 2) {
      return new int[] {s.dim(0), 1, 1, s.dim(1)};
    }
    throw new CamException(what + " must be (N,H,W,C) or (N,C), got " + s);
  }

  private static int targets(int images, int rows, String what) {
    if (images <= 0 || rows % images != 0) {
      throw new CamException(
          what + ": " + rows + " gradient rows are not a multiple of " + images + " images");
    }
    return rows / images;
  }

  private static DeviceBuffer rowsOf(CudaTensor t, int from, int count, int rowFloats) {
    return t.buffer().slice(4L * from * rowFloats, 4L * count * rowFloats);
  }

  private static CpuKernels.ScoreMode kernelMode(SeedMode m) {
    return switch (m) {
      case LINEAR -> CpuKernels.ScoreMode.LOGITS;
      case SOFTMAX -> CpuKernels.ScoreMode.SOFTMAX;
      case SIGMOID -> CpuKernels.ScoreMode.SIGMOID;
    };
  }

  @Override
  public CamTensor scoreSeed(
      CamTensor values, CamTensor masks, int[] classes, SeedMode[] modes, float[] scores) {
    // values (N,oh,ow,C), masks (N*K,oh,ow) -> seed (N*K,oh,ow,C), scores (N*K)
    CudaTensor v = dev(values, "score node values");
    CudaTensor m = dev(masks, "masks");
    int[] d = nhwc(v.shape(), "score node");
    int n = d[0];
    int px = d[1] * d[2];
    int ch = d[3];
    int rows = classes.length;
    int k = targets(n, rows, "scoreSeed");
    if (modes.length != rows || scores.length < rows) {
      throw new CamException(
          "scoreSeed: "
              + rows
              + " classes, "
              + modes.length
              + " modes, "
              + scores.length
              + " scores");
    }
    if (m.size() != rows * px) {
      throw new CamException("masks hold " + m.size() + " values, need " + rows * px);
    }
    Shape ss = v.shape().rank() == 2 ? Shape.of(rows, ch) : Shape.of(rows, d[1], d[2], ch);
    CudaTensor seed = alloc(ss);
    try (DeviceBuffer sc = ctx.arena().floats(rows)) {
      for (int t = 0; t < k; t++) {
        SeedMode mode = SeedChecks.targetMode(classes, modes, t, n, ch);
        int[] cls = Arrays.copyOfRange(classes, t * n, (t + 1) * n);
        ctx.kernels()
            .masked_score_seed(
                sc.slice(4L * t * n, 4L * n),
                rowsOf(seed, t * n, n, px * ch),
                v.buffer(),
                rowsOf(m, t * n, n, px),
                cls,
                n,
                d[1],
                d[2],
                ch,
                kernelMode(mode));
      }
      float[] s = new float[rows];
      sc.download(s); // one small download per frame: the caller reports the scores
      System.arraycopy(s, 0, scores, 0, rows);
      return seed;
    } catch (RuntimeException | Error e) {
      seed.close();
      throw e;
    }
  }

  @Override
  public CamTensor channelMean(CamTensor grads) {
    // grads (R,h,w,C) -> weights (R,C)
    CudaTensor g = dev(grads, "gradients");
    int[] d = nhwc(g.shape(), "gradients");
    CudaTensor out = alloc(Shape.of(d[0], d[3]));
    try {
      ctx.kernels().channel_mean(out.buffer(), g.buffer(), d[0], d[1], d[2], d[3]);
      return out;
    } catch (RuntimeException | Error e) {
      out.close();
      throw e;
    }
  }

  /** A per-target kernel over (acts of N images, the target's N gradient rows) -> N rows. */
  private interface PerTarget {
    void run(DeviceBuffer out, DeviceBuffer acts, DeviceBuffer grads, int n, int h, int w, int c);
  }

  // acts (N,h,w,C), grads (N*K,h,w,C) -> out (N*K, width...)
  private CamTensor perTarget(
      CamTensor acts, CamTensor grads, Shape outRow, String what, PerTarget kernel) {
    CudaTensor a = dev(acts, "activations");
    CudaTensor g = dev(grads, "gradients");
    int[] da = nhwc(a.shape(), "activations");
    int[] dg = nhwc(g.shape(), "gradients");
    if (dg[1] != da[1] || dg[2] != da[2] || dg[3] != da[3]) {
      throw new CamException(
          what + ": gradients " + g.shape() + " do not match activations " + a.shape());
    }
    int n = da[0];
    int k = targets(n, dg[0], what);
    int[] od = outRow.dims();
    od[0] = n * k;
    Shape os = Shape.of(od);
    int rowOut = outRow.size();
    int rowIn = da[1] * da[2] * da[3];
    CudaTensor out = alloc(os);
    try {
      for (int t = 0; t < k; t++) {
        kernel.run(
            rowsOf(out, t * n, n, rowOut),
            a.buffer(),
            rowsOf(g, t * n, n, rowIn),
            n,
            da[1],
            da[2],
            da[3]);
      }
      return out;
    } catch (RuntimeException | Error e) {
      out.close();
      throw e;
    }
  }

  @Override
  public CamTensor gradCamPlusPlusWeights(CamTensor acts, CamTensor grads) {
    // acts (N,h,w,C), grads (N*K,h,w,C) -> weights (N*K,C)
    int c = nhwc(acts.shape(), "activations")[3];
    return perTarget(acts, grads, Shape.of(1, c), "Grad-CAM++", ctx.kernels()::gradcampp_weights);
  }

  @Override
  public CamTensor xGradCamWeights(CamTensor acts, CamTensor grads) {
    // acts (N,h,w,C), grads (N*K,h,w,C) -> weights (N*K,C)
    int c = nhwc(acts.shape(), "activations")[3];
    return perTarget(
        acts,
        grads,
        Shape.of(1, c),
        "XGrad-CAM",
        (o, a, g, n, h, w, ch) ->
            ctx.kernels().xgradcam_weights(o, a, g, n, h, w, ch, XGRADCAM_EPS));
  }

  @Override
  public CamTensor weightedSumRelu(CamTensor acts, CamTensor weights) {
    // acts (N,h,w,C), weights (N*K,C) -> maps (N*K,h,w)
    CudaTensor a = dev(acts, "activations");
    CudaTensor w = dev(weights, "weights");
    int[] da = nhwc(a.shape(), "activations");
    int n = da[0];
    int ch = da[3];
    int px = da[1] * da[2];
    if (w.shape().rank() != 2 || w.shape().dim(1) != ch) {
      throw new CamException("weights " + w.shape() + " do not match activations " + a.shape());
    }
    int rows = w.shape().dim(0);
    int k = targets(n, rows, "weighted sum");
    CudaTensor out = alloc(Shape.of(rows, da[1], da[2]));
    try {
      for (int t = 0; t < k; t++) {
        ctx.kernels()
            .weighted_sum_relu(
                rowsOf(out, t * n, n, px),
                a.buffer(),
                rowsOf(w, t * n, n, ch),
                n,
                da[1],
                da[2],
                ch);
      }
      return out;
    } catch (RuntimeException | Error e) {
      out.close();
      throw e;
    }
  }

  @Override
  public CamTensor elementwiseSumRelu(CamTensor acts, CamTensor grads, boolean reluGrads) {
    // acts (N,h,w,C), grads (N*K,h,w,C) -> maps (N*K,h,w)
    int[] da = nhwc(acts.shape(), "activations");
    return perTarget(
        acts,
        grads,
        Shape.of(1, da[1], da[2]),
        reluGrads ? "LayerCAM" : "HiResCAM",
        (o, a, g, n, h, w, c) ->
            ctx.kernels().elementwise_sum_relu(o, a, g, n, h, w, c, reluGrads));
  }

  @Override
  public CamTensor resizeBilinear(CamTensor maps, int outH, int outW) {
    // maps (R,h,w) -> (R,outH,outW), half-pixel centres
    CudaTensor m = dev(maps, "maps");
    Shape s = m.shape();
    if (s.rank() != 3) {
      throw new CamException("maps must be (R,H,W), got " + s);
    }
    CudaTensor out = alloc(Shape.of(s.dim(0), outH, outW));
    try {
      ctx.kernels()
          .resize_bilinear_fwd(
              out.buffer(), m.buffer(), s.dim(0), s.dim(1), s.dim(2), 1, outH, outW, false, true);
      return out;
    } catch (RuntimeException | Error e) {
      out.close();
      throw e;
    }
  }

  @Override
  public CamTensor normalize(CamTensor maps, Normalization norm) {
    // maps (R,H,W) -> (R,H,W) in [0,1]
    CudaTensor m = dev(maps, "maps");
    Shape s = m.shape();
    if (s.rank() != 3) {
      throw new CamException("maps must be (R,H,W), got " + s);
    }
    CudaTensor out = alloc(s);
    try {
      if (norm.isPerMap()) {
        ctx.kernels().minmax_normalize(out.buffer(), m.buffer(), s.dim(0), s.dim(1), s.dim(2));
      } else {
        ctx.kernels()
            .scale_normalize(out.buffer(), m.buffer(), s.dim(0), s.dim(1), s.dim(2), norm.scale());
      }
      return out;
    } catch (RuntimeException | Error e) {
      out.close();
      throw e;
    }
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    RuntimeException first = null;
    try {
      for (Params p : params.values()) {
        p.close();
      }
      params.clear();
      conv.close();
      ops.close();
    } catch (RuntimeException e) {
      first = e;
    }
    one.close();
    zero.close();
    try {
      ctx.close();
    } catch (RuntimeException e) {
      first = first == null ? e : first;
    }
    if (first != null) {
      throw first;
    }
  }
}
