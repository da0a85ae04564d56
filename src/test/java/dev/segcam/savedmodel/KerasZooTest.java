package dev.segcam.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.testing.KerasZoo;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.TfOracle;
import dev.segcam.testing.Tolerance;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Acceptance for the models Keras and the converters export ({@link KerasZoo}): each imports at its
 * run shape, its output equals TensorFlow's on every element, and so do the values and dS/dA at
 * every declared layer (TensorFlow's addGradients), within {@link Tolerance#CPU_VS_TF}.
 */
class KerasZooTest {
  /** Fewest declared layers a model is checked at. */
  private static final int MIN_LAYERS = 3;

  /** Fraction of output positions in the random target mask. */
  private static final float MASK_FRACTION = 0.4f;

  @Test
  void pix2pixGenerator() {
    check(KerasZoo.pix2pix());
  }

  @Test
  void validPaddingUnetWithShapeComputedCrops() {
    check(KerasZoo.validUnet());
  }

  @Test
  void argmaxServingOutputScoresTheSoftmax() {
    ImportedModel m = check(KerasZoo.argmaxServing());
    assertEquals(1, m.notes().size(), m.notes().toString());
    assertTrue(m.notes().get(0).contains("ArgMax"), m.notes().get(0));
  }

  @Test
  void efficientNetBlock() {
    check(KerasZoo.efficientBlock());
  }

  @Test
  void deeplabV3PlusMobileNetV2() {
    ImportedModel m = check(KerasZoo.deeplabV3Plus());
    // the SpaceToBatchND patterns became one dilated conv each (rate 2 depthwise, rate 3 conv)
    List<String> dilated = new ArrayList<>();
    for (Node n : m.graph().nodes()) {
      if (n.op() instanceof Op.DepthwiseConv2D d && d.dilationH() > 1) {
        dilated.add("depthwise " + d.dilationH() + "x" + d.dilationW() + " " + d.padding());
      } else if (n.op() instanceof Op.Conv2D c && c.dilationH() > 1) {
        dilated.add("conv " + c.dilationH() + "x" + c.dilationW() + " " + c.padding());
      }
    }
    dilated.sort(null);
    assertEquals(List.of("conv 2x2 SAME", "conv 3x3 VALID", "depthwise 2x2 VALID"), dilated);
  }

  @Test
  void validPaddingUnetImportsOnlyAtAnImageSize() {
    KerasZoo.Model m = KerasZoo.validUnet();
    ImportException e = assertThrows(ImportException.class, () -> SavedModelImporter.load(m.dir()));
    assertTrue(e.getMessage().contains("known only at run time"), e.getMessage());
    ImportedModel at = SavedModelImporter.loadAtImageSize(m.dir(), null, 30, 34);
    assertEquals(Shape.of(-1, 30, 34, 1), at.graph().node("input").shape());
    assertEquals(
        Shape.of(-1, 14, 16, 2), at.graph().node(at.graph().outputs().get("output")).shape());
  }

  @Test
  void mirrorPadsAtTheLimits() {
    check(KerasZoo.mirrorPads());
  }

  @Test
  void spaceToBatchOutsideTheDilatedConvPatternIsRefusedWithTheReason() {
    KerasZoo.Model m = KerasZoo.spaceToBatchMisuse();
    ImportException e = assertThrows(ImportException.class, () -> SavedModelImporter.load(m.dir()));
    assertTrue(e.getMessage().contains("s2b/SpaceToBatchND"), e.getMessage());
    assertTrue(e.getMessage().contains("s2b/relu (Relu) reads it"), e.getMessage());
  }

  @Test
  void dilatedDepthwiseWithPaddingsFromTheRunTimeShape() {
    check(KerasZoo.dynamicDilated());
  }

  @Test
  void shapeArithmeticBehindAGapIsNotListedAsOne() {
    KerasZoo.Model m = KerasZoo.gapBeforeShapeArithmetic();
    UnsupportedOpsException e =
        assertThrows(UnsupportedOpsException.class, () -> SavedModelImporter.load(m.dir()));
    List<String> ops = new ArrayList<>();
    e.gaps().forEach(g -> ops.add(g.op()));
    assertEquals(List.of("Sin"), ops, e.getMessage());
  }

  @Test
  void pixelShuffle() {
    check(KerasZoo.pixelShuffle());
  }

  /**
   * Imports m at its run shape and compares forward, layer values and gradients with TensorFlow.
   */
  static ImportedModel check(KerasZoo.Model m) {
    assertTrue(m.layers().size() >= MIN_LAYERS, m.name() + " declares too few layers");
    int[] shape = m.runShape();
    ImportedModel im = SavedModelImporter.loadAtImageSize(m.dir(), null, shape[1], shape[2]);
    String out =
        m.scored() == null ? im.graph().outputs().get("output") : im.nodeForTensor(m.scored());
    List<String> layers = new ArrayList<>();
    for (String t : m.layers()) {
      layers.add(im.nodeForTensor(t));
    }
    System.out.println(m.name() + ": TF tensor -> IR node " + m.layers() + " -> " + layers);
    Random rng = new Random(RandomTensors.freshSeed("KerasZooTest." + m.name()));
    FloatTensor x = RandomTensors.input(rng, shape);
    try (TfOracle tf = TfOracle.load(m.dir(), m.scored(), m.layers());
        CpuEngine engine = new CpuEngine(im.graph())) {
      Map<String, FloatTensor> values = engine.forward(Map.of(im.graph().inputs().get(0), x), null);
      FloatTensor y = values.get(out);
      Shape ys = y.shape();
      int cls = Math.min(1, ys.dim(ys.rank() - 1) - 1);
      FloatTensor seed = TfOracle.classSeed(ys, cls, p -> rng.nextFloat() < MASK_FRACTION);
      TfOracle.Run ref = tf.run(x, seed);
      Tolerance.CPU_VS_TF.assertClose(m.name() + " output", ref.output(), y);
      Map<String, FloatTensor> got =
          CpuBackward.backward(im.graph(), values, Map.of(out, seed), layers);
      for (int i = 0; i < layers.size(); i++) {
        String t = m.layers().get(i);
        String what = m.name() + " " + t + " (IR " + layers.get(i) + ")";
        Tolerance.CPU_VS_TF.assertClose(what, ref.values().get(t), values.get(layers.get(i)));
        Tolerance.CPU_VS_TF.assertClose("dS/d " + what, ref.grads().get(t), got.get(layers.get(i)));
      }
    }
    return im;
  }
}
