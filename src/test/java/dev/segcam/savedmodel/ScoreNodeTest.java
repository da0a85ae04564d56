package dev.segcam.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.cam.Explainer;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.testing.ImportZoo;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.TfOracle;
import dev.segcam.testing.Tolerance;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A serving output without gradient (ArgMax after the softmax) is scored on its nearest
 * differentiable ancestor, which the import says in one line; the scores and gradients are then
 * TensorFlow's on the logits.
 */
class ScoreNodeTest {
  private static final String LOGITS_TF = "head/bias_add";
  private static final String LAYER_TF = "enc/relu";

  @Test
  void argmaxOutputIsScoredOnTheSoftmaxLogitsWithANote() {
    Path dir = ImportZoo.argmaxHead();
    ImportedModel m = SavedModelImporter.load(dir);
    assertEquals(1, m.notes().size(), m.notes().toString());
    String note = m.notes().get(0);
    assertTrue(
        note.contains("output 'output' is ArgMax 'classes/argmax', which has no gradient")
            && note.contains("'head/softmax' (Softmax)"),
        note);
    String out = m.graph().outputs().get("output");
    assertInstanceOf(Op.Softmax.class, m.graph().node(out).op());
    assertEquals("DT_FLOAT", m.outputs().get(0).dtype());
    assertEquals(m.graph().node(out).shape(), m.outputs().get(0).shape());

    try (Explainer ex = Explainer.cpu(m.graph())) {
      List<String> notes = new ArrayList<>();
      ex.output(m, null, notes::add);
      assertEquals(m.notes(), notes);
      assertEquals(m.nodeForTensor(LOGITS_TF), ex.logitsNode());
      // an explicit choice: the API takes a TensorFlow name as well as a layer or an output key
      notes.clear();
      ex.output(m, LOGITS_TF, notes::add);
      assertEquals(List.of(), notes);
      assertEquals(m.nodeForTensor(LOGITS_TF), ex.outputNode());
      assertEquals(m.nodeForTensor(LOGITS_TF), ex.logitsNode());
      ImportException e = assertThrows(ImportException.class, () -> m.node("no/such/node"));
      assertTrue(
          e.getMessage().contains("no output key, layer or TensorFlow node"), e.getMessage());
    }
  }

  @Test
  void logitsAndGradientsEqualTensorFlows() {
    Path dir = ImportZoo.argmaxHead();
    ImportedModel m = SavedModelImporter.load(dir);
    String logits = m.nodeForTensor(LOGITS_TF);
    String layer = m.nodeForTensor(LAYER_TF);
    Random rng = new Random(RandomTensors.freshSeed("ScoreNodeTest"));
    FloatTensor x = RandomTensors.image(rng, 2, 12, 10, 3);
    try (TfOracle tf = TfOracle.load(dir, LOGITS_TF, List.of(LAYER_TF), TfOracle.Score.LINEAR);
        CpuEngine engine = new CpuEngine(m.graph())) {
      Map<String, FloatTensor> values = engine.forward(Map.of("input", x), null);
      FloatTensor y = values.get(logits);
      Shape ys = y.shape();
      FloatTensor seed = TfOracle.classSeed(ys, 1, p -> rng.nextFloat() < 0.4f);
      TfOracle.Run ref = tf.run(x, seed);
      Tolerance.CPU_VS_TF.assertClose("logits", ref.output(), y);
      Tolerance.CPU_VS_TF.assertClose(
          "activation " + LAYER_TF, ref.values().get(LAYER_TF), values.get(layer));
      Map<String, FloatTensor> got =
          CpuBackward.backward(m.graph(), values, Map.of(logits, seed), List.of(layer));
      Tolerance.CPU_VS_TF.assertClose(
          "dS/d " + LAYER_TF, ref.grads().get(LAYER_TF), got.get(layer));
    }
  }
}
