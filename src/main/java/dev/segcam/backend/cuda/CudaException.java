package dev.segcam.backend.cuda;

import dev.segcam.SegcamException;
import dev.segcam.backend.DeviceOutOfMemoryException;
import java.util.function.Supplier;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.cudnn;
import org.bytedeco.javacpp.BytePointer;

/**
 * A CUDA, cuBLAS or cuDNN call returned an error. Raised right where the call returns, with the
 * call and its arguments in the message, so a failure names the kernel, shape or size involved.
 */
public class CudaException extends SegcamException {
  private final int code;

  public CudaException(String message, int code) {
    super(message);
    this.code = code;
  }

  /** The library's status code. */
  public int code() {
    return code;
  }

  /** Checks a CUDA runtime API result (cudaError_t). */
  public static void check(int err, String what) {
    if (err == cudart.cudaErrorMemoryAllocation) {
      throw new DeviceOutOfMemoryException(what + " failed: out of device memory", -1);
    }
    if (err != cudart.cudaSuccess) {
      throw new CudaException(
          what
              + " failed: "
              + str(cudart.cudaGetErrorName(err))
              + " ("
              + err
              + "): "
              + str(cudart.cudaGetErrorString(err)),
          err);
    }
  }

  /** Checks a CUDA driver API result (CUresult). */
  public static void checkDriver(int res, String what) {
    if (res != cudart.CUDA_SUCCESS) {
      String name = "?";
      String text = "?";
      try (BytePointer n = new BytePointer((org.bytedeco.javacpp.Pointer) null);
          BytePointer s = new BytePointer((org.bytedeco.javacpp.Pointer) null)) {
        if (cudart.cuGetErrorName(res, n) == cudart.CUDA_SUCCESS && !n.isNull()) {
          name = n.getString();
        }
        if (cudart.cuGetErrorString(res, s) == cudart.CUDA_SUCCESS && !s.isNull()) {
          text = s.getString();
        }
      }
      throw new CudaException(what + " failed: " + name + " (" + res + "): " + text, res);
    }
  }

  /** Checks a cuBLAS status. */
  public static void checkCublas(int status, String what) {
    checkLibrary(
        "cuBLAS",
        status,
        cublas.CUBLAS_STATUS_SUCCESS,
        cublas.CUBLAS_STATUS_ALLOC_FAILED,
        what,
        () -> cublas.cublasGetStatusString(status));
  }

  /** Checks a cuDNN status. */
  public static void checkCudnn(int status, String what) {
    checkLibrary(
        "cuDNN",
        status,
        cudnn.CUDNN_STATUS_SUCCESS,
        cudnn.CUDNN_STATUS_ALLOC_FAILED,
        what,
        () -> cudnn.cudnnGetErrorString(status));
  }

  /** A library status: success passes, an allocation failure is out of memory, else an error. */
  private static void checkLibrary(
      String library,
      int status,
      int ok,
      int allocFailed,
      String what,
      Supplier<BytePointer> text) {
    if (status == allocFailed) {
      throw new DeviceOutOfMemoryException(
          what + " failed: " + library + " could not allocate", -1);
    }
    if (status != ok) {
      throw new CudaException(what + " failed: " + str(text.get()) + " (" + status + ")", status);
    }
  }

  private static String str(BytePointer p) {
    return p == null || p.isNull() ? "?" : p.getString();
  }
}
