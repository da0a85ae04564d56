package dev.segcam.conformance;

import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.testing.TfOracle;
import dev.segcam.testing.Tolerance;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Acceptance: for every zoo model, segcam's CPU backward computes the same dS/dA as TensorFlow's
 * Graph.addGradients for Seg-Grad-CAM scores S = sum over a mask M of y[..., c], at the output's
 * producer and at every declared intermediate, within {@link Tolerance#CPU_VS_TF} on every element.
 * Two targets run as one batch of seeds over one forward, and each must match its own TF run.
 */
class GradientConformanceTest {

  static Stream<Arguments> cases() {
    return CpuEngines.cases();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void cpuGradientsMatchTensorFlow(String table, String name) {
    CpuEngines.assumeAvailable(table);
    try (Conformance c =
            Conformance.of(name, Conformance.batch(name), "GradientConformanceTest." + table);
        CpuEngines engines = CpuEngines.open(table, c.graph)) {
      CpuEngine engine = engines.engine;
      List<String> layers = new ArrayList<>(c.irNames.values());
      Map<String, FloatTensor> values = engine.forward(Map.of(c.inputNode, c.input), null);
      FloatTensor y = values.get(c.outputNode);
      Shape ys = y.shape();
      int classes = ys.dim(ys.rank() - 1);
      // target 0: class 1 on a box in the upper left; target 1: the last class on a random mask
      List<FloatTensor> seeds =
          List.of(
              TfOracle.classSeed(ys, 1 % classes, box(ys)),
              TfOracle.classSeed(ys, classes - 1, randomMask(c, ys)));
      FloatTensor batched = concatBatch(seeds);
      Map<String, FloatTensor> got =
          CpuBackward.backward(
              c.graph,
              values,
              Map.of(c.outputNode, batched),
              layers,
              engine.parallel(),
              engine.table(),
              false);
      for (int k = 0; k < seeds.size(); k++) {
        TfOracle.Run ref = c.tf.run(c.input, seeds.get(k));
        for (Map.Entry<String, String> e : c.irNames.entrySet()) {
          FloatTensor want = ref.grads().get(e.getKey());
          Tolerance.CPU_VS_TF.assertClose(
              table
                  + " "
                  + name
                  + " target "
                  + k
                  + " dS/d "
                  + e.getKey()
                  + " (IR node "
                  + e.getValue()
                  + ")",
              want,
              slice(got.get(e.getValue()), k, seeds.size()));
        }
      }
    }
  }

  /** Positions (flat over all axes but the last) in the upper-left quarter of each map. */
  private static IntPredicate box(Shape ys) {
    int h = ys.rank() == 4 ? ys.dim(1) : 1;
    int w = ys.rank() == 4 ? ys.dim(2) : 1;
    return p -> (p / w) % h < (h + 1) / 2 && p % w < (w + 1) / 2;
  }

  private static IntPredicate randomMask(Conformance c, Shape ys) {
    int positions = ys.size() / ys.dim(ys.rank() - 1);
    boolean[] m = new boolean[positions];
    for (int i = 0; i < positions; i++) {
      m[i] = c.rng.nextFloat() < 0.3f;
    }
    m[c.rng.nextInt(positions)] = true;
    return p -> m[p];
  }

  /** Seeds (N,...) of K targets -> one (K*N,...) batch, target-major. */
  private static FloatTensor concatBatch(List<FloatTensor> seeds) {
    Shape s = seeds.get(0).shape();
    int per = s.size();
    float[] out = new float[per * seeds.size()];
    for (int k = 0; k < seeds.size(); k++) {
      System.arraycopy(seeds.get(k).data(), 0, out, k * per, per);
    }
    return new FloatTensor(s.withDim(0, s.dim(0) * seeds.size()), out);
  }

  /** Target k's part (N,...) of a (K*N,...) gradient. */
  private static FloatTensor slice(FloatTensor g, int k, int targets) {
    Shape s = g.shape();
    int per = s.size() / targets;
    float[] out = new float[per];
    System.arraycopy(g.data(), k * per, out, 0, per);
    return new FloatTensor(s.withDim(0, s.dim(0) / targets), out);
  }
}
