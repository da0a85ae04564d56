package dev.segcam.kernels;

import java.util.Arrays;

/**
 * {@link CamKernels} on the host: each call runs the CPU twin in {@link CpuKernels}. A slice that
 * is a view of some rows of a larger array is copied in (inputs) or back (outputs) around the call,
 * since the twins take whole arrays.
 */
public final class HostCamKernels implements CamKernels<HostCamKernels.Slice> {
  /** The one instance (the twins hold no state). */
  public static final HostCamKernels INSTANCE = new HostCamKernels();

  private HostCamKernels() {}

  /** floats [offset, offset+length) of data. */
  public record Slice(float[] data, int offset, int length) {
    public static Slice of(float[] data) {
      return new Slice(data, 0, data.length);
    }

    boolean whole() {
      return offset == 0 && length == data.length;
    }

    float[] in() {
      return whole() ? data : Arrays.copyOfRange(data, offset, offset + length);
    }

    float[] out() {
      return whole() ? data : new float[length];
    }

    void back(float[] o) {
      if (o != data) {
        System.arraycopy(o, 0, data, offset, length);
      }
    }
  }

  @Override
  public void argmax_channels(Slice labels, Slice logits, int P, int C) {
    float[] o = labels.out();
    CpuKernels.argmax_channels(o, logits.in(), P, C);
    labels.back(o);
  }

  @Override
  public void masked_score_seed(
      Slice score,
      Slice seed,
      Slice logits,
      Slice mask,
      int[] cls,
      int N,
      int H,
      int W,
      int C,
      CpuKernels.ScoreMode mode) {
    float[] sc = score.out();
    float[] sd = seed.out();
    CpuKernels.masked_score_seed(sc, sd, logits.in(), mask.in(), cls, N, H, W, C, mode);
    score.back(sc);
    seed.back(sd);
  }

  @Override
  public void channel_mean(Slice alpha, Slice grads, int N, int H, int W, int K) {
    float[] o = alpha.out();
    CpuKernels.channel_mean(o, grads.in(), N, H, W, K);
    alpha.back(o);
  }

  @Override
  public void gradcampp_weights(Slice alpha, Slice acts, Slice grads, int N, int H, int W, int K) {
    float[] o = alpha.out();
    CpuKernels.gradcampp_weights(o, acts.in(), grads.in(), N, H, W, K);
    alpha.back(o);
  }

  @Override
  public void xgradcam_weights(
      Slice alpha, Slice acts, Slice grads, int N, int H, int W, int K, float eps) {
    float[] o = alpha.out();
    CpuKernels.xgradcam_weights(o, acts.in(), grads.in(), N, H, W, K, eps);
    alpha.back(o);
  }

  @Override
  public void weighted_sum_relu(Slice cam, Slice acts, Slice alpha, int N, int H, int W, int K) {
    float[] o = cam.out();
    CpuKernels.weighted_sum_relu(o, acts.in(), alpha.in(), N, H, W, K);
    cam.back(o);
  }

  @Override
  public void elementwise_sum_relu(
      Slice cam, Slice acts, Slice grads, int N, int H, int W, int K, boolean reluGrads) {
    float[] o = cam.out();
    CpuKernels.elementwise_sum_relu(o, acts.in(), grads.in(), N, H, W, K, reluGrads);
    cam.back(o);
  }

  @Override
  public void resize_bilinear_fwd(
      Slice out,
      Slice in,
      int N,
      int H,
      int W,
      int C,
      int OH,
      int OW,
      boolean alignCorners,
      boolean halfPixelCenters) {
    float[] o = out.out();
    ResizeKernels.resize_bilinear_fwd(
        o, in.in(), N, H, W, C, OH, OW, alignCorners, halfPixelCenters);
    out.back(o);
  }

  @Override
  public void minmax_normalize(Slice out, Slice maps, int N, int H, int W) {
    float[] o = out.out();
    CpuKernels.minmax_normalize(o, maps.in(), N, H, W);
    out.back(o);
  }

  @Override
  public void scale_normalize(Slice out, Slice maps, int N, int H, int W, float scale) {
    float[] o = out.out();
    CpuKernels.scale_normalize(o, maps.in(), N, H, W, scale);
    out.back(o);
  }
}
