package dev.segcam.backend.cuda;

import dev.segcam.backend.DeviceOutOfMemoryException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.LongFunction;
import org.bytedeco.cuda.global.cudnn;

/**
 * Which cuDNN convolution algorithms a plan may run, and in which order; plain Java (the cuDNN
 * constants are compile-time constants), so it is tested without a GPU.
 *
 * <p>Strict FP32 accepts only deterministic algorithms of the GEMM family (forward: implicit,
 * precomputed-implicit and explicit GEMM; backward-data: ALGO_1, the deterministic one), FMA math
 * first: FFT and Winograd change the rounding, and ALGO_0's atomics change the summation order from
 * run to run. TF32 accepts every algorithm the heuristics return, in their order.
 *
 * <p>At run time the algorithms are tried in order, skipping those whose workspace cannot be
 * allocated (as PyTorch's cuDNN convolution does); only when none fits does the convolution fail
 * (and the backend fall back to its direct kernel).
 */
final class CudnnAlgos {
  private CudnnAlgos() {}

  /** One entry of cuDNN's heuristics (cudnnConvolution*AlgoPerf_t). */
  record Candidate(int algo, int status, int math, int determinism, long workspace) {}

  private static final int[] FWD_GEMM = {
    cudnn.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
    cudnn.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
    cudnn.CUDNN_CONVOLUTION_FWD_ALGO_GEMM
  };

  private static final int[] BWD_DATA_GEMM = {cudnn.CUDNN_CONVOLUTION_BWD_DATA_ALGO_1};

  /** The candidates a plan may run, in the order to try them. */
  static List<Candidate> order(
      List<Candidate> all, CudnnConv.Precision precision, boolean backwardData) {
    List<Candidate> fma = new ArrayList<>();
    List<Candidate> other = new ArrayList<>();
    for (Candidate c : all) {
      if (c.status() != cudnn.CUDNN_STATUS_SUCCESS) {
        continue;
      }
      if (precision == CudnnConv.Precision.TF32) {
        fma.add(c);
        continue;
      }
      boolean gemm = contains(backwardData ? BWD_DATA_GEMM : FWD_GEMM, c.algo());
      if (!gemm || c.determinism() != cudnn.CUDNN_DETERMINISTIC) {
        continue;
      }
      (c.math() == cudnn.CUDNN_FMA_MATH ? fma : other).add(c);
    }
    fma.addAll(other);
    return fma;
  }

  private static boolean contains(int[] a, int v) {
    for (int x : a) {
      if (x == v) {
        return true;
      }
    }
    return false;
  }

  /**
   * Runs the first candidate whose workspace can be allocated and returns it; a candidate whose
   * workspace allocation throws {@link DeviceOutOfMemoryException} is skipped.
   *
   * @throws CudaException when no candidate is left (none accepted, or none fits)
   */
  static <W extends AutoCloseable> Candidate runFirstThatFits(
      List<Candidate> candidates,
      LongFunction<W> workspace,
      BiConsumer<Candidate, W> run,
      String what) {
    DeviceOutOfMemoryException last = null;
    for (Candidate c : candidates) {
      W ws;
      try {
        ws = workspace.apply(c.workspace());
      } catch (DeviceOutOfMemoryException e) {
        last = e;
        continue;
      }
      try (W w = ws) {
        run.accept(c, w);
        return c;
      } catch (RuntimeException | Error e) {
        throw e;
      } catch (Exception e) {
        throw new CudaException("closing the workspace of " + what + ": " + e, 0);
      }
    }
    CudaException e =
        new CudaException(
            candidates.isEmpty()
                ? "no accepted cuDNN algorithm for " + what
                : "no cuDNN algorithm for " + what + " whose workspace fits in device memory",
            0);
    if (last != null) {
      e.initCause(last);
    }
    throw e;
  }
}
