package dev.segcam.backend.cuda;

import dev.segcam.kernels.ConvGeometry;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdDataAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.cuda.global.cudnn;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * cuDNN 2-D convolution forward and its data gradient (backward-data), NHWC float32, with a plan
 * per shape: descriptors are built, the algorithm is chosen (cuDNN's heuristics, once) and the
 * workspace size is queried on the first call for a shape, then reused; the workspace itself comes
 * from the context's {@link DeviceArena}. Weights are in cuDNN's NHWC filter layout (F,KH,KW,C/g),
 * see {@link #filterToKrsc}.
 *
 * <p>Precision: {@link Precision#FP32} asks for FMA math only (no TF32 tensor cores), which is what
 * the strict CUDA-vs-CPU tolerance assumes; {@link Precision#TF32} lets cuDNN use tensor cores.
 *
 * <p>cuDNN pads symmetrically. TensorFlow's SAME padding is asymmetric for some strides and sizes
 * (the extra row/column at the bottom/right): a geometry that is not {@link ConvGeometry#symmetric}
 * is refused; the caller pads the input explicitly first ({@link ConvGeometry#padded}).
 */
public final class CudnnConv implements AutoCloseable {
  /** Math mode of the convolutions. */
  public enum Precision {
    FP32,
    TF32
  }

  private final CudaContext ctx;
  private final Precision precision;
  private final Map<ConvGeometry, Plan> plans = new HashMap<>();
  private final FloatPointer one = new FloatPointer(1f);
  private final FloatPointer zero = new FloatPointer(0f);
  private boolean closed;

  public CudnnConv(CudaContext ctx, Precision precision) {
    this.ctx = ctx;
    this.precision = precision;
  }

  /**
   * HWIO (TensorFlow: KH,KW,C/g,F; depthwise KH,KW,C,M read as KH,KW,1,C·M) to cuDNN's NHWC filter
   * layout KRSC (F,KH,KW,C/g). Host-side, once per weight upload.
   *
   * <p>{@code // w (KH,KW,I,F) -> out (F,KH,KW,I)}
   */
  public static float[] filterToKrsc(float[] w, int kh, int kw, int in, int f) {
    if (w.length != kh * kw * in * f) {
      throw new CudaException(
          "filter has "
              + w.length
              + " values, ("
              + kh
              + ","
              + kw
              + ","
              + in
              + ","
              + f
              + ") needs "
              + kh * kw * in * f,
          0);
    }
    float[] out = new float[w.length];
    for (int y = 0; y < kh; y++) {
      for (int x = 0; x < kw; x++) {
        for (int i = 0; i < in; i++) {
          for (int o = 0; o < f; o++) {
            out[((o * kh + y) * kw + x) * in + i] = w[((y * kw + x) * in + i) * f + o];
          }
        }
      }
    }
    return out;
  }

  /** y (N,OH,OW,F) = conv(x (N,H,W,C), w (F,KH,KW,C/g)). Enqueued on the context's stream. */
  public void forward(ConvGeometry s, DeviceBuffer y, DeviceBuffer x, DeviceBuffer w) {
    convolve(s, true, y, x, w);
  }

  /** dx (N,H,W,C) = the data gradient of the convolution, from dy (N,OH,OW,F) and w. */
  public void backwardData(ConvGeometry s, DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer w) {
    convolve(s, false, dx, dy, w);
  }

  /**
   * One direction: forward (in = x on the input grid, out = y on the output grid) or backward-data
   * (in = dy, out = dx). Tries the plan's algorithms in order, skipping those whose workspace
   * cannot be had.
   */
  private void convolve(
      ConvGeometry s, boolean forward, DeviceBuffer out, DeviceBuffer in, DeviceBuffer w) {
    Plan p = plan(s);
    if (!forward && p.bwd == null) {
      chooseBackwardData(s, p);
    }
    Pointer ip = need(forward ? "x" : "dy", in, forward ? s.inputSize() : s.outputSize(), s);
    Pointer wp = need("w", w, s.filterSize(), s);
    Pointer op = need(forward ? "y" : "dx", out, forward ? s.outputSize() : s.inputSize(), s);
    String dir = forward ? "forward" : "backward-data";
    cudnnContext h = ctx.cudnn();
    CudnnAlgos.runFirstThatFits(
        forward ? p.fwd : p.bwd,
        ctx.arena()::alloc,
        (a, ws) -> {
          Pointer wsp = wsPointer(ws);
          int algo = a.algo();
          long bytes = a.workspace();
          int status =
              forward
                  ? cudnn.cudnnConvolutionForward(
                      h, one, p.x, ip, p.w, wp, p.conv, algo, wsp, bytes, zero, p.y, op)
                  : cudnn.cudnnConvolutionBackwardData(
                      h, one, p.w, wp, p.y, ip, p.conv, algo, wsp, bytes, zero, p.x, op);
          CudaException.checkCudnn(status, "cuDNN convolution " + dir + " " + s + " algo " + algo);
        },
        "the " + dir + " convolution " + s + " at " + precision);
  }

  /** Number of shapes planned so far. */
  public synchronized int planCount() {
    return plans.size();
  }

  private static Pointer wsPointer(DeviceBuffer ws) {
    return ws.bytes() == 0 ? null : ws.pointer();
  }

  /** b's device pointer, after checking it holds the floats s needs. */
  private static Pointer need(String name, DeviceBuffer b, long floats, ConvGeometry s) {
    if (b.bytes() < 4 * floats) {
      throw new CudaException(
          name + " holds " + b.bytes() / 4 + " floats, " + s + " needs " + floats, 0);
    }
    return b.pointer();
  }

  private int mathType() {
    return precision == Precision.FP32 ? cudnn.CUDNN_FMA_MATH : cudnn.CUDNN_DEFAULT_MATH;
  }

  private synchronized Plan plan(ConvGeometry s) {
    if (closed) {
      throw new IllegalStateException("CudnnConv is closed");
    }
    Plan p = plans.get(s);
    if (p != null) {
      return p;
    }
    String why = s.unsupportedReason();
    if (why != null || !s.symmetric()) {
      throw new CudaException(
          "cuDNN cannot run " + s + ": " + (why != null ? why : "asymmetric padding"), 0);
    }
    ctx.makeCurrent();
    cudnnContext h = ctx.cudnn();
    p = new Plan();
    try {
      CudaException.checkCudnn(
          cudnn.cudnnCreateTensorDescriptor(p.x), "cudnnCreateTensorDescriptor");
      CudaException.checkCudnn(
          cudnn.cudnnCreateTensorDescriptor(p.y), "cudnnCreateTensorDescriptor");
      CudaException.checkCudnn(
          cudnn.cudnnCreateFilterDescriptor(p.w), "cudnnCreateFilterDescriptor");
      CudaException.checkCudnn(
          cudnn.cudnnCreateConvolutionDescriptor(p.conv), "cudnnCreateConvolutionDescriptor");
      // cuDNN takes dims in NCHW order whatever the memory format.
      CudaException.checkCudnn(
          cudnn.cudnnSetTensor4dDescriptor(
              p.x, cudnn.CUDNN_TENSOR_NHWC, cudnn.CUDNN_DATA_FLOAT, s.n(), s.c(), s.h(), s.w()),
          "cudnnSetTensor4dDescriptor x " + s);
      CudaException.checkCudnn(
          cudnn.cudnnSetFilter4dDescriptor(
              p.w,
              cudnn.CUDNN_DATA_FLOAT,
              cudnn.CUDNN_TENSOR_NHWC,
              s.f(),
              s.c() / s.groups(),
              s.kh(),
              s.kw()),
          "cudnnSetFilter4dDescriptor " + s);
      CudaException.checkCudnn(
          cudnn.cudnnSetConvolution2dDescriptor(
              p.conv,
              s.padT(),
              s.padL(),
              s.sh(),
              s.sw(),
              s.dh(),
              s.dw(),
              cudnn.CUDNN_CROSS_CORRELATION,
              cudnn.CUDNN_DATA_FLOAT),
          "cudnnSetConvolution2dDescriptor " + s);
      CudaException.checkCudnn(
          cudnn.cudnnSetConvolutionGroupCount(p.conv, s.groups()), "cudnnSetConvolutionGroupCount");
      CudaException.checkCudnn(
          cudnn.cudnnSetConvolutionMathType(p.conv, mathType()), "cudnnSetConvolutionMathType");
      int[] n = new int[1], c = new int[1], oh = new int[1], ow = new int[1];
      CudaException.checkCudnn(
          cudnn.cudnnGetConvolution2dForwardOutputDim(p.conv, p.x, p.w, n, c, oh, ow),
          "cudnnGetConvolution2dForwardOutputDim " + s);
      if (oh[0] != s.oh() || ow[0] != s.ow() || c[0] != s.f()) {
        throw new CudaException(
            "cuDNN output "
                + n[0]
                + "x"
                + oh[0]
                + "x"
                + ow[0]
                + "x"
                + c[0]
                + " for "
                + s
                + ", expected "
                + s.oh()
                + "x"
                + s.ow()
                + "x"
                + s.f(),
            0);
      }
      CudaException.checkCudnn(
          cudnn.cudnnSetTensor4dDescriptor(
              p.y, cudnn.CUDNN_TENSOR_NHWC, cudnn.CUDNN_DATA_FLOAT, s.n(), s.f(), oh[0], ow[0]),
          "cudnnSetTensor4dDescriptor y " + s);
      chooseForward(h, s, p);
    } catch (RuntimeException e) {
      p.close();
      throw e;
    }
    plans.put(s, p);
    return p;
  }

  private static final int ALGOS = 8;

  private void chooseForward(cudnnContext h, ConvGeometry s, Plan p) {
    int[] count = new int[1];
    try (cudnnConvolutionFwdAlgoPerf_t perf = new cudnnConvolutionFwdAlgoPerf_t(ALGOS)) {
      CudaException.checkCudnn(
          cudnn.cudnnGetConvolutionForwardAlgorithm_v7(
              h, p.x, p.w, p.conv, p.y, ALGOS, count, perf),
          "cudnnGetConvolutionForwardAlgorithm_v7 " + s);
      p.fwd = order(count[0], false, i -> candidate(perf.getPointer(i)));
    }
  }

  private synchronized void chooseBackwardData(ConvGeometry s, Plan p) {
    int[] count = new int[1];
    try (cudnnConvolutionBwdDataAlgoPerf_t perf = new cudnnConvolutionBwdDataAlgoPerf_t(ALGOS)) {
      CudaException.checkCudnn(
          cudnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(
              ctx.cudnn(), p.w, p.y, p.conv, p.x, ALGOS, count, perf),
          "cudnnGetConvolutionBackwardDataAlgorithm_v7 " + s);
      p.bwd = order(count[0], true, i -> candidate(perf.getPointer(i)));
    }
  }

  /** The count algorithms cuDNN returned (entry i from at), in the order they are tried. */
  private List<CudnnAlgos.Candidate> order(
      int count, boolean backwardData, IntFunction<CudnnAlgos.Candidate> at) {
    List<CudnnAlgos.Candidate> all = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      all.add(at.apply(i));
    }
    return CudnnAlgos.order(all, precision, backwardData);
  }

  private static CudnnAlgos.Candidate candidate(cudnnConvolutionFwdAlgoPerf_t e) {
    return new CudnnAlgos.Candidate(
        e.algo(), e.status(), e.mathType(), e.determinism(), e.memory());
  }

  private static CudnnAlgos.Candidate candidate(cudnnConvolutionBwdDataAlgoPerf_t e) {
    return new CudnnAlgos.Candidate(
        e.algo(), e.status(), e.mathType(), e.determinism(), e.memory());
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (Plan p : plans.values()) {
      p.close();
    }
    plans.clear();
    one.close();
    zero.close();
  }

  /** Descriptors and choices for one shape. */
  private static final class Plan {
    final cudnnTensorStruct x = new cudnnTensorStruct();
    final cudnnTensorStruct y = new cudnnTensorStruct();
    final cudnnFilterStruct w = new cudnnFilterStruct();
    final cudnnConvolutionStruct conv = new cudnnConvolutionStruct();
    List<CudnnAlgos.Candidate> fwd;
    List<CudnnAlgos.Candidate> bwd;

    void close() {
      if (!x.isNull()) {
        cudnn.cudnnDestroyTensorDescriptor(x);
      }
      if (!y.isNull()) {
        cudnn.cudnnDestroyTensorDescriptor(y);
      }
      if (!w.isNull()) {
        cudnn.cudnnDestroyFilterDescriptor(w);
      }
      if (!conv.isNull()) {
        cudnn.cudnnDestroyConvolutionDescriptor(conv);
      }
    }
  }
}
