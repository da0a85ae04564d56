package dev.segcam.spark;

import dev.segcam.backend.BackendChoice;
import dev.segcam.backend.BackendProbe;

/**
 * Where one Spark task's frames are explained: on the GPU Spark assigned to the task (its {@code
 * gpu} resource address, from {@code spark.task.resource.gpu.amount} and the executor's discovery
 * script), else on the CPU. The rule, per backend choice:
 *
 * <ul>
 *   <li>cpu: the CPU.
 *   <li>auto: the assigned GPU when the task has one and the CUDA probe finds a device; the CPU
 *       (with the reason) when the task has none or CUDA is unusable.
 *   <li>cuda: the assigned GPU, device 0 when Spark assigned none; an error with the probe's reason
 *       when CUDA is unusable.
 * </ul>
 *
 * @param selection the backend and the one-line reason (for the executor log)
 * @param device the CUDA device index, or -1 on the CPU
 */
public record TaskPlacement(BackendChoice.Selection selection, int device) {

  /** The placement for a task given its GPU addresses (empty when none) and a probe verdict. */
  public static TaskPlacement choose(
      BackendChoice choice, String[] gpuAddresses, BackendProbe.CudaStatus probe) {
    if (choice == BackendChoice.CPU) {
      return new TaskPlacement(choice.selectForCam(probe, BackendChoice.CUDA_CAM_BUILT), -1);
    }
    boolean assigned = gpuAddresses != null && gpuAddresses.length > 0;
    if (!assigned && choice == BackendChoice.AUTO) {
      return new TaskPlacement(
          new BackendChoice.Selection(BackendChoice.CPU, "cpu: Spark assigned no GPU to this task"),
          -1);
    }
    BackendChoice.Selection sel = choice.selectForCam(probe, BackendChoice.CUDA_CAM_BUILT);
    if (!sel.isCuda()) {
      return new TaskPlacement(sel, -1);
    }
    int device = assigned ? address(gpuAddresses[0]) : 0;
    if (device >= probe.deviceCount()) {
      throw new SparkExplainException(
          "Spark assigned GPU address "
              + gpuAddresses[0]
              + " but this executor sees "
              + probe.deviceCount()
              + " CUDA device(s); check the discovery script and CUDA_VISIBLE_DEVICES");
    }
    return new TaskPlacement(
        new BackendChoice.Selection(BackendChoice.CUDA, sel.reason() + ", device " + device),
        device);
  }

  public boolean isCuda() {
    return device >= 0;
  }

  private static int address(String a) {
    try {
      int d = Integer.parseInt(a.trim());
      if (d >= 0) {
        return d;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new SparkExplainException(
        "Spark assigned GPU address '"
            + a
            + "', not a CUDA device index; the discovery script must print indices such as"
            + " [\"0\",\"1\"]");
  }
}
