package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.kernels.ActivationKernels;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.RequiresOneDnn;
import dev.segcam.testing.Tolerance;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Guided backpropagation on the oneDNN op table (what `--backend cpu` runs): its ReLU gradient has
 * no oneDNN primitive, so the table must take the guided rule itself, or the guided map would
 * silently be the plain input gradient (which GuidedBackpropTfTest shows differs from the guided
 * one). Checked against the Java engine's guided map, element by element.
 */
@RequiresOneDnn
class GuidedOneDnnTest {
  private static final Path MODEL = Path.of("weights", "scene-unet");

  /** Sum of the fan-ins along scene-unet's deepest path, rounded up: the accumulation length. */
  private static final long SCENE_UNET_ACCUMULATION = 8192;

  /**
   * Distance from a kink, relative to max |x| of the tensor, below which a draw is refused: a ReLU
   * input (the guided gate x > 0) or the gap between a MaxPool window's two largest inputs (where
   * dy is routed). The two engines sum each conv in another order; one sum of K float32 terms in
   * two orders differs by about sqrt(K) * EPS32 of the terms' magnitude, about 1e-6 for the 3x3
   * convs' K of some hundreds, and near a kink the terms cancel, so the difference is a smaller
   * part of the tensor's max. Measured over 43 draws: the largest Java-vs-oneDNN difference of any
   * ReLU input was 9.5e-7 of its tensor's max, and 2.2e-7 of it at the inputs within 1e-5 of the
   * max from 0. 1e-6 covers both. The comparison's own bound (Tolerance.reassociated over the whole
   * path, 8.6e-5) would refuse every draw: about 150 of the 426k ReLU inputs lie that close to 0 in
   * each. About 1.6 lie within 1e-6, so about one draw in four passes.
   */
  private static final double KINK_MARGIN = 1e-6;

  private static final int MAX_DRAWS = 200;

  @Test
  void oneDnnGuidedMapEqualsTheJavaEngines() {
    Graph g = SavedModelImporter.load(MODEL).graph();
    Random rnd = new Random(RandomTensors.freshSeed("GuidedOneDnnTest"));
    int[] d = g.node(g.inputs().get(0)).shape().dims();
    int[] shape = {1, d[1], d[2], d[3]};
    // Guided backprop is discontinuous where a ReLU input is 0 (the gate x > 0 passes dy or 0)
    // and where MaxPool's two largest inputs tie (dy goes to one or the other). An input within
    // float32 reassociation of such a kink may fall on either side in the two engines, and the
    // whole guided map behind it changes: a property of the draw, not of the engines. Draw again
    // until no kink is that close. The gate dy > 0 is no such kink: the guided rule is
    // [x > 0] * max(dy, 0), continuous in dy, so a dy within rounding of 0 changes the map only by
    // rounding (and some 20 of them lie within 1e-6 of max |dy| in every draw, 2,500 within 1e-4).
    FloatTensor img = RandomTensors.input(rnd, shape);
    int draws = 1;
    String why;
    while ((why = nearKink(g, img)) != null) {
      System.out.println("GuidedOneDnnTest: draw " + draws + " refused: " + why);
      if (draws == MAX_DRAWS) {
        throw new IllegalStateException(MAX_DRAWS + " inputs in a row hit a kink");
      }
      img = RandomTensors.input(rnd, shape);
      draws++;
    }
    System.out.println(
        "GuidedOneDnnTest: input drawn " + draws + " times, " + (draws - 1) + " refused (kinks)");
    List<Target> targets = List.of(Target.image(1), Target.image(3));
    String layer = "dec1_2/conv1";
    List<GuidedGradCam.Result> java;
    List<GuidedGradCam.Result> onednn;
    try (Explainer ex = Explainer.open(MODEL, gr -> CpuCamBackend.open(gr, 2, true, s -> {}))) {
      java = GuidedGradCam.explain(ex, img, targets, layer, CamMethod.GRAD_CAM);
    }
    try (Explainer ex = Explainer.open(MODEL, gr -> CpuCamBackend.createOneDnn(gr, 2))) {
      onednn = GuidedGradCam.explain(ex, img, targets, layer, CamMethod.GRAD_CAM);
    }
    for (int i = 0; i < java.size(); i++) {
      float[] ref = java.get(i).guided().data();
      float[] got = onednn.get(i).guided().data();
      Tolerance.reassociated(SCENE_UNET_ACCUMULATION, Tolerance.maxAbs(ref))
          .assertClose("guided map " + i + " oneDNN vs Java", ref, got);
      assertTrue(Tolerance.maxAbs(ref) > 0, "guided map " + i + " is all zero");
    }
  }

  /** The first kink within {@link #KINK_MARGIN} in the Java engine's forward of x, or null. */
  private static String nearKink(Graph g, FloatTensor x) {
    Map<String, FloatTensor> values;
    try (CpuEngine e = new CpuEngine(g, 2)) {
      values = e.forward(Map.of(g.inputs().get(0), x), null);
    }
    for (Node node : g.nodes()) {
      FloatTensor in = values.get(node.inputs().isEmpty() ? null : node.inputs().get(0));
      if (node.op() instanceof Op.Activation a && ActivationKernels.guides(a.kind())) {
        float[] v = in.data();
        double eps = KINK_MARGIN * Math.max(Tolerance.maxAbs(v), Float.MIN_NORMAL);
        boolean six = a.kind() == Op.ActivationKind.RELU6;
        for (int i = 0; i < v.length; i++) {
          if (Math.abs(v[i]) <= eps || (six && Math.abs(v[i] - 6) <= eps)) {
            return String.format(
                "input of %s at %d is %.3g (margin %.3g)", node.name(), i, v[i], eps);
          }
        }
      } else if (node.op() instanceof Op.Pool p && p.kind() == Op.PoolKind.MAX) {
        String tie = nearTie(node.name(), p, in);
        if (tie != null) {
          return tie;
        }
      }
    }
    return null;
  }

  /** A MaxPool window whose two largest inputs are within the margin (VALID windows only). */
  private static String nearTie(String name, Op.Pool p, FloatTensor in) {
    if (p.padding() != Padding.VALID) {
      throw new IllegalStateException(name + ": the kink guard handles VALID pooling only");
    }
    int[] s = in.shape().dims();
    float[] v = in.data();
    double eps = KINK_MARGIN * Math.max(Tolerance.maxAbs(v), Float.MIN_NORMAL);
    int oh = (s[1] - p.windowH()) / p.strideH() + 1;
    int ow = (s[2] - p.windowW()) / p.strideW() + 1;
    for (int n = 0; n < s[0]; n++) {
      for (int oy = 0; oy < oh; oy++) {
        for (int ox = 0; ox < ow; ox++) {
          for (int c = 0; c < s[3]; c++) {
            float first = Float.NEGATIVE_INFINITY;
            float second = Float.NEGATIVE_INFINITY;
            for (int ky = 0; ky < p.windowH(); ky++) {
              for (int kx = 0; kx < p.windowW(); kx++) {
                int y = oy * p.strideH() + ky;
                int xx = ox * p.strideW() + kx;
                float f = v[((n * s[1] + y) * s[2] + xx) * s[3] + c];
                if (f > first) {
                  second = first;
                  first = f;
                } else if (f > second) {
                  second = f;
                }
              }
            }
            // equal maxima (e.g. ReLU zeros) are exact in both engines, and both take the first
            if (first != second && first - second <= eps) {
              return String.format(
                  "%s window (%d,%d,%d) has maxima %.6g and %.6g (margin %.3g)",
                  name, oy, ox, c, first, second, eps);
            }
          }
        }
      }
    }
    return null;
  }
}
