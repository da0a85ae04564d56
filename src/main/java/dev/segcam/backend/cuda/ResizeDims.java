package dev.segcam.backend.cuda;

import dev.segcam.kernels.KernelArgumentException;

/**
 * The sizes and TensorFlow flags of a resize between the grids (N,H,W,C) and (N,OH,OW,C), in the
 * order the resize kernels of resize.cu take them (after their two buffers).
 */
public record ResizeDims(int n, int h, int w, int c, int oh, int ow, boolean align, boolean half) {

  long small() {
    return (long) n * h * w * c;
  }

  long big() {
    return (long) n * oh * ow * c;
  }

  /**
   * Checks the dims and both buffers of a forward (out on the big grid) or backward (out on the
   * small grid) resize kernel; returns the output's size.
   */
  int check(String kernel, boolean backward, DeviceBuffer out, DeviceBuffer in) {
    if (n <= 0 || h <= 0 || w <= 0 || c <= 0 || oh <= 0 || ow <= 0) {
      throw new KernelArgumentException(kernel + ": dims must be > 0, got " + this);
    }
    long outFloats = backward ? small() : big();
    int total = KernelArgs.count(outFloats, kernel);
    KernelArgs.need(kernel + " out", out, outFloats);
    KernelArgs.need(kernel + " in", in, backward ? big() : small());
    return total;
  }

  /** The kernel's arguments: out, in, N, H, W, C, OH, OW, align, half (as ints). */
  Object[] args(DeviceBuffer out, DeviceBuffer in) {
    return new Object[] {out, in, n, h, w, c, oh, ow, align ? 1 : 0, half ? 1 : 0};
  }
}
