package dev.segcam.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BackendChoiceTest {
  private static final BackendProbe.CudaStatus NO_GPU =
      new BackendProbe.CudaStatus(false, "no jnicudart … libcuda.so.1", 0, null, 0, 0);
  private static final BackendProbe.CudaStatus GPU =
      new BackendProbe.CudaStatus(true, null, 1, "NVIDIA H100", 13000, 13010);

  @Test
  void parsesAnyCaseAndRejectsOthers() {
    assertEquals(BackendChoice.CUDA, BackendChoice.parse(" Cuda "));
    assertEquals(BackendChoice.AUTO, BackendChoice.parse("auto"));
    assertEquals("cpu", BackendChoice.CPU.toString());
    BackendUnavailableException e =
        assertThrows(BackendUnavailableException.class, () -> BackendChoice.parse("tpu"));
    assertTrue(e.getMessage().contains("tpu"), e.getMessage());
  }

  @Test
  void autoFallsBackToCpuWithTheReason() {
    BackendChoice.Selection s = BackendChoice.AUTO.select(NO_GPU);
    assertEquals(BackendChoice.CPU, s.backend());
    assertTrue(s.reason().contains("libcuda.so.1"), s.reason());
    assertEquals(BackendChoice.CUDA, BackendChoice.AUTO.select(GPU).backend());
    assertTrue(BackendChoice.AUTO.select(GPU).reason().contains("H100"));
  }

  @Test
  void javaForcesThePureJavaEngineEvenWithAGpu() {
    assertEquals(BackendChoice.JAVA, BackendChoice.parse("Java"));
    BackendChoice.Selection s = BackendChoice.JAVA.selectForCam(GPU, true);
    assertEquals(BackendChoice.JAVA, s.backend());
    assertTrue(s.javaOnly() && !s.isCuda(), s.toString());
    assertTrue(!BackendChoice.CPU.select(NO_GPU).javaOnly());
    assertTrue(!BackendChoice.AUTO.select(NO_GPU).javaOnly());
  }

  @Test
  void cudaWithoutGpuIsATypedErrorNamingTheReason() {
    BackendUnavailableException e =
        assertThrows(BackendUnavailableException.class, () -> BackendChoice.CUDA.select(NO_GPU));
    assertTrue(e.getMessage().contains("libcuda.so.1"), e.getMessage());
    assertEquals(BackendChoice.CPU, BackendChoice.CPU.select(GPU).backend());
  }

  /** The CAM pipeline's policy (explain, video, bench share it) while no CUDA CAM is built. */
  @Test
  void camPolicyRunsOnCpuUntilTheCudaCamBackendIsBuilt() {
    BackendChoice.Selection auto = BackendChoice.AUTO.selectForCam(GPU, false);
    assertEquals(BackendChoice.CPU, auto.backend());
    assertTrue(auto.reason().startsWith("cpu: "), auto.reason());
    assertTrue(
        auto.reason().contains("H100") && auto.reason().contains("not available in this build"),
        auto.reason());
    BackendUnavailableException e =
        assertThrows(
            BackendUnavailableException.class, () -> BackendChoice.CUDA.selectForCam(GPU, false));
    assertTrue(e.getMessage().contains("use --backend cpu"), e.getMessage());
    assertEquals(BackendChoice.CUDA, BackendChoice.CUDA.selectForCam(GPU, true).backend());
    assertEquals(BackendChoice.CPU, BackendChoice.AUTO.selectForCam(NO_GPU, true).backend());
    assertThrows(
        BackendUnavailableException.class, () -> BackendChoice.CUDA.selectForCam(NO_GPU, true));
  }

  @Test
  void probeIsCachedAndNeverThrows() {
    BackendProbe.CudaStatus a = BackendProbe.cuda();
    assertSame(a, BackendProbe.cuda());
    if (!a.available()) {
      assertFalse(a.reason().isBlank());
      assertTrue(a.reason().length() < 500, a.reason());
      // AUTO on this machine resolves without throwing.
      assertEquals(BackendChoice.CPU, BackendChoice.AUTO.select().backend());
    }
    System.out.println("[probe] " + a.describe());
  }
}
