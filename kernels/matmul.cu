// matmul.cu — the batched product of two activations (TensorFlow's BatchMatMulV2, MatMul of two
// activations, and the Einsum contractions that import as it) and, with other flags, its data
// gradients.
//
//   c[b] = opA(a[b % aBatch]) · opB(b[b % bBatch])        opA(x) = x^T when transA, else x
//
// Shapes: a (aBatch, M, K), or (aBatch, K, M) when transA; b (bBatch, K, N), or (bBatch, N, K) when
// transB; c (batch, M, N), total = batch·M·N. The modulo lets a batched backward (batch K·N over the
// K targets) read forward values of batch N. The gradients of c = opA(a)·opB(b) are products of
// the same kind (host: backend/cuda/CudaMatMulOps):
//   da = dc · opB(b)^T (no transA), opB(b) · dc^T (transA);
//   db = opA(a)^T · dc (no transB), dc^T · opA(a) (transB).
//
// Launch: one thread per output element, block 256, grid-stride loop, grid = min(ceil(total/256),
// 65535) chosen by the host (CudaGraphOps.launchIn); int indexing (the host refuses 2^31 elements).
// Summation order: k = 0, 1, ..., K-1 into one float accumulator starting at 0, products rounded
// before the add (-fmad=false), as the Java twin.
// Twin: dev.segcam.kernels.MatMulKernels.batch_matmul.

extern "C" __global__ void batch_matmul(float* c, const float* a, const float* b, int total, int m,
                                        int n, int k, int aBatch, int bBatch, int transA,
                                        int transB) {
  for (int i = (int)(blockIdx.x * blockDim.x + threadIdx.x); i < total;
       i += (int)(gridDim.x * blockDim.x)) {
    int col = i % n;
    int row = (i / n) % m;
    int bat = i / (m * n);
    const float* ap = a + (bat % aBatch) * m * k;
    const float* bp = b + (bat % bBatch) * k * n;
    // element (row, kk) of opA(a) and (kk, col) of opB(b): start and step along kk
    int aAt = transA ? row : row * k;
    int aStep = transA ? m : 1;
    int bAt = transB ? col * k : col;
    int bStep = transB ? 1 : n;
    float acc = 0.0f;
    for (int kk = 0; kk < k; kk++) {
      acc += ap[aAt] * bp[bAt];
      aAt += aStep;
      bAt += bStep;
    }
    c[i] = acc;
  }
}
