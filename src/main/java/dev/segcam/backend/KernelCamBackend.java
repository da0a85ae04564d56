package dev.segcam.backend;

import dev.segcam.ir.Shape;
import dev.segcam.kernels.CamKernels;
import dev.segcam.kernels.CpuKernels;
import dev.segcam.kernels.MapDims;
import dev.segcam.kernels.ResizeDims;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * The CAM steps of {@link CamBackend} (seed, channel weights per method, weighted sum + ReLU,
 * upsample, normalise) written once over a {@link CamKernels} implementation: the CPU twins on host
 * slices ({@link HostCamBackend}) or the CUDA launchers on device buffers. A backend supplies its
 * tensors (allocation, row views) and its forward and backward.
 *
 * <p>The kernels see one target's N rows at a time, which line up with the N images of the
 * activations (see {@link CamBackend} for the target-major row convention).
 *
 * @param <T> the backend's tensor type
 * @param <B> the kernels' buffer type
 */
public abstract class KernelCamBackend<T extends CamTensor, B> implements CamBackend {
  /** XGrad-CAM denominator guard, as in pytorch-grad-cam. */
  public static final float XGRADCAM_EPS = 1e-7f;

  /** The CAM-step kernels. */
  protected abstract CamKernels<B> stepKernels();

  /** The caller's tensor as one of this backend's, or a typed error naming {@code what}. */
  protected abstract T own(CamTensor t, String what);

  /** A new tensor, owned by the caller. */
  protected abstract T newTensor(Shape shape);

  /** rows [from, from+count) of t, each rowFloats long, as a kernel buffer (a view). */
  protected abstract B rows(T t, int from, int count, int rowFloats);

  private B whole(T t) {
    return rows(t, 0, 1, t.shape().size());
  }

  /** A new tensor filled by {@code fill}; closed if the fill fails. */
  private T filled(Shape shape, Consumer<T> fill) {
    try (Scope scope = new Scope()) {
      T out = scope.own(newTensor(shape));
      fill.accept(out);
      return scope.detach(out);
    }
  }

  /** (N,C) is the 1x1 case of (N,1,1,C). */
  public static int[] nhwc(Shape s, String what) {
    if (s.rank() == 4) {
      return s.dims();
    }
    if (s.rank() == 2) {
      return new int[] {s.dim(0), 1, 1, s.dim(1)};
    }
    throw new CamStepException(what + " must be (N,H,W,C) or (N,C), got " + s);
  }

  static int targets(int images, int rows, String what) {
    if (images <= 0 || rows % images != 0) {
      throw new CamStepException(
          what + ": " + rows + " gradient rows are not a multiple of " + images + " images");
    }
    return rows / images;
  }

  @Override
  public CamTensor scoreSeed(
      CamTensor values, CamTensor masks, int[] classes, SeedMode[] modes, float[] scores) {
    // values (N,oh,ow,C), masks (N*K,oh,ow) -> seed (N*K,oh,ow,C), scores (N*K)
    T v = own(values, "score node values");
    T m = own(masks, "masks");
    int[] d = nhwc(v.shape(), "score node");
    int n = d[0];
    int px = d[1] * d[2];
    int ch = d[3];
    int rows = classes.length;
    int k = SeedChecks.targets(d, m.shape(), classes, modes, scores);
    Shape ss = v.shape().rank() == 2 ? Shape.of(rows, ch) : Shape.of(rows, d[1], d[2], ch);
    // a child scope for the step: the seed is detached, the scores buffer freed
    try (Scope scope = new Scope()) {
      T seed = scope.own(newTensor(ss));
      T sc = scope.own(newTensor(Shape.of(rows)));
      for (int t = 0; t < k; t++) {
        SeedMode mode = SeedChecks.targetMode(classes, modes, t, n, ch);
        stepKernels()
            .masked_score_seed(
                rows(sc, t * n, n, 1),
                rows(seed, t * n, n, px * ch),
                whole(v),
                rows(m, t * n, n, px),
                Arrays.copyOfRange(classes, t * n, (t + 1) * n),
                new MapDims(n, d[1], d[2], ch),
                mode.kernel());
      }
      // one small copy to the host per frame: the caller reports the scores
      System.arraycopy(sc.toHost().data(), 0, scores, 0, rows);
      return scope.detach(seed);
    }
  }

  @Override
  public CamTensor argmaxChannels(CamTensor values) {
    // values (N,h,w,C) -> labels (N,h,w)
    T v = own(values, "model output");
    int[] d = nhwc(v.shape(), "model output");
    return filled(
        Shape.of(d[0], d[1], d[2]),
        out -> stepKernels().argmax_channels(whole(out), whole(v), d[0] * d[1] * d[2], d[3]));
  }

  @Override
  public CamTensor regionMasks(CamTensor labels, int[] spec) {
    // labels (N,h,w), spec (R,6) -> masks (R,h,w)
    T l = own(labels, "label maps");
    Shape s = l.shape();
    if (s.rank() != 3 || spec.length % CpuKernels.REGION_SPEC != 0) {
      throw new CamStepException(
          "regionMasks: labels must be (N,h,w), got " + s + ", spec of " + spec.length + " ints");
    }
    int rows = spec.length / CpuKernels.REGION_SPEC;
    return filled(
        Shape.of(rows, s.dim(1), s.dim(2)),
        out ->
            stepKernels()
                .region_mask(whole(out), whole(l), spec, rows, s.dim(0), s.dim(1), s.dim(2)));
  }

  @Override
  public CamTensor channelMean(CamTensor grads) {
    // grads (R,h,w,C) -> weights (R,C)
    T g = own(grads, "gradients");
    int[] d = nhwc(g.shape(), "gradients");
    return filled(
        Shape.of(d[0], d[3]),
        out -> stepKernels().channel_mean(whole(out), whole(g), MapDims.of(d)));
  }

  /** A per-target kernel over (acts of N images, the target's N gradient rows) -> N rows. */
  private interface PerTarget<B> {
    void run(B out, B acts, B grads, MapDims d);
  }

  // acts (N,h,w,C), grads (N*K,h,w,C) -> out (N*K, outRow...)
  private T perTarget(
      CamTensor acts, CamTensor grads, Shape outRow, String what, PerTarget<B> kernel) {
    T a = own(acts, "activations");
    T g = own(grads, "gradients");
    int[] da = nhwc(a.shape(), "activations");
    int[] dg = nhwc(g.shape(), "gradients");
    if (dg[1] != da[1] || dg[2] != da[2] || dg[3] != da[3]) {
      throw new CamStepException(
          what + ": gradients " + g.shape() + " do not match activations " + a.shape());
    }
    int n = da[0];
    int k = targets(n, dg[0], what);
    int[] od = outRow.dims();
    od[0] = n * k;
    int rowOut = outRow.size();
    int rowIn = da[1] * da[2] * da[3];
    MapDims d = MapDims.of(da);
    return filled(
        Shape.of(od),
        out -> {
          for (int t = 0; t < k; t++) {
            kernel.run(rows(out, t * n, n, rowOut), whole(a), rows(g, t * n, n, rowIn), d);
          }
        });
  }

  @Override
  public CamTensor gradCamPlusPlusWeights(CamTensor acts, CamTensor grads) {
    // acts (N,h,w,C), grads (N*K,h,w,C) -> weights (N*K,C)
    int c = nhwc(acts.shape(), "activations")[3];
    return perTarget(acts, grads, Shape.of(1, c), "Grad-CAM++", stepKernels()::gradcampp_weights);
  }

  @Override
  public CamTensor xGradCamWeights(CamTensor acts, CamTensor grads) {
    // acts (N,h,w,C), grads (N*K,h,w,C) -> weights (N*K,C)
    int c = nhwc(acts.shape(), "activations")[3];
    return perTarget(
        acts,
        grads,
        Shape.of(1, c),
        "XGrad-CAM",
        (o, a, g, d) -> stepKernels().xgradcam_weights(o, a, g, d, XGRADCAM_EPS));
  }

  @Override
  public CamTensor weightedSumRelu(CamTensor acts, CamTensor weights) {
    // acts (N,h,w,C), weights (N*K,C) -> maps (N*K,h,w)
    T a = own(acts, "activations");
    T w = own(weights, "weights");
    int[] da = nhwc(a.shape(), "activations");
    int n = da[0];
    int ch = da[3];
    int px = da[1] * da[2];
    if (w.shape().rank() != 2 || w.shape().dim(1) != ch) {
      throw new CamStepException("weights " + w.shape() + " do not match activations " + a.shape());
    }
    int rows = w.shape().dim(0);
    int k = targets(n, rows, "weighted sum");
    return filled(
        Shape.of(rows, da[1], da[2]),
        out -> {
          for (int t = 0; t < k; t++) {
            stepKernels()
                .weighted_sum_relu(
                    rows(out, t * n, n, px), whole(a), rows(w, t * n, n, ch), MapDims.of(da));
          }
        });
  }

  @Override
  public CamTensor elementwiseSumRelu(CamTensor acts, CamTensor grads, boolean reluGrads) {
    // acts (N,h,w,C), grads (N*K,h,w,C) -> maps (N*K,h,w)
    int[] da = nhwc(acts.shape(), "activations");
    return perTarget(
        acts,
        grads,
        Shape.of(1, da[1], da[2]),
        reluGrads ? "LayerCAM" : "HiResCAM",
        (o, a, g, d) -> stepKernels().elementwise_sum_relu(o, a, g, d, reluGrads));
  }

  private T maps(CamTensor maps) {
    T m = own(maps, "maps");
    if (m.shape().rank() != 3) {
      throw new CamStepException("maps must be (R,H,W), got " + m.shape());
    }
    return m;
  }

  @Override
  public CamTensor resizeBilinear(CamTensor maps, int outH, int outW) {
    // maps (R,h,w) -> (R,outH,outW), half-pixel centres
    T m = maps(maps);
    Shape s = m.shape();
    return filled(
        Shape.of(s.dim(0), outH, outW),
        out ->
            stepKernels()
                .resize_bilinear_fwd(
                    whole(out),
                    whole(m),
                    new ResizeDims(s.dim(0), s.dim(1), s.dim(2), 1, outH, outW, false, true)));
  }

  @Override
  public CamTensor normalize(CamTensor maps, Normalization norm) {
    // maps (R,H,W) -> (R,H,W) in [0,1]
    T m = maps(maps);
    Shape s = m.shape();
    return filled(
        s,
        out -> {
          if (norm.isPerMap()) {
            stepKernels().minmax_normalize(whole(out), whole(m), s.dim(0), s.dim(1), s.dim(2));
          } else {
            stepKernels()
                .scale_normalize(whole(out), whole(m), s.dim(0), s.dim(1), s.dim(2), norm.scale());
          }
        });
  }
}
