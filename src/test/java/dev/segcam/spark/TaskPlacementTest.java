package dev.segcam.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.BackendChoice;
import dev.segcam.backend.BackendProbe;
import dev.segcam.backend.BackendUnavailableException;
import org.junit.jupiter.api.Test;

/** Which device a Spark task's frames run on, for every choice, assignment and probe verdict. */
class TaskPlacementTest {
  private static final BackendProbe.CudaStatus NO_GPU =
      new BackendProbe.CudaStatus(false, "no jnicudart … libcuda.so.1", 0, null, 0, 0);
  private static final BackendProbe.CudaStatus TWO_GPUS =
      new BackendProbe.CudaStatus(true, null, 2, "NVIDIA H100", 13000, 13010);
  private static final String[] NONE = new String[0];

  @Test
  void autoTakesTheGpuSparkAssigned() {
    TaskPlacement p = TaskPlacement.choose(BackendChoice.AUTO, new String[] {"1"}, TWO_GPUS);
    assertTrue(p.isCuda());
    assertEquals(1, p.device());
    assertTrue(p.selection().reason().contains("device 1"), p.selection().reason());
  }

  @Test
  void autoWithoutAnAssignedGpuOrWithoutCudaRunsOnTheCpu() {
    TaskPlacement none = TaskPlacement.choose(BackendChoice.AUTO, NONE, TWO_GPUS);
    assertFalse(none.isCuda());
    assertTrue(none.selection().reason().contains("no GPU"), none.selection().reason());
    TaskPlacement broken = TaskPlacement.choose(BackendChoice.AUTO, new String[] {"0"}, NO_GPU);
    assertFalse(broken.isCuda());
    assertTrue(broken.selection().reason().contains("libcuda.so.1"));
  }

  @Test
  void cpuIgnoresAssignedGpus() {
    assertFalse(TaskPlacement.choose(BackendChoice.CPU, new String[] {"0"}, TWO_GPUS).isCuda());
  }

  @Test
  void cudaTakesTheAssignedGpuOrDeviceZeroAndFailsWithoutCuda() {
    assertEquals(
        1, TaskPlacement.choose(BackendChoice.CUDA, new String[] {"1", "0"}, TWO_GPUS).device());
    assertEquals(0, TaskPlacement.choose(BackendChoice.CUDA, NONE, TWO_GPUS).device());
    BackendUnavailableException e =
        assertThrows(
            BackendUnavailableException.class,
            () -> TaskPlacement.choose(BackendChoice.CUDA, new String[] {"0"}, NO_GPU));
    assertTrue(e.getMessage().contains("libcuda.so.1"), e.getMessage());
  }

  @Test
  void addressesThatAreNoDeviceIndexAreNamed() {
    SparkExplainException notIndex =
        assertThrows(
            SparkExplainException.class,
            () -> TaskPlacement.choose(BackendChoice.AUTO, new String[] {"GPU-3f2a"}, TWO_GPUS));
    assertTrue(notIndex.getMessage().contains("GPU-3f2a"), notIndex.getMessage());
    SparkExplainException tooHigh =
        assertThrows(
            SparkExplainException.class,
            () -> TaskPlacement.choose(BackendChoice.AUTO, new String[] {"5"}, TWO_GPUS));
    assertTrue(tooHigh.getMessage().contains("address 5"), tooHigh.getMessage());
  }
}
