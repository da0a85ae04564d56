package dev.segcam.backend.cuda;

import dev.segcam.backend.BackendProbe;
import dev.segcam.backend.BackendUnavailableException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.cudnn;

/**
 * Everything the CUDA backend holds on one device: the device's primary context, one non-blocking
 * stream on which all our work is ordered, a {@link DeviceArena} on that stream, our {@link
 * CudaKernels}, and cuBLAS / cuDNN handles bound to the stream (created on first use: loading cuDNN
 * costs time and memory that a run without convolutions does not need). One owner, closed once:
 * {@code try (CudaContext cuda = CudaContext.open(0)) { ... }}.
 *
 * <p>Not for concurrent use by several threads; a thread other than the opener calls {@link
 * #makeCurrent()} first (the wrappers here do it themselves).
 */
public final class CudaContext implements AutoCloseable {
  private final int device;
  private final CUstream_st stream;
  private final DeviceArena arena;
  private final String description;
  private CudaKernels kernels;
  private cublasContext cublasHandle;
  private cudnnContext cudnnHandle;
  private boolean closed;

  private CudaContext(int device, CUstream_st stream, String description) {
    this.device = device;
    this.stream = stream;
    this.description = description;
    this.arena = new DeviceArena(stream, this::makeCurrent);
  }

  /**
   * Opens device {@code device}. Throws {@link BackendUnavailableException} with the probe's reason
   * when CUDA cannot be used here (never an UnsatisfiedLinkError).
   */
  public static CudaContext open(int device) {
    BackendProbe.CudaStatus status = BackendProbe.cuda();
    if (!status.available()) {
      throw new BackendUnavailableException(status.describe());
    }
    if (device < 0 || device >= status.deviceCount()) {
      throw new BackendUnavailableException(
          "CUDA device " + device + " requested, " + status.deviceCount() + " present");
    }
    CudaException.check(cudart.cudaSetDevice(device), "cudaSetDevice(" + device + ")");
    // cudaSetDevice makes the primary context current; the driver API (PTX modules) uses it too.
    CudaException.checkDriver(cudart.cuInit(0), "cuInit");
    CUstream_st s = new CUstream_st();
    CudaException.check(
        cudart.cudaStreamCreateWithFlags(s, cudart.cudaStreamNonBlocking),
        "cudaStreamCreateWithFlags");
    return new CudaContext(device, s, status.describe());
  }

  /** Makes this context's device current on the calling thread. */
  public void makeCurrent() {
    checkOpen();
    CudaException.check(cudart.cudaSetDevice(device), "cudaSetDevice(" + device + ")");
  }

  public int device() {
    return device;
  }

  public CUstream_st stream() {
    checkOpen();
    return stream;
  }

  public DeviceArena arena() {
    checkOpen();
    return arena;
  }

  /** Our PTX kernels, loaded on first use. */
  public synchronized CudaKernels kernels() {
    checkOpen();
    if (kernels == null) {
      kernels = new CudaKernels(this);
    }
    return kernels;
  }

  /** The cuBLAS handle (created on first call), in pedantic FP32 math: no TF32 unless asked. */
  public synchronized cublasContext cublas() {
    cublasHandle = handle(cublasHandle, "cuBLAS", cublasContext::new, this::setUpCublas);
    return cublasHandle;
  }

  /** The cuDNN handle (created on first call), bound to our stream. */
  public synchronized cudnnContext cudnn() {
    cudnnHandle = handle(cudnnHandle, "cuDNN", cudnnContext::new, this::setUpCudnn);
    return cudnnHandle;
  }

  private void setUpCublas(cublasContext h) {
    CudaException.checkCublas(cublas.cublasCreate_v2(h), "cublasCreate");
    CudaException.checkCublas(cublas.cublasSetStream_v2(h, stream), "cublasSetStream");
    int math = cublas.CUBLAS_PEDANTIC_MATH;
    CudaException.checkCublas(cublas.cublasSetMathMode(h, math), "cublasSetMathMode");
  }

  private void setUpCudnn(cudnnContext h) {
    CudaException.checkCudnn(cudnn.cudnnCreate(h), "cudnnCreate");
    CudaException.checkCudnn(cudnn.cudnnSetStream(h, stream), "cudnnSetStream");
  }

  /**
   * A library handle: made current first (it belongs to this device: another thread or device may
   * have made another current), created and set up on the first call. A library that cannot be
   * loaded makes the backend unavailable.
   */
  private <H> H handle(H existing, String library, Supplier<H> make, Consumer<H> setUp) {
    checkOpen();
    makeCurrent();
    if (existing != null) {
      return existing;
    }
    try {
      H h = make.get();
      setUp.accept(h);
      return h;
    } catch (LinkageError e) {
      throw new BackendUnavailableException(library + " cannot be loaded: " + e.getMessage(), e);
    }
  }

  /** Waits for all work on the stream; asynchronous kernel errors surface here. */
  public void synchronize(String after) {
    checkOpen();
    CudaException.check(cudart.cudaStreamSynchronize(stream), "stream synchronize after " + after);
  }

  /** The device, driver and runtime, in one line. */
  public String describe() {
    return description;
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("CUDA context is closed");
    }
  }

  /**
   * Waits for the stream, then releases everything in reverse order of creation and reports the
   * first failure. When the wait fails nothing is released and the wait's error is thrown (see
   * {@link CloseOrder}); the context counts as closed either way.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    List<Runnable> releases = new ArrayList<>();
    if (kernels != null) {
      releases.add(kernels::close);
    }
    if (cudnnHandle != null) {
      cudnnContext h = cudnnHandle;
      releases.add(() -> cudnn.cudnnDestroy(h));
    }
    if (cublasHandle != null) {
      cublasContext h = cublasHandle;
      releases.add(() -> cublas.cublasDestroy_v2(h));
    }
    releases.add(arena::close);
    releases.add(() -> cudart.cudaStreamDestroy(stream));
    try {
      CloseOrder.afterSync(
          () -> {
            makeCurrent();
            CudaException.check(
                cudart.cudaStreamSynchronize(stream), "stream synchronize at close");
          },
          releases);
    } finally {
      closed = true;
    }
  }
}
