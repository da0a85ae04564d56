package dev.segcam.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** A failed PTX load says what the JIT said and which driver the PTX needs (issue 12, 10(e)). */
class PtxLoadFailureTest {
  @Test
  void theMessageCarriesTheJitLogsAndTheDriverRequirement() {
    String m =
        PtxModule.loadFailure(
            "cuModuleLoadDataEx(graph_ops) failed: CUDA_ERROR_UNSUPPORTED_PTX_VERSION (222)",
            "ptxas application ptx input, line 9; fatal   : Unsupported .version 9.0\\n",
            "");
    assertTrue(m.contains("UNSUPPORTED_PTX_VERSION"), m);
    assertTrue(m.contains("JIT error log: ptxas application ptx input"), m);
    assertTrue(m.contains("580"), m);
    assertTrue(!m.contains("JIT info log"), m);
  }
}
