package dev.segcam.cam;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.CpuKernels;
import java.util.Arrays;

/**
 * The small CAM steps on host tensors, shared by the CPU backend (and by test backends), over the
 * kernels' CPU twins in {@link CpuKernels}; the kernels see one target's N rows at a time, which
 * line up with the N images of the activations. Subclasses supply forward and backward.
 */
public abstract class HostCamBackend implements CamBackend {
  /** XGrad-CAM denominator guard, as in pytorch-grad-cam. */
  public static final float XGRADCAM_EPS = 1e-7f;

  @Override
  public CamTensor upload(FloatTensor host) {
    return CamTensor.host(host);
  }

  static float[] data(CamTensor t) {
    return t.toHost().data();
  }

  /** (N,C) is the 1x1 case of (N,1,1,C). */
  static int[] nhwc(Shape s, String what) {
    if (s.rank() == 4) {
      return s.dims();
    }
    if (s.rank() == 2) {
      return new int[] {s.dim(0), 1, 1, s.dim(1)};
    }
    throw new CamException(what + " must be (N,H,W,C) or (N,C), got " + s);
  }

  private static int rowsPerImage(int actRows, int rows, String what) {
    if (actRows <= 0 || rows % actRows != 0) {
      throw new CamException(
          what + ": " + rows + " gradient rows are not a multiple of " + actRows + " images");
    }
    return rows / actRows;
  }

  @Override
  public CamTensor scoreSeed(
      CamTensor values, CamTensor masks, int[] classes, SeedMode[] modes, float[] scores) {
    // values (N,oh,ow,C), masks (N*K,oh,ow) -> seed (N*K,oh,ow,C), scores (N*K)
    int[] d = nhwc(values.shape(), "score node");
    int n = d[0];
    int px = d[1] * d[2];
    int ch = d[3];
    int rows = classes.length;
    int k = rowsPerImage(n, rows, "scoreSeed");
    float[] v = data(values);
    float[] m = data(masks);
    if (m.length != rows * px) {
      throw new CamException("masks hold " + m.length + " values, need " + rows * px);
    }
    float[] seed = new float[rows * px * ch];
    // one kernel call per target: its N rows line up with the N images of the values
    for (int t = 0; t < k; t++) {
      SeedMode mode = SeedChecks.targetMode(classes, modes, t, n, ch);
      int[] cls = Arrays.copyOfRange(classes, t * n, (t + 1) * n);
      float[] sc = new float[n];
      float[] sd = new float[n * px * ch];
      CpuKernels.masked_score_seed(
          sc,
          sd,
          v,
          Arrays.copyOfRange(m, t * n * px, (t + 1) * n * px),
          cls,
          n,
          d[1],
          d[2],
          ch,
          kernelMode(mode));
      System.arraycopy(sc, 0, scores, t * n, n);
      System.arraycopy(sd, 0, seed, t * n * px * ch, sd.length);
    }
    Shape ss = values.shape().rank() == 2 ? Shape.of(rows, ch) : Shape.of(rows, d[1], d[2], ch);
    return CamTensor.host(new FloatTensor(ss, seed));
  }

  private static CpuKernels.ScoreMode kernelMode(SeedMode m) {
    return switch (m) {
      case LINEAR -> CpuKernels.ScoreMode.LOGITS;
      case SOFTMAX -> CpuKernels.ScoreMode.SOFTMAX;
      case SIGMOID -> CpuKernels.ScoreMode.SIGMOID;
    };
  }

  /** A per-target kernel over (acts of N images, N gradient rows) -> N output rows of width w. */
  private interface PerTarget {
    void run(float[] out, float[] acts, float[] grads, int n, int h, int w, int c);
  }

  // acts (N,h,w,C), grads (N*K,h,w,C) -> out (N*K, width)
  private static float[] perTarget(
      CamTensor acts, CamTensor grads, int width, String what, PerTarget kernel) {
    int[] da = nhwc(acts.shape(), "activations");
    int[] dg = nhwc(grads.shape(), "gradients");
    if (dg[1] != da[1] || dg[2] != da[2] || dg[3] != da[3]) {
      throw new CamException(
          what + ": gradients " + grads.shape() + " do not match activations " + acts.shape());
    }
    int n = da[0];
    int k = rowsPerImage(n, dg[0], what);
    int block = n * da[1] * da[2] * da[3];
    float[] a = data(acts);
    float[] g = data(grads);
    float[] out = new float[n * k * width];
    float[] o = new float[n * width];
    for (int t = 0; t < k; t++) {
      float[] gt = k == 1 ? g : Arrays.copyOfRange(g, t * block, (t + 1) * block);
      kernel.run(o, a, gt, n, da[1], da[2], da[3]);
      System.arraycopy(o, 0, out, t * n * width, n * width);
    }
    return out;
  }

  @Override
  public CamTensor channelMean(CamTensor grads) {
    // grads (R,h,w,C) -> weights (R,C)
    int[] d = nhwc(grads.shape(), "gradients");
    float[] out = new float[d[0] * d[3]];
    CpuKernels.channel_mean(out, data(grads), d[0], d[1], d[2], d[3]);
    return CamTensor.host(new FloatTensor(Shape.of(d[0], d[3]), out));
  }

  @Override
  public CamTensor gradCamPlusPlusWeights(CamTensor acts, CamTensor grads) {
    // acts (N,h,w,C), grads (N*K,h,w,C) -> weights (N*K,C)
    int ch = nhwc(acts.shape(), "activations")[3];
    float[] out = perTarget(acts, grads, ch, "Grad-CAM++", CpuKernels::gradcampp_weights);
    return CamTensor.host(new FloatTensor(Shape.of(out.length / ch, ch), out));
  }

  // acts (N,h,w,C) -> per-image channel sums (N,C)
  private static double[] channelSums(float[] a, int n, int px, int ch) {
    double[] s = new double[n * ch];
    for (int img = 0; img < n; img++) {
      for (int i = 0; i < px; i++) {
        int b = (img * px + i) * ch;
        for (int c = 0; c < ch; c++) {
          s[img * ch + c] += a[b + c];
        }
      }
    }
    return s;
  }

  @Override
  public CamTensor xGradCamWeights(CamTensor acts, CamTensor grads) {
    // acts (N,h,w,C), grads (N*K,h,w,C) -> weights (N*K,C)
    int[] da = nhwc(acts.shape(), "activations");
    int[] dg = nhwc(grads.shape(), "gradients");
    int rows = dg[0];
    rowsPerImage(da[0], rows, "XGrad-CAM");
    int px = da[1] * da[2];
    int ch = da[3];
    float[] a = data(acts);
    float[] g = data(grads);
    double[] sumA = channelSums(a, da[0], px, ch);
    float[] out = new float[rows * ch];
    double[] acc = new double[ch];
    for (int r = 0; r < rows; r++) {
      int img = r % da[0];
      java.util.Arrays.fill(acc, 0);
      for (int i = 0; i < px; i++) {
        int gb = (r * px + i) * ch;
        int ab = (img * px + i) * ch;
        for (int c = 0; c < ch; c++) {
          acc[c] += (double) g[gb + c] * a[ab + c];
        }
      }
      for (int c = 0; c < ch; c++) {
        out[r * ch + c] = (float) (acc[c] / (sumA[img * ch + c] + XGRADCAM_EPS));
      }
    }
    return CamTensor.host(new FloatTensor(Shape.of(rows, ch), out));
  }

  @Override
  public CamTensor weightedSumRelu(CamTensor acts, CamTensor weights) {
    // acts (N,h,w,C), weights (N*K,C) -> maps (N*K,h,w)
    int[] da = nhwc(acts.shape(), "activations");
    int n = da[0];
    int ch = da[3];
    int px = da[1] * da[2];
    int rows = weights.shape().dim(0);
    int k = rowsPerImage(n, rows, "weighted sum");
    float[] w = data(weights);
    float[] out = new float[rows * px];
    float[] o = new float[n * px];
    for (int t = 0; t < k; t++) {
      CpuKernels.weighted_sum_relu(
          o, data(acts), Arrays.copyOfRange(w, t * n * ch, (t + 1) * n * ch), n, da[1], da[2], ch);
      System.arraycopy(o, 0, out, t * n * px, n * px);
    }
    return CamTensor.host(new FloatTensor(Shape.of(rows, da[1], da[2]), out));
  }

  @Override
  public CamTensor elementwiseSumRelu(CamTensor acts, CamTensor grads, boolean reluGrads) {
    // acts (N,h,w,C), grads (N*K,h,w,C) -> maps (N*K,h,w)
    int[] da = nhwc(acts.shape(), "activations");
    int px = da[1] * da[2];
    float[] out =
        perTarget(
            acts,
            grads,
            px,
            reluGrads ? "LayerCAM" : "HiResCAM",
            (o, a, g, n, h, w, c) ->
                CpuKernels.elementwise_sum_relu(o, a, g, n, h, w, c, reluGrads));
    return CamTensor.host(new FloatTensor(Shape.of(out.length / px, da[1], da[2]), out));
  }

  @Override
  public CamTensor resizeBilinear(CamTensor maps, int outH, int outW) {
    // maps (R,h,w) -> (R,outH,outW), half-pixel centres
    Shape s = maps.shape();
    float[] out = new float[s.dim(0) * outH * outW];
    CpuKernels.resize_bilinear_fwd(
        out, data(maps), s.dim(0), s.dim(1), s.dim(2), 1, outH, outW, false, true);
    return CamTensor.host(new FloatTensor(Shape.of(s.dim(0), outH, outW), out));
  }

  @Override
  public CamTensor normalize(CamTensor maps, Normalization norm) {
    // maps (R,H,W) -> (R,H,W) in [0,1]
    Shape s = maps.shape();
    float[] out = new float[s.size()];
    if (norm.isPerMap()) {
      CpuKernels.minmax_normalize(out, data(maps), s.dim(0), s.dim(1), s.dim(2));
    } else {
      CpuKernels.scale_normalize(out, data(maps), s.dim(0), s.dim(1), s.dim(2), norm.scale());
    }
    return CamTensor.host(new FloatTensor(s, out));
  }

  @Override
  public void close() {}
}
