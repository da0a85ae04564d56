package dev.segcam.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.SegFormerZoo;
import dev.segcam.testing.TfOracle;
import dev.segcam.testing.Tolerance;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The MiT-B0-style SegFormer of {@link SegFormerZoo} imports (Einsum, BatchMatMul of activations,
 * Dense on tokens, LayerNorm from moments, Erf GELU) and the CPU engine computes what TensorFlow
 * computes: the output, every declared layer's value and its gradient (each stage's output on its
 * grid, the token layers, tensors inside the attention and the Mix-FFN) on every element at {@link
 * Tolerance#CPU_VS_TF}, on fresh random images and a random region seed.
 */
class SegFormerZooTest {
  private static final int BATCH = 2;

  @Test
  void forwardAndGradientsEqualTensorFlow() {
    Path dir = SegFormerZoo.get();
    ImportedModel m = SavedModelImporter.load(dir);
    assertTrue(
        m.graph().nodes().stream().anyMatch(n -> n.op() instanceof Op.BatchMatMul),
        "attention imports as products of activations");
    List<String> tfNames = new ArrayList<>(SegFormerZoo.GRID_LAYERS);
    tfNames.addAll(SegFormerZoo.TOKEN_LAYERS);
    tfNames.addAll(SegFormerZoo.INNER);
    List<String> layers = tfNames.stream().map(m::nodeForTensor).toList();
    Random rng = new Random(RandomTensors.freshSeed("SegFormerZooTest"));
    FloatTensor x = RandomTensors.image(rng, BATCH, SegFormerZoo.SIZE, SegFormerZoo.SIZE, 3);
    String out = m.graph().outputs().get("output");
    try (TfOracle tf = TfOracle.load(dir, tfNames);
        CpuEngine engine = new CpuEngine(m.graph())) {
      Map<String, FloatTensor> values = engine.forward(Map.of("input", x), null);
      FloatTensor y = values.get(out);
      assertEquals(SegFormerZoo.CLASSES, y.shape().dim(3));
      FloatTensor seed = TfOracle.classSeed(y.shape(), 1, p -> rng.nextFloat() < 0.3f);
      TfOracle.Run ref = tf.run(x, seed);
      SegFormerZoo.tolerance(Tolerance.CPU_VS_TF, ref.output())
          .assertClose("output", ref.output(), y);
      Map<String, FloatTensor> got =
          CpuBackward.backward(m.graph(), values, Map.of(out, seed), layers);
      for (int i = 0; i < tfNames.size(); i++) {
        String t = tfNames.get(i);
        FloatTensor v = ref.values().get(t);
        FloatTensor d = ref.grads().get(t);
        SegFormerZoo.tolerance(Tolerance.CPU_VS_TF, v)
            .assertClose("value " + t, v, values.get(layers.get(i)));
        SegFormerZoo.tolerance(Tolerance.CPU_VS_TF, d)
            .assertClose("dS/d " + t, d, got.get(layers.get(i)));
      }
    }
  }
}
