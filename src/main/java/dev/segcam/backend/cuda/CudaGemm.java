package dev.segcam.backend.cuda;

import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.javacpp.FloatPointer;

/** The CUDA backend's dense layers: cuBLAS SGEMMs on row-major tensors, on the context's stream. */
final class CudaGemm implements AutoCloseable {
  private final CudaContext ctx;
  private final FloatPointer one = new FloatPointer(1f);
  private final FloatPointer zero = new FloatPointer(0f);

  CudaGemm(CudaContext ctx) {
    this.ctx = ctx;
  }

  private static FloatPointer fp(DeviceBuffer b) {
    return new FloatPointer(b.pointer());
  }

  // x (rows,I), w (I,O) -> y (rows,O); row-major is cuBLAS's column-major transposed
  void forward(DeviceBuffer y, DeviceBuffer x, DeviceBuffer w, int rows, int in, int out) {
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
  void backward(DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer w, int rows, int in, int out) {
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

  @Override
  public void close() {
    one.close();
    zero.close();
  }
}
