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

  /** Runs a twin that writes a whole array into the output slice (copied back if a view). */
  private static void write(Slice out, java.util.function.Consumer<float[]> twin) {
    float[] o = out.out();
    twin.accept(o);
    out.back(o);
  }

  @Override
  public void argmax_channels(Slice labels, Slice logits, int P, int C) {
    write(labels, o -> CpuKernels.argmax_channels(o, logits.in(), P, C));
  }

  @Override
  public void region_mask(Slice mask, Slice labels, int[] spec, int R, int N, int H, int W) {
    float[] o = mask.out();
    CpuKernels.region_mask(o, labels.in(), spec, R, N, H, W);
    mask.back(o);
  }

  @Override
  public void masked_score_seed(
      Slice score,
      Slice seed,
      Slice logits,
      Slice mask,
      int[] cls,
      MapDims d,
      CpuKernels.ScoreMode mode) {
    float[] sc = score.out();
    float[] sd = seed.out();
    CpuKernels.masked_score_seed(
        sc, sd, logits.in(), mask.in(), cls, d.n(), d.h(), d.w(), d.k(), mode);
    score.back(sc);
    seed.back(sd);
  }

  @Override
  public void channel_mean(Slice alpha, Slice grads, MapDims d) {
    write(alpha, o -> CpuKernels.channel_mean(o, grads.in(), d.n(), d.h(), d.w(), d.k()));
  }

  @Override
  public void gradcampp_weights(Slice alpha, Slice acts, Slice grads, MapDims d) {
    write(
        alpha,
        o -> CpuKernels.gradcampp_weights(o, acts.in(), grads.in(), d.n(), d.h(), d.w(), d.k()));
  }

  @Override
  public void xgradcam_weights(Slice alpha, Slice acts, Slice grads, MapDims d, float eps) {
    write(
        alpha,
        o ->
            CpuKernels.xgradcam_weights(o, acts.in(), grads.in(), d.n(), d.h(), d.w(), d.k(), eps));
  }

  @Override
  public void weighted_sum_relu(Slice cam, Slice acts, Slice alpha, MapDims d) {
    write(
        cam,
        o -> CpuKernels.weighted_sum_relu(o, acts.in(), alpha.in(), d.n(), d.h(), d.w(), d.k()));
  }

  @Override
  public void elementwise_sum_relu(
      Slice cam, Slice acts, Slice grads, MapDims d, boolean reluGrads) {
    write(
        cam,
        o ->
            CpuKernels.elementwise_sum_relu(
                o, acts.in(), grads.in(), d.n(), d.h(), d.w(), d.k(), reluGrads));
  }

  @Override
  public void resize_bilinear_fwd(Slice out, Slice in, ResizeDims d) {
    write(out, o -> ResizeKernels.resize_bilinear_fwd(o, in.in(), d));
  }

  @Override
  public void minmax_normalize(Slice out, Slice maps, int N, int H, int W) {
    write(out, o -> CpuKernels.minmax_normalize(o, maps.in(), N, H, W));
  }

  @Override
  public void scale_normalize(Slice out, Slice maps, int N, int H, int W, float scale) {
    write(out, o -> CpuKernels.scale_normalize(o, maps.in(), N, H, W, scale));
  }
}
