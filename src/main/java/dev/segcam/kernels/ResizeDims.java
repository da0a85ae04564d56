package dev.segcam.kernels;

import static dev.segcam.kernels.KernelArgs.positive;

/**
 * The sizes and TensorFlow flags of a resize between the grids (N,H,W,C) and (N,OH,OW,C): the
 * arguments the kernels of resize.cu take after their two buffers, in that order (N, H, W, C, OH,
 * OW, align_corners, half_pixel_centers), which their Java twins ({@link ResizeKernels}), the CAM
 * kernels' upsample and the CUDA launchers take as this one record. Backward, N is the gradient's
 * batch.
 */
public record ResizeDims(int n, int h, int w, int c, int oh, int ow, boolean align, boolean half) {

  /** The size of the (N,H,W,C) grid. */
  public long small() {
    return (long) n * h * w * c;
  }

  /** The size of the (N,OH,OW,C) grid. */
  public long big() {
    return (long) n * oh * ow * c;
  }

  /** The resize kernels' argument rule (dims > 0, not both coordinate flags), shared with CUDA. */
  public void check() {
    positive("N", n);
    positive("H", h);
    positive("W", w);
    positive("C", c);
    positive("OH", oh);
    positive("OW", ow);
    if (align && half) {
      throw new KernelArgumentException(
          "resize: align_corners and half_pixel_centers cannot both be set (as in TensorFlow), "
              + this);
    }
  }
}
