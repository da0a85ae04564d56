package dev.segcam.cam;

import dev.segcam.backend.CamTensor;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Guided backpropagation (Springenberg et al.) and Guided Grad-CAM (Selvaraju et al.) for
 * segmentation targets: the score S of each target (same seeds as {@link Explainer#explain}) is
 * differentiated down to the input image with guided ReLUs (a ReLU passes the gradient only where
 * its input and the incoming gradient are both positive), and Guided Grad-CAM is that input
 * gradient times the target's upsampled, normalised CAM at the layer.
 *
 * <p>One forward for all targets; two batched backwards (the plain one to the layer for the CAM,
 * the guided one to the input), both on the explainer's backend.
 *
 * <pre>{@code
 * List<GuidedGradCam.Result> r = GuidedGradCam.explain(ex, images, targets, layer, CamMethod.GRAD_CAM);
 * }</pre>
 */
public final class GuidedGradCam {
  private GuidedGradCam() {}

  /**
   * One (image, target).
   *
   * @param cam the CAM at the layer (as {@link Explainer#explain} gives it)
   * @param guided dS/d(input) through guided ReLUs, (H,W,C) like the model's input
   * @param guidedGradCam guided · cam.heatmap(), the heatmap broadcast over the C channels, (H,W,C)
   */
  public record Result(CamResult cam, FloatTensor guided, FloatTensor guidedGradCam) {}

  /**
   * Guided backpropagation and Guided Grad-CAM for every (image, target), image-major as {@link
   * Explainer#explain}.
   *
   * @param images (N,H,W,C) as the model expects them
   * @param method the CAM method whose map multiplies the guided gradient (Grad-CAM in the paper)
   */
  public static List<Result> explain(
      Explainer ex, FloatTensor images, List<Target> targets, String layer, CamMethod method) {
    if (layer == null) {
      throw new CamException("guided Grad-CAM needs a layer (it was null)");
    }
    return explain(ex, images, targets, List.of(layer), method);
  }

  /**
   * {@link #explain(Explainer, FloatTensor, List, String, CamMethod)} at several layers, in {@link
   * Explainer#explain}'s order (image, target, layer); the guided gradient is the same for every
   * layer of an (image, target) (one guided backward).
   */
  public static List<Result> explain(
      Explainer ex,
      FloatTensor images,
      List<Target> targets,
      List<String> layers,
      CamMethod method) {
    return ex.seeded(images, null, targets, layers, true, guidedStep(ex, method));
  }

  /** {@link #explain(Explainer, FloatTensor, List, List, CamMethod)} on a prediction's forward. */
  public static List<Result> explain(
      Explainer ex,
      Prediction prediction,
      List<Target> targets,
      List<String> layers,
      CamMethod method) {
    if (prediction == null) {
      throw new CamException("guided Grad-CAM needs a prediction (it was null)");
    }
    return ex.seeded(null, prediction, targets, layers, true, guidedStep(ex, method));
  }

  /**
   * The step of both explains on the seeded forward: the CAMs, the guided backward, the product.
   */
  private static Explainer.SeededStep<List<Result>> guidedStep(Explainer ex, CamMethod method) {
    if (method == null) {
      throw new CamException("guided Grad-CAM needs a method (it was null)");
    }
    return s -> {
      List<CamResult> cams;
      Map<String, CamTensor> grads = s.fwd().backward(s.seeds(), s.layers());
      try {
        cams = ex.results(s, grads, method);
      } finally {
        grads.values().forEach(CamTensor::close);
      }
      float[] guided;
      Shape gs;
      Map<String, CamTensor> in = s.fwd().guidedBackward(s.seeds(), List.of(s.input()));
      try {
        CamTensor g = in.get(s.input());
        gs = g.shape();
        guided = g.toHost().data();
      } finally {
        in.values().forEach(CamTensor::close);
      }
      return combine(cams, guided, gs, s);
    };
  }

  /** Standard deviations a displayed guided map spans each side of mid-grey. */
  private static final float DISPLAY_STDS = 5f;

  /**
   * A guided map as an image in [0,1], the usual way (Selvaraju et al.'s code, pytorch-grad-cam's
   * deprocess_image): centred on its mean, scaled so {@value #DISPLAY_STDS} standard deviations
   * reach black/white, mid-grey at 0.5, clipped. Three-channel input stays RGB; any other channel
   * count becomes grey from the channel mean.
   *
   * <p>{@code // g (H,W,C) -> (H,W,3) or (H,W,1) in [0,1]}
   */
  public static FloatTensor display(FloatTensor g) {
    int[] d = g.shape().dims();
    if (d.length != 3) {
      throw new CamException("a guided map is (H,W,C), got " + g.shape());
    }
    int c = d[2];
    int oc = c == 3 ? 3 : 1;
    int hw = d[0] * d[1];
    float[] v = new float[hw * oc];
    float[] src = g.data();
    for (int p = 0; p < hw; p++) {
      if (oc == 3) {
        System.arraycopy(src, p * 3, v, p * 3, 3);
      } else {
        double sum = 0;
        for (int q = 0; q < c; q++) {
          sum += src[p * c + q];
        }
        v[p] = (float) (sum / c);
      }
    }
    double mean = 0;
    for (float x : v) {
      mean += x;
    }
    mean /= v.length;
    double var = 0;
    for (float x : v) {
      var += (x - mean) * (x - mean);
    }
    double std = Math.sqrt(var / v.length);
    double scale = std > 0 ? 0.5 / (DISPLAY_STDS * std) : 0;
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) Math.min(1, Math.max(0, 0.5 + (v[i] - mean) * scale));
    }
    return new FloatTensor(Shape.of(d[0], d[1], oc), v);
  }

  // cams image-major (i, t), guided (N*K,H,W,C) target-major -> results image-major
  private static List<Result> combine(
      List<CamResult> cams, float[] guided, Shape gs, Explainer.Seeded s) {
    int h = gs.dim(1);
    int w = gs.dim(2);
    int c = gs.dim(3);
    int per = h * w * c;
    List<Result> out = new ArrayList<>(cams.size());
    for (CamResult cam : cams) {
      int r = cam.targetIndex() * s.n() + cam.image();
      float[] g = new float[per];
      if (!s.empty()[r]) {
        System.arraycopy(guided, r * per, g, 0, per);
      }
      float[] heat = cam.heatmap().data();
      if (heat.length != h * w) {
        throw new CamException(
            "the heatmap is "
                + cam.heatmap().shape()
                + " but the input gradient is "
                + gs
                + "; guided Grad-CAM needs them at the same size");
      }
      float[] prod = new float[per];
      for (int p = 0; p < h * w; p++) {
        for (int q = 0; q < c; q++) {
          prod[p * c + q] = g[p * c + q] * heat[p];
        }
      }
      out.add(
          new Result(
              cam,
              new FloatTensor(Shape.of(h, w, c), g),
              new FloatTensor(Shape.of(h, w, c), prod)));
    }
    return out;
  }
}
