package dev.segcam.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.GuidedGradCam;
import dev.segcam.cam.Target;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.RequiresGpu;
import dev.segcam.testing.Tolerance;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The device's label map (argmax) and guided backpropagation on CUDA (kernels/activation.cu
 * guided_relu_bwd inside the batched backward) against the CPU twin, whose guided gradient
 * GuidedBackpropTfTest checks against TensorFlow: K = 2 targets on scene-unet and every model of
 * the zoo, input gradient and Guided Grad-CAM map, every element.
 */
@RequiresGpu
class CudaGuidedTest {
  /**
   * The guided input gradient crosses the whole net: CUDA's cuDNN sums reassociate against the CPU
   * engine's, and a ReLU whose incoming gradient is within rounding of 0 may open on one side only,
   * which moves an element by about that tiny gradient: relative 1e-3, absolute 1e-4 of the map's
   * largest magnitude.
   */
  private static final double RTOL = 1e-3;

  private static final double ATOL_OF_MAX = 1e-4;

  @Test
  void guidedMapsMatchTheCpu() {
    List<String> failures = new ArrayList<>();
    List<String> models = new ArrayList<>();
    models.add("scene-unet");
    CudaCamBackendTest.models().forEach(models::add);
    for (String model : models) {
      Graph g = CudaCamBackendTest.load(model);
      Random rng = new Random(RandomTensors.freshSeed("CudaGuidedTest." + model));
      FloatTensor img = RandomTensors.input(rng, CudaCamBackendTest.inputShape(g, 2));
      List<Target> targets = List.of(Target.image(1), Target.image(0));
      try (Explainer cpu = new Explainer(CpuCamBackend.create(g, 2));
          Explainer cuda = new Explainer(CudaCamBackend.create(g))) {
        String layer = cpu.defaultLayer(targets).layer();
        List<GuidedGradCam.Result> ref =
            GuidedGradCam.explain(cpu, img, targets, layer, CamMethod.GRAD_CAM);
        List<GuidedGradCam.Result> got =
            GuidedGradCam.explain(cuda, img, targets, layer, CamMethod.GRAD_CAM);
        assertEquals(ref.size(), got.size());
        for (int i = 0; i < ref.size(); i++) {
          String what = model + " result " + i;
          try {
            check(what + " guided", ref.get(i).guided(), got.get(i).guided());
            check(
                what + " guided Grad-CAM", ref.get(i).guidedGradCam(), got.get(i).guidedGradCam());
          } catch (AssertionError e) {
            failures.add(e.getMessage());
          }
        }
      }
    }
    CudaCamBackendTest.failIfAny(failures);
  }

  /** The label map on the device (seed.cu argmax_channels) equals the host twin's, exactly. */
  @Test
  void argmaxOnTheDeviceMatchesTheTwin() {
    Graph g = CudaCamBackendTest.load("scene-unet");
    Random rng = new Random(RandomTensors.freshSeed("CudaGuidedTest.argmax"));
    try (CudaCamBackend cuda = CudaCamBackend.create(g)) {
      for (int c : new int[] {1, 4, 124}) {
        FloatTensor logits = RandomTensors.normal(rng, dev.segcam.ir.Shape.of(2, 9, 7, c));
        float[] ref = new float[2 * 9 * 7];
        dev.segcam.kernels.CpuKernels.argmax_channels(ref, logits.data(), ref.length, c);
        try (dev.segcam.backend.CamTensor up = cuda.upload(logits);
            dev.segcam.backend.CamTensor labels = cuda.argmaxChannels(up)) {
          assertEquals(dev.segcam.ir.Shape.of(2, 9, 7), labels.shape());
          Tolerance.SAME.assertClose("labels C=" + c, ref, labels.toHost().data());
        }
      }
    }
  }

  private static void check(String what, FloatTensor ref, FloatTensor got) {
    double max = 0;
    for (float v : ref.data()) {
      max = Math.max(max, Math.abs(v));
    }
    new Tolerance(RTOL, ATOL_OF_MAX * Math.max(max, Float.MIN_NORMAL)).assertClose(what, ref, got);
  }
}
