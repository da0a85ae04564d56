package dev.segcam.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.testing.ImportZoo;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.TfOracle;
import dev.segcam.testing.Tolerance;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A model whose sizes are computed from a dynamic input's shape imports at a concrete image size,
 * with that arithmetic folded, and then computes what TensorFlow computes at that size.
 */
class ImageSizeImportTest {
  private static final String LAYER_TF = "enc/relu";
  private static final String DEC_TF = "dec/relu";

  @Test
  void dynamicShapeArithmeticFoldsAtTheImageSize() {
    Path dir = ImportZoo.dynamicResize();
    ImportException generic =
        assertThrows(ImportException.class, () -> SavedModelImporter.load(dir));
    assertTrue(generic.getMessage().contains("known only at run time"), generic.getMessage());

    ImportedModel m = SavedModelImporter.loadAtImageSize(dir, null, 12, 10);
    assertEquals(Shape.of(-1, 12, 10, 3), m.graph().node("input").shape());
    assertSame(m, SavedModelImporter.loadAtImageSize(dir, null, 12, 10), "cached per size");
    ImportedModel other = SavedModelImporter.loadAtImageSize(dir, null, 8, 14);
    assertNotSame(m, other);
    assertEquals(Shape.of(-1, 8, 14, 3), other.graph().node("input").shape());
    for (int[] hw : new int[][] {{12, 10}, {8, 14}}) {
      checkAgainstTensorFlow(dir, SavedModelImporter.loadAtImageSize(dir, null, hw[0], hw[1]), hw);
    }
  }

  @Test
  void aSizeTheModelFixesStaysItsOwn() {
    // argmax_head is (?, 12, 10, 3): an image of another size imports as the model declares
    Path dir = ImportZoo.argmaxHead();
    ImportedModel m = SavedModelImporter.loadAtImageSize(dir, null, 30, 40);
    assertEquals(Shape.of(-1, 12, 10, 3), m.graph().node("input").shape());
  }

  private static void checkAgainstTensorFlow(Path dir, ImportedModel m, int[] hw) {
    Random rng = new Random(RandomTensors.freshSeed("ImageSizeImportTest." + hw[0]));
    FloatTensor x = RandomTensors.image(rng, 2, hw[0], hw[1], 3);
    String out = m.graph().outputs().get("output");
    List<String> layers = List.of(m.nodeForTensor(LAYER_TF), m.nodeForTensor(DEC_TF));
    try (TfOracle tf = TfOracle.load(dir, List.of(LAYER_TF, DEC_TF));
        CpuEngine engine = new CpuEngine(m.graph())) {
      Map<String, FloatTensor> values = engine.forward(Map.of("input", x), null);
      FloatTensor y = values.get(out);
      FloatTensor seed = TfOracle.classSeed(y.shape(), 2, p -> rng.nextFloat() < 0.5f);
      TfOracle.Run ref = tf.run(x, seed);
      Tolerance.CPU_VS_TF.assertClose("output at " + hw[0] + "x" + hw[1], ref.output(), y);
      Map<String, FloatTensor> got =
          CpuBackward.backward(m.graph(), values, Map.of(out, seed), layers);
      Tolerance.CPU_VS_TF.assertClose(
          "dS/d " + LAYER_TF, ref.grads().get(LAYER_TF), got.get(layers.get(0)));
      Tolerance.CPU_VS_TF.assertClose(
          "dS/d " + DEC_TF, ref.grads().get(DEC_TF), got.get(layers.get(1)));
    }
  }
}
