package dev.segcam.savedmodel;

import static dev.segcam.savedmodel.SyntheticModel.constF;
import static dev.segcam.savedmodel.SyntheticModel.op;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The TensorFlow ops of {@link ElementwiseConversions} import as the IR's element-wise ops. */
class ElementwiseConversionsTest {
  @TempDir Path tmp;

  private Graph load(SyntheticModel m) {
    return SavedModelImporter.load(m.write(tmp.resolve("m")), null).graph();
  }

  @Test
  void everyUnaryOpMapsToItsKind() {
    for (Map.Entry<String, Op.UnaryKind> e : ElementwiseConversions.UNARY.entrySet()) {
      SyntheticModel m =
          new SyntheticModel()
              .input("x", "in", -1, 3, 3, 2)
              .node(op("u/" + e.getKey(), e.getKey(), "in"))
              .output("y", "u/" + e.getKey());
      Graph g = SavedModelImporter.load(m.write(tmp.resolve(e.getKey())), null).graph();
      assertEquals(new Op.Unary(e.getValue(), 0f), g.node("u").op(), e.getKey());
      assertEquals(e.getKey(), g.node("u").op().type());
      assertEquals(Shape.of(-1, 3, 3, 2), g.node("u").shape());
    }
  }

  @Test
  void powTakesItsConstantExponent() {
    SyntheticModel m =
        new SyntheticModel()
            .input("x", "in", -1, 3, 3, 2)
            .node(constF("p/y", new int[] {}, 3f).toBuilder())
            .node(op("p/Pow", "Pow", "in", "p/y"))
            .output("y", "p/Pow");
    assertEquals(new Op.Unary(Op.UnaryKind.POW, 3f), load(m).node("p").op());
  }

  @Test
  void powOfAnActivationExponentIsAClearError() {
    SyntheticModel m =
        new SyntheticModel()
            .input("x", "in", -1, 3, 3, 2)
            .node(op("p/Pow", "Pow", "in", "in"))
            .output("y", "p/Pow");
    ImportException e = assertThrows(ImportException.class, () -> load(m));
    assertTrue(e.getMessage().contains("exponent"), e.getMessage());
  }

  @Test
  void maximumMinimumSquaredDifferenceOfTwoActivations() {
    for (Map.Entry<String, Op.BinaryKind> e : ElementwiseConversions.BINARY.entrySet()) {
      SyntheticModel m =
          new SyntheticModel()
              .input("x", "in", -1, 3, 3, 2)
              .node(op("a/Relu", "Relu", "in"))
              .node(op("b/" + e.getKey(), e.getKey(), "in", "a/Relu"))
              .output("y", "b/" + e.getKey());
      Graph g = SavedModelImporter.load(m.write(tmp.resolve(e.getKey())), null).graph();
      Node b = g.node("b");
      assertEquals(new Op.Binary(e.getValue()), b.op());
      assertEquals(java.util.List.of("x", "a"), b.inputs());
    }
  }

  @Test
  void stopAndPreventGradientAreKeptAsNodes() {
    SyntheticModel m =
        new SyntheticModel()
            .input("x", "in", -1, 3, 3, 2)
            .node(op("s/StopGradient", "StopGradient", "in"))
            .node(op("p/PreventGradient", "PreventGradient", "s/StopGradient"))
            .output("y", "p/PreventGradient");
    Graph g = load(m);
    assertEquals(new Op.StopGradient(false), g.node("s").op());
    assertEquals(new Op.StopGradient(true), g.node("p").op());
    assertEquals("PreventGradient", g.node("p").op().type());
  }
}
