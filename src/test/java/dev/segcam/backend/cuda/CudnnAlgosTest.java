package dev.segcam.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.DeviceOutOfMemoryException;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.cuda.global.cudnn;
import org.junit.jupiter.api.Test;

/**
 * The cuDNN algorithm choice without a GPU: strict FP32 keeps only deterministic GEMM-family
 * algorithms, and at run time an algorithm whose workspace cannot be had is skipped (a fake
 * allocator that runs out of memory above a limit stands in for the device).
 */
class CudnnAlgosTest {
  private static final int OK = cudnn.CUDNN_STATUS_SUCCESS;
  private static final int FMA = cudnn.CUDNN_FMA_MATH;
  private static final int DET = cudnn.CUDNN_DETERMINISTIC;
  private static final int NONDET = cudnn.CUDNN_NON_DETERMINISTIC;

  private static CudnnAlgos.Candidate c(int algo, int math, int det, long ws) {
    return new CudnnAlgos.Candidate(algo, OK, math, det, ws);
  }

  @Test
  void strictFp32AcceptsOnlyDeterministicGemmFamily() {
    List<CudnnAlgos.Candidate> fwd =
        List.of(
            c(cudnn.CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD, FMA, DET, 0),
            c(cudnn.CUDNN_CONVOLUTION_FWD_ALGO_FFT, FMA, DET, 0),
            c(
                cudnn.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
                cudnn.CUDNN_DEFAULT_MATH,
                DET,
                8),
            c(cudnn.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, FMA, DET, 0),
            new CudnnAlgos.Candidate(
                cudnn.CUDNN_CONVOLUTION_FWD_ALGO_GEMM,
                cudnn.CUDNN_STATUS_NOT_SUPPORTED,
                FMA,
                DET,
                0));
    List<CudnnAlgos.Candidate> strict = CudnnAlgos.order(fwd, CudnnConv.Precision.FP32, false);
    assertEquals(2, strict.size(), strict.toString());
    assertEquals(cudnn.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, strict.get(0).algo()); // FMA first
    assertEquals(cudnn.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, strict.get(1).algo());
    // TF32: every successful entry, in the heuristics' order
    assertEquals(4, CudnnAlgos.order(fwd, CudnnConv.Precision.TF32, false).size());

    List<CudnnAlgos.Candidate> bwd =
        List.of(
            c(cudnn.CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, FMA, NONDET, 0),
            c(cudnn.CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD, FMA, DET, 0),
            c(cudnn.CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, FMA, DET, 0));
    List<CudnnAlgos.Candidate> strictBwd = CudnnAlgos.order(bwd, CudnnConv.Precision.FP32, true);
    assertEquals(1, strictBwd.size());
    assertEquals(cudnn.CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, strictBwd.get(0).algo());
  }

  /** A workspace of the fake allocator. */
  private record Ws(long bytes) implements AutoCloseable {
    @Override
    public void close() {}
  }

  @Test
  void anAlgorithmWhoseWorkspaceDoesNotFitIsSkipped() {
    long limit = 1000;
    List<Long> tried = new ArrayList<>();
    List<CudnnAlgos.Candidate> cands =
        List.of(
            c(cudnn.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, FMA, DET, 5000),
            c(cudnn.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, FMA, DET, 0));
    CudnnAlgos.Candidate ran =
        CudnnAlgos.runFirstThatFits(
            cands,
            bytes -> {
              tried.add(bytes);
              if (bytes > limit) {
                throw new DeviceOutOfMemoryException("cuDNN workspace", bytes);
              }
              return new Ws(bytes);
            },
            (a, ws) -> assertTrue(ws.bytes() <= limit),
            "test conv");
    assertEquals(cudnn.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, ran.algo());
    assertEquals(List.of(5000L, 0L), tried);
  }

  @Test
  void noWorkspaceFitsIsACudaErrorSoTheBackendFallsBackToTheDirectKernel() {
    List<CudnnAlgos.Candidate> cands =
        List.of(c(cudnn.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, FMA, DET, 5000));
    CudaException e =
        assertThrows(
            CudaException.class,
            () ->
                CudnnAlgos.runFirstThatFits(
                    cands,
                    bytes -> {
                      throw new DeviceOutOfMemoryException("cuDNN workspace", bytes);
                    },
                    (a, ws) -> {},
                    "test conv"));
    assertTrue(e.getMessage().contains("workspace fits"), e.getMessage());
    assertInstanceOf(DeviceOutOfMemoryException.class, e.getCause());
    assertThrows(
        CudaException.class,
        () -> CudnnAlgos.runFirstThatFits(List.of(), Ws::new, (a, ws) -> {}, "none accepted"));
  }

  @Test
  void aFailingRunIsNotRetriedWithAnotherAlgorithm() {
    List<CudnnAlgos.Candidate> cands =
        List.of(
            c(cudnn.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, FMA, DET, 0),
            c(cudnn.CUDNN_CONVOLUTION_FWD_ALGO_GEMM, FMA, DET, 0));
    assertThrows(
        CudaException.class,
        () ->
            CudnnAlgos.runFirstThatFits(
                cands,
                Ws::new,
                (a, ws) -> {
                  throw new CudaException("launch failed", 1);
                },
                "test conv"));
  }
}
