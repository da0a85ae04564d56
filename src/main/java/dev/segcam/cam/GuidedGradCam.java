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
    if (layer == null || method == null) {
      throw new CamException("guided Grad-CAM needs a layer and a method (one was null)");
    }
    return ex.seeded(
        images,
        targets,
        List.of(layer),
        s -> {
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
        });
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
