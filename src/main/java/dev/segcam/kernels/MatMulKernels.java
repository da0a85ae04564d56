package dev.segcam.kernels;

import dev.segcam.ir.Contraction;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;

/**
 * Java twin of kernels/matmul.cu (same name; its flat arguments grouped as {@link Operands}): the
 * batched product of two activations, c[b] = opA(a[b % aBatch]) · opB(b[b % bBatch]), summed over k
 * in increasing order into one float. The CPU engine runs {@link #batch_matmul_rows} over ranges of
 * output rows in parallel.
 */
public final class MatMulKernels {
  private MatMulKernels() {}

  /**
   * {@code // a (aBatch,M,K) or (aBatch,K,M) if transA, b (bBatch,K,N) or (bBatch,N,K) if transB ->
   * c (total/(M·N), M, N)}, total = c.length; the kernel takes the flat arguments (c, a, b, total,
   * m, n, k, aBatch, bBatch, transA, transB).
   */
  public static void batch_matmul(float[] c, Operands<float[]> o) {
    batch_matmul_rows(c, o, 0, c.length / o.call().n());
  }

  /** {@link #batch_matmul} on output rows [rowLo, rowHi) of the batch·M rows. */
  public static void batch_matmul_rows(float[] c, Operands<float[]> o, int rowLo, int rowHi) {
    float[] a = o.left();
    float[] b = o.right();
    int aBatch = o.leftBatch();
    int bBatch = o.rightBatch();
    int m = o.call().m();
    int n = o.call().n();
    int k = o.call().k();
    int transA = o.call().transA();
    int transB = o.call().transB();
    int aStep = transA != 0 ? m : 1;
    int bStep = transB != 0 ? 1 : n;
    for (int r = rowLo; r < rowHi; r++) {
      int row = r % m;
      int bat = r / m;
      int aBase = (bat % aBatch) * m * k + (transA != 0 ? row : row * k);
      int bBase = (bat % bBatch) * k * n;
      for (int col = 0; col < n; col++) {
        int aAt = aBase;
        int bAt = bBase + (transB != 0 ? col * k : col);
        float acc = 0f;
        for (int kk = 0; kk < k; kk++) {
          acc += a[aAt] * b[bAt];
          aAt += aStep;
          bAt += bStep;
        }
        c[r * n + col] = acc;
      }
    }
  }

  /**
   * One batch_matmul call of a gradient: whether dy is the left operand (the other is the forward
   * value of the other input), the product's m, n, k and the transpose flags.
   */
  public record Call(boolean dyLeft, int m, int n, int k, int transA, int transB) {}

  /**
   * The call giving the gradient of input {@code side} (0: a, 1: b) of c = opA(a)·opB(b), c (m,n)
   * contracted over k: da = dc·opB(b)^T, or opB(b)·dc^T when adjA; db = opA(a)^T·dc, or dc^T·opA(a)
   * when adjB (TensorFlow's BatchMatMulV2 gradient).
   */
  public static Call gradient(int side, boolean adjA, boolean adjB, int m, int n, int k) {
    if (side == 0) {
      return adjA
          ? new Call(false, k, m, n, flag(adjB), 1)
          : new Call(true, m, k, n, 0, flag(!adjB));
    }
    return adjB ? new Call(true, n, k, m, 1, flag(adjA)) : new Call(false, k, n, m, flag(!adjA), 0);
  }

  /**
   * The operands of one batch_matmul: left (leftBatch,·,·) times right (rightBatch,·,·), each read
   * modulo its batch, with the product's sizes and transpose flags.
   */
  public record Operands<B>(B left, B right, int leftBatch, int rightBatch, Call call) {}

  /** The forward product of {@code op}: c = opA(a)·opB(b), both of g's batch. */
  public static <B> Operands<B> forward(Op.BatchMatMul op, Contraction.Geometry g, B a, B b) {
    Call call = new Call(true, g.m(), g.n(), g.k(), flag(op.adjA()), flag(op.adjB()));
    return new Operands<>(a, b, g.batch(), g.batch(), call);
  }

  /**
   * The product giving the gradient of input {@code side} of {@code op} with inputs of shapes a and
   * b, from dy (dyBatch rows per a's batch row) and the other input's forward value, in the order
   * {@link #gradient(int, boolean, boolean, int, int, int)} says.
   */
  public static <B> Operands<B> gradient(
      Op.BatchMatMul op, int side, Shape a, Shape b, int dyBatch, B dy, B other) {
    Contraction.Geometry g = Contraction.geometry(op, a, b);
    int gradBatch = g.batch() / a.dim(0) * dyBatch;
    Call call = gradient(side, op.adjA(), op.adjB(), g.m(), g.n(), g.k());
    return call.dyLeft()
        ? new Operands<>(dy, other, gradBatch, g.batch(), call)
        : new Operands<>(other, dy, g.batch(), gradBatch, call);
  }

  private static int flag(boolean b) {
    return b ? 1 : 0;
  }
}
