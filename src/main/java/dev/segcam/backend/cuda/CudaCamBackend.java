package dev.segcam.backend.cuda;

import dev.segcam.SegcamException;
import dev.segcam.backend.Backprop;
import dev.segcam.backend.CamStepException;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.Interpreter;
import dev.segcam.backend.KernelCamBackend;
import dev.segcam.backend.Scope;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.bytedeco.cuda.global.cublas;

/**
 * The CAM backend on one CUDA device: every tensor lives in device memory, from the uploaded images
 * to the normalised maps; only what the caller asks for with {@link CamTensor#toHost()} (and the
 * per-row scores of {@link #scoreSeed}) comes back.
 *
 * <p>Forward and data-gradient backward run over the IR graph node by node, on one stream:
 * convolutions (plain, strided, dilated, grouped/depthwise, transposed) are cuDNN forward and
 * backward-data; dense layers are cuBLAS SGEMMs; everything else is our PTX in {@code
 * kernels/activation.cu, softmax.cu, pool.cu, concat_pad.cu, binary.cu, conv_direct.cu} (pooling,
 * activations and softmax included: TensorFlow's semantics — the asymmetric SAME padding, average
 * pooling over real pixels only, max-pool gradients to the first maximum — and the backward's
 * K-target batches, whose forward values are tiled, are simpler to get exactly right in a kernel
 * than through cuDNN's descriptors). The CAM steps use {@link CudaKernels}. Weights are uploaded
 * once, when the backend is built; a node the backend cannot run is an {@link
 * UnsupportedOpException} then, not at the first frame.
 *
 * <p>Precision: FP32 (default) asks cuDNN for FMA math only and cuBLAS for pedantic math, which is
 * what the strict CUDA-vs-CPU tolerance (1e-5) assumes. TF32 ({@code -Dsegcam.cuda.precision=tf32}
 * or {@link #create(Graph, int, CudnnConv.Precision)}) lets both use tensor cores (tolerance 1e-3).
 * FP16 is not offered.
 *
 * <p>Not thread-safe: one thread drives a backend.
 */
public final class CudaCamBackend extends KernelCamBackend<CudaTensor, DeviceBuffer> {
  private final Graph graph;
  private final CudaContext ctx;
  private final CudnnConv.Precision precision;
  private final CudaGraphOps ops;
  private final CudaConvolution convolution;
  private final CudaGemm gemm;
  private CudaWeights weights;
  private boolean closed;

  private CudaCamBackend(
      Graph graph, CudaContext ctx, CudnnConv.Precision precision, Consumer<String> listener) {
    this.graph = graph;
    this.ctx = ctx;
    this.precision = precision;
    this.ops = new CudaGraphOps(ctx);
    this.convolution =
        new CudaConvolution(
            ctx,
            new CudnnConv(ctx, precision),
            ops,
            CudaConvolution.convModeFromProperty(),
            listener);
    this.gemm = new CudaGemm(ctx);
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

  /** The backend on a given device and precision; cuDNN fallbacks go to the system logger. */
  public static CudaCamBackend create(Graph graph, int device, CudnnConv.Precision precision) {
    return create(graph, device, precision, CudaConvolution.LOG_LISTENER);
  }

  /**
   * The backend on a given device and precision; {@code fallbacks} hears, once per shape, each
   * convolution that cuDNN cannot run and that runs on the direct kernel instead.
   */
  public static CudaCamBackend create(
      Graph graph, int device, CudnnConv.Precision precision, Consumer<String> fallbacks) {
    checkSupported(graph); // before touching the device: an unsupported graph costs nothing
    CudaContext ctx = CudaContext.open(device);
    CudaCamBackend b = null;
    try {
      b = new CudaCamBackend(graph, ctx, precision, fallbacks);
      b.weights = CudaWeights.upload(graph, b, ctx.arena());
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

  /** Throws {@link UnsupportedOpException} for the first node this backend cannot run. */
  public static void checkSupported(Graph g) {
    CudaOpTable.checkSupported(g);
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
    return ctx.describe() + ", " + precision + " math, convolutions " + convolution.mode();
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

  CudaTensor alloc(Shape shape) {
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
      throw new CamStepException(what + " is null");
    }
    if (t instanceof CudaTensor c && c.owner() == this) {
      return c;
    }
    throw new CamStepException(
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

  // ------------------------------------------------------------------------------ forward

  /** Left-pads dims to rank 4 with 1s. */
  static int[] dims4(Shape s) {
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

  static int prodDims(Shape s, int from, int to) {
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
      // every value stays: the backward may read any of them
      Interpreter.forward(
          graph,
          shapes,
          (n, args, out) -> n.op() instanceof Op.Input ? img.retain() : run(n, args, out),
          pass.values,
          name -> true,
          CudaTensor::close);
      return pass;
    } catch (RuntimeException | Error e) {
      pass.close();
      throw e;
    }
  }

  /** One node's forward in a child scope: the output is detached, anything else freed. */
  private CudaTensor run(Node n, List<CudaTensor> in, Shape out) {
    try (Scope scope = new Scope()) {
      CudaStep.Fwd step = new CudaStep.Fwd(this, n, weights.of(n.name()), in, out, scope);
      CudaTensor v = CudaOpTable.TABLE.forward(n.op()).run(step, n.op());
      return v == step.y ? scope.detach(v) : v;
    }
  }

  CudaGraphOps graphOps() {
    return ops;
  }

  CudaConvolution convolution() {
    return convolution;
  }

  CudaGemm gemm() {
    return gemm;
  }

  /** Convolution shapes (and directions) that run on the direct kernel after cuDNN refused. */
  public Set<String> directFallbacks() {
    return convolution.directFallbacks();
  }

  CudaKernels camKernels() {
    return ctx.kernels();
  }

  boolean isConst(String node) {
    return graph.node(node).op() instanceof Op.Const;
  }

  // ------------------------------------------------------------------------------ pass + backward

  /** One forward pass: the value of every node (the backward may need any of them). */
  private final class Pass extends GuidedPass {
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
        throw new CamStepException("the forward pass kept no value for node '" + node + "'");
      }
      return v;
    }

    @Override
    protected Map<String, CamTensor> backward(
        Map<String, CamTensor> seeds, List<String> layers, boolean guided) {
      checkPass();
      Map<String, CudaTensor> own = new LinkedHashMap<>();
      if (seeds != null) {
        for (Map.Entry<String, CamTensor> e : seeds.entrySet()) {
          own.put(e.getKey(), dev(e.getValue(), "seed for '" + e.getKey() + "'"));
        }
      }
      return new LinkedHashMap<>(Backprop.run(graph, own, layers, new Grads(this), guided));
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
      try {
        CloseOrder.all(values.values().stream().map(CloseOrder::closing).toList());
      } finally {
        values.clear();
      }
    }
  }

  /** The CUDA side of a backward run ({@link Backprop}): device tensors and the op table. */
  private final class Grads implements Backprop.Ops<CudaTensor> {
    final Pass pass;

    Grads(Pass pass) {
      this.pass = pass;
    }

    @Override
    public Shape shape(CudaTensor t) {
      return t.shape();
    }

    @Override
    public Shape valueShape(Node node) {
      return pass.values.get(node.name()).shape();
    }

    @Override
    public CudaTensor borrow(CudaTensor seed) {
      return seed.retain();
    }

    @Override
    public CudaTensor[] inputGradients(
        Backprop<CudaTensor> walk, Node node, CudaTensor dy, boolean[] want) {
      // a child scope per node: the gradients are detached, anything else freed
      try (Scope scope = new Scope()) {
        CudaStep.Bwd step =
            new CudaStep.Bwd(
                CudaCamBackend.this, node, weights.of(node.name()), pass.values, dy, want, scope);
        step.guided = walk.guided();
        CudaOpTable.TABLE.backward(node.op()).run(step, node.op());
        for (CudaTensor t : step.dx) {
          if (t != null) {
            scope.detach(t);
          }
        }
        return step.dx;
      }
    }

    @Override
    public CudaTensor add(CudaTensor cur, CudaTensor dx) {
      try {
        if (!cur.exclusive()) {
          // shared (a caller's seed, a reshape view): sum into a new tensor
          CudaTensor copy = alloc(cur.shape());
          copyDevice(copy.buffer(), cur.buffer(), cur.size());
          cur.close();
          cur = copy;
        }
        ops.add_inplace(cur.buffer(), dx.buffer(), cur.size());
        return cur;
      } catch (RuntimeException | Error e) {
        cur.close();
        throw e;
      } finally {
        dx.close();
      }
    }

    @Override
    public CudaTensor handOut(CudaTensor grad) {
      return grad;
    }

    @Override
    public void release(CudaTensor t) {
      t.close();
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
  @Override
  protected CudaKernels stepKernels() {
    return ctx.kernels();
  }

  @Override
  protected CudaTensor own(CamTensor t, String what) {
    return dev(t, what);
  }

  @Override
  protected CudaTensor newTensor(Shape shape) {
    return alloc(shape);
  }

  @Override
  protected DeviceBuffer rows(CudaTensor t, int from, int count, int rowFloats) {
    return t.buffer().slice(4L * from * rowFloats, 4L * count * rowFloats);
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    // the stream may still run kernels that read the weights or the PTX modules: wait first, and
    // close everything even when that fails
    CloseOrder.all(
        List.of(
            () -> ctx.synchronize("closing the CUDA backend"),
            CloseOrder.closing(weights),
            CloseOrder.closing(convolution),
            CloseOrder.closing(gemm),
            CloseOrder.closing(ops),
            CloseOrder.closing(ctx)));
  }
}
