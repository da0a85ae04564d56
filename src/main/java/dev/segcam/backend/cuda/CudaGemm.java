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
    sgemm(cublas.CUBLAS_OP_N, out, rows, in, w, out, x, in, y, out, "forward", rows, in, out);
  }

  // dy (rows,O), w (I,O) -> dx (rows,I) = dy · wᵀ
  void backward(DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer w, int rows, int in, int out) {
    sgemm(cublas.CUBLAS_OP_T, in, rows, out, w, out, dy, out, dx, in, "backward", rows, in, out);
  }

  // C (m,n) = op(A) · B in cuBLAS's column-major terms, B never transposed
  private void sgemm(
      int opA,
      int m,
      int n,
      int k,
      DeviceBuffer a,
      int lda,
      DeviceBuffer b,
      int ldb,
      DeviceBuffer c,
      int ldc,
      String dir,
      int rows,
      int in,
      int out) {
    cublasContext h = ctx.cublas();
    CudaException.checkCublas(
        cublas.cublasSgemm_v2(
            h, opA, cublas.CUBLAS_OP_N, m, n, k, one, fp(a), lda, fp(b), ldb, zero, fp(c), ldc),
        "cublasSgemm dense " + dir + " rows=" + rows + " in=" + in + " out=" + out);
  }

  @Override
  public void close() {
    one.close();
    zero.close();
  }
}
