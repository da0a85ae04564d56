package dev.segcam.bench;

import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * Used memory of the current CUDA device (total − free from cudaMemGetInfo), for the soak run. A
 * class of its own so that a CPU run never loads JavaCPP's cudart (which fails without a GPU).
 */
final class DeviceMemory {
  private DeviceMemory() {}

  /** Device memory in use by every process on the device, in MB; NaN when it cannot be read. */
  static double usedMb() {
    try (SizeTPointer free = new SizeTPointer(1);
        SizeTPointer total = new SizeTPointer(1)) {
      if (cudart.cudaMemGetInfo(free, total) != cudart.cudaSuccess) {
        return Double.NaN;
      }
      return (total.get() - free.get()) / 1048576.0;
    }
  }
}
