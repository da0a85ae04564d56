package dev.segcam.kernels;

/**
 * The CAM-step kernels (kernels/seed.cu, channel_mean.cu, weighted_sum.cu, resize.cu, normalize.cu)
 * with the names and argument order of the .cu sources, over a buffer type B: the CUDA launchers
 * implement it on device buffers, {@link HostCamKernels} on host slices through the CPU twins in
 * {@link CpuKernels}. The CAM steps are written once over this interface.
 *
 * @param <B> the buffer type (a device buffer or a host slice); a buffer may be a view of rows
 */
public interface CamKernels<B> {
  // logits (N,H,W,C), mask (N,H,W) -> score (N), seed (N,H,W,C); d = (N,H,W,C)
  void masked_score_seed(
      B score, B seed, B logits, B mask, int[] cls, MapDims d, CpuKernels.ScoreMode mode);

  // logits (P,C) -> labels (P), argmax per pixel as float
  void argmax_channels(B labels, B logits, int P, int C);

  /** See {@link CpuKernels#region_mask}. */
  void region_mask(B mask, B labels, int[] spec, int R, int N, int H, int W);

  // grads (N,H,W,K) -> alpha (N,K)
  void channel_mean(B alpha, B grads, MapDims d);

  // acts (N,H,W,K), grads (N,H,W,K) -> alpha (N,K)
  void gradcampp_weights(B alpha, B acts, B grads, MapDims d);

  // acts (N,H,W,K), grads (N,H,W,K) -> alpha (N,K)
  void xgradcam_weights(B alpha, B acts, B grads, MapDims d, float eps);

  // acts (N,H,W,K), alpha (N,K) -> cam (N,H,W)
  void weighted_sum_relu(B cam, B acts, B alpha, MapDims d);

  // acts (N,H,W,K), grads (N,H,W,K) -> cam (N,H,W)
  void elementwise_sum_relu(B cam, B acts, B grads, MapDims d, boolean reluGrads);

  // in (N,H,W,C) -> out (N,OH,OW,C)
  void resize_bilinear_fwd(B out, B in, ResizeDims d);

  // maps (N,H,W) -> out (N,H,W) in [0,1]
  void minmax_normalize(B out, B maps, int N, int H, int W);

  // maps (N,H,W) -> out (N,H,W) = clamp(maps / scale)
  void scale_normalize(B out, B maps, int N, int H, int W, float scale);
}
