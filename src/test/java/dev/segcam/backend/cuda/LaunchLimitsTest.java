package dev.segcam.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.kernels.KernelArgumentException;
import org.junit.jupiter.api.Test;

/** Launch limits checked on the host before a launch (issue 12, 10(f) and 10(g)). */
class LaunchLimitsTest {
  @Test
  void rowsBeyondGridYAreATypedErrorNamingTheKernel() {
    assertDoesNotThrow(() -> CudaKernels.checkGrid("channel_mean", 4, CudaKernels.MAX_GRID_Y));
    KernelArgumentException e =
        assertThrows(
            KernelArgumentException.class,
            () -> CudaKernels.checkGrid("channel_mean", 4, CudaKernels.MAX_GRID_Y + 1));
    assertTrue(e.getMessage().contains("channel_mean") && e.getMessage().contains("65536"));
  }

  @Test
  void elementCountsBeyondIntIndexingAreRefused() {
    assertDoesNotThrow(() -> CudaGraphOps.count(1L << 20, "pad_bwd dy"));
    KernelArgumentException e =
        assertThrows(
            KernelArgumentException.class, () -> CudaGraphOps.count(1L << 31, "pad_bwd dy"));
    assertTrue(e.getMessage().contains("pad_bwd dy"), e.getMessage());
  }
}
