package dev.segcam.kernels;

/**
 * The sizes of a batch of feature maps (N,H,W,K): what the CAM kernels of seed.cu (logits, K = C
 * classes), channel_mean.cu and weighted_sum.cu take after their buffers, in that order. The {@link
 * CamKernels} implementations take them as this one record; the static twins in {@link CpuKernels}
 * keep the .cu's int arguments.
 */
public record MapDims(int n, int h, int w, int k) {
  /** The dims of an (N,H,W,K) tensor, as an int[4]. */
  public static MapDims of(int[] nhwk) {
    if (nhwk.length != 4) {
      throw new KernelArgumentException("feature maps are (N,H,W,K), got " + nhwk.length + " dims");
    }
    return new MapDims(nhwk[0], nhwk[1], nhwk[2], nhwk[3]);
  }

  /** N, H, W, K in the kernels' order. */
  public int[] args() {
    return new int[] {n, h, w, k};
  }
}
