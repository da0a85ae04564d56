package dev.segcam.conformance;

import dev.segcam.backend.BackendProbe;
import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.SeedMode;
import dev.segcam.backend.cuda.CudaCamBackend;
import dev.segcam.backend.onednn.OneDnnProbe;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import dev.segcam.testing.ModelZoo;
import dev.segcam.testing.TfOracle;
import dev.segcam.testing.Tolerance;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One conformance suite, run unchanged against every {@link CamBackend}: through the interface the
 * CAM pipeline uses (upload, forward, scoreSeed, backward), each backend must reproduce
 * TensorFlow's output, intermediate activations, masked scores and dS/dA for two Seg-Grad-CAM
 * targets batched over one forward, on every zoo model.
 */
class CamBackendConformanceTest {

  /**
   * A backend to hold to TensorFlow's answers, the tolerance it is held to, and why it cannot run
   * here (null when it can).
   */
  record BackendUnderTest(
      String name,
      Function<Graph, CamBackend> open,
      Tolerance tolerance,
      Supplier<String> unavailable) {
    @Override
    public String toString() {
      return name;
    }
  }

  /**
   * Every backend of this build. oneDNN (the CPU op table over oneDNN primitives, the rest on the
   * Java engine) is held to the CPU tolerance and skipped with its probe's reason where the native
   * library cannot load (run anyway with -Dsegcam.onednn.required=true). CUDA is held to its
   * strict-FP32 tolerance against TF and skipped, with the probe's reason, where no GPU is present
   * (run anyway with -Dsegcam.gpu.required=true).
   */
  static List<BackendUnderTest> backends() {
    return List.of(
        new BackendUnderTest("cpu", CpuCamBackend::create, Tolerance.CPU_VS_TF, () -> null),
        new BackendUnderTest(
            "onednn",
            g -> CpuCamBackend.createOneDnn(g, Runtime.getRuntime().availableProcessors()),
            Tolerance.CPU_VS_TF,
            () -> {
              OneDnnProbe.Status s = OneDnnProbe.status();
              return s.available() || Boolean.getBoolean("segcam.onednn.required")
                  ? null
                  : s.describe();
            }),
        new BackendUnderTest(
            "cuda",
            CudaCamBackend::create,
            Tolerance.CUDA_FP32_VS_TF,
            () -> {
              BackendProbe.CudaStatus cuda = BackendProbe.cuda();
              return cuda.available() || Boolean.getBoolean("segcam.gpu.required")
                  ? null
                  : "no GPU: " + cuda.describe();
            }));
  }

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (BackendUnderTest b : backends()) {
      for (String m : ModelZoo.NAMES) {
        out.add(Arguments.of(b, m));
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void backendMatchesTensorFlow(BackendUnderTest b, String name) {
    String unavailable = b.unavailable().get();
    Assumptions.assumeTrue(unavailable == null, unavailable);
    Tolerance tol = b.tolerance();
    String what = b.name() + " " + name;
    try (Conformance c =
            Conformance.of(name, Conformance.batch(name), "CamBackendConformanceTest." + b.name());
        CamBackend be = b.open().apply(c.graph);
        CamTensor x = be.upload(c.input);
        CamBackend.Forward f = be.forward(c.inputNode, x, keep(c))) {
      FloatTensor y = f.value(c.outputNode).toHost();
      TfOracle.Run ref0 = c.tf.run(c.input, new FloatTensor(y.shape(), new float[y.size()]));
      tol.assertClose(what + " output", ref0.output(), y);
      for (Map.Entry<String, String> e : c.irNames.entrySet()) {
        tol.assertClose(
            what + " " + e.getKey() + " (IR node " + e.getValue() + ")",
            ref0.values().get(e.getKey()),
            f.value(e.getValue()).toHost());
      }
      int classes = y.shape().dim(y.shape().rank() - 1);
      List<SeedMode> modes = new ArrayList<>(List.of(SeedMode.LINEAR));
      if (!c.graph.node(c.outputNode).op().type().equals("Softmax")) {
        modes.add(classes == 1 ? SeedMode.SIGMOID : SeedMode.SOFTMAX);
      }
      for (SeedMode mode : modes) {
        TfOracle.Score score = TfOracle.Score.valueOf(mode.name());
        if (mode == SeedMode.LINEAR) {
          checkTargets(what + " " + mode, tol, c, c.tf, be, f, y, mode);
        } else {
          try (TfOracle tf =
              TfOracle.load(c.model.dir(), "output", c.model.intermediates(), score)) {
            checkTargets(what + " " + mode, tol, c, tf, be, f, y, mode);
          }
        }
      }
    }
  }

  /**
   * Two targets as one batch of seeds: target 0 scores class 1 (the foreground of a single-channel
   * output) on the upper-left quarter of the map, target 1 the last class (background) on a random
   * mask. Checks scoreSeed's scores and the batched backward against TF, target by target.
   */
  private static void checkTargets(
      String what,
      Tolerance tol,
      Conformance c,
      TfOracle tf,
      CamBackend be,
      CamBackend.Forward f,
      FloatTensor y,
      SeedMode mode) {
    Shape ys = y.shape();
    int n = ys.dim(0);
    int classes = ys.dim(ys.rank() - 1);
    int px = ys.size() / (n * classes);
    int h = ys.rank() == 4 ? ys.dim(1) : 1;
    int w = ys.rank() == 4 ? ys.dim(2) : 1;
    float[] masks = new float[2 * n * px];
    for (int p = 0; p < n * px; p++) {
      int q = p % px;
      masks[p] = q / w < (h + 1) / 2 && q % w < (w + 1) / 2 ? 1f : 0f;
      masks[n * px + p] = c.rng.nextFloat() < 0.3f || q == 0 ? 1f : 0f;
    }
    int[] targetClass = {classes == 1 ? 1 : 1 % classes, classes - 1};
    int[] cls = new int[2 * n];
    SeedMode[] modes = new SeedMode[2 * n];
    for (int r = 0; r < 2 * n; r++) {
      cls[r] = targetClass[r / n];
      modes[r] = mode;
    }
    float[] scores = new float[2 * n];
    List<String> layers = new ArrayList<>(c.irNames.values());
    try (CamTensor m = be.upload(new FloatTensor(Shape.of(2 * n, h, w), masks));
        CamTensor seed = be.scoreSeed(f.value(c.outputNode), m, cls, modes, scores)) {
      Map<String, CamTensor> grads = f.backward(Map.of(c.outputNode, seed), layers);
      try {
        for (int k = 0; k < 2; k++) {
          // S = sum(ref * f(y)) (+ |M| for the background of a sigmoid: 1 - sigmoid(z))
          float[] ref = new float[ys.size()];
          float[] offset = new float[n];
          for (int p = 0; p < n * px; p++) {
            if (masks[k * n * px + p] != 0f) {
              boolean background = classes == 1 && targetClass[k] == 0;
              ref[p * classes + (classes == 1 ? 0 : targetClass[k])] = background ? -1f : 1f;
              if (background && mode == SeedMode.SIGMOID) {
                offset[p / px] += 1f;
              }
            }
          }
          TfOracle.Run run = tf.run(c.input, new FloatTensor(ys, ref));
          float[] want = perImageScores(run.scored(), new FloatTensor(ys, ref));
          for (int i = 0; i < n; i++) {
            want[i] += offset[i];
          }
          tol.assertClose(what + " target " + k + " scores", want, slice(scores, k * n, n));
          for (Map.Entry<String, String> e : c.irNames.entrySet()) {
            tol.assertClose(
                what + " target " + k + " dS/d " + e.getKey() + " (IR node " + e.getValue() + ")",
                run.grads().get(e.getKey()),
                rows(grads.get(e.getValue()).toHost(), k, 2));
          }
        }
      } finally {
        grads.values().forEach(CamTensor::close);
      }
    }
  }

  private static Set<String> keep(Conformance c) {
    Set<String> keep = new HashSet<>(c.irNames.values());
    keep.add(c.outputNode);
    return keep;
  }

  // y (N,...), seed (N,...) -> S (N)
  private static float[] perImageScores(FloatTensor y, FloatTensor seed) {
    int n = y.shape().dim(0);
    int per = y.size() / n;
    float[] s = new float[n];
    for (int i = 0; i < n; i++) {
      double acc = 0;
      for (int j = i * per; j < (i + 1) * per; j++) {
        acc += (double) y.data()[j] * seed.data()[j];
      }
      s[i] = (float) acc;
    }
    return s;
  }

  private static float[] slice(float[] a, int from, int len) {
    float[] r = new float[len];
    System.arraycopy(a, from, r, 0, len);
    return r;
  }

  /** Target k's rows (N,...) of a (K*N,...) tensor, target-major. */
  private static FloatTensor rows(FloatTensor g, int k, int targets) {
    Shape s = g.shape();
    int per = s.size() / targets;
    return new FloatTensor(s.withDim(0, s.dim(0) / targets), slice(g.data(), k * per, per));
  }
}
