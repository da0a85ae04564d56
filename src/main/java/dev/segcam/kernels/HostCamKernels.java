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
    maps(alpha, acts, grads, d, CpuKernels::gradcampp_weights);
  }

  @Override
  public void xgradcam_weights(Slice alpha, Slice acts, Slice grads, MapDims d, float eps) {
    maps(
        alpha,
        acts,
        grads,
        d,
        (o, a, g, n, h, w, k) -> CpuKernels.xgradcam_weights(o, a, g, n, h, w, k, eps));
  }

  @Override
  public void weighted_sum_relu(Slice cam, Slice acts, Slice alpha, MapDims d) {
    maps(cam, acts, alpha, d, CpuKernels::weighted_sum_relu);
  }

  @Override
  public void elementwise_sum_relu(
      Slice cam, Slice acts, Slice grads, MapDims d, boolean reluGrads) {
    maps(
        cam,
        acts,
        grads,
        d,
        (o, a, g, n, h, w, k) -> CpuKernels.elementwise_sum_relu(o, a, g, n, h, w, k, reluGrads));
  }

  /** A twin over feature maps: {@code out} from the inputs a and b, all of dims (N,H,W,K). */
  @FunctionalInterface
  private interface MapsTwin {
    void run(float[] out, float[] a, float[] b, int n, int h, int w, int k);
  }

  /** Runs a feature-map twin on slices: the inputs copied in, the output written back. */
  private static void maps(Slice out, Slice a, Slice b, MapDims d, MapsTwin twin) {
    write(out, o -> twin.run(o, a.in(), b.in(), d.n(), d.h(), d.w(), d.k()));
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
