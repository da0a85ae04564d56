package dev.segcam.savedmodel;

import static dev.segcam.savedmodel.SyntheticModel.constF;
import static dev.segcam.savedmodel.SyntheticModel.op;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;

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
      assertEquals(List.of("x", "a"), b.inputs());
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

  /** SelectV2(cond (1,3,3,1) constant, x, relu(x)): forward and gradient, every element. */
  @Test
  void selectWithAConstantConditionIsExactAndRoutesTheGradient() {
    boolean[] cond = new boolean[9];
    TensorProto.Builder t =
        TensorProto.newBuilder()
            .setDtype(DataType.DT_BOOL)
            .setTensorShape(SyntheticModel.shape(1, 3, 3, 1));
    Random rnd = new Random(System.nanoTime());
    for (int i = 0; i < cond.length; i++) {
      cond[i] = rnd.nextBoolean();
      t.addBoolVal(cond[i]);
    }
    SyntheticModel m =
        new SyntheticModel()
            .input("x", "in", -1, 3, 3, 2)
            .node(
                NodeDef.newBuilder()
                    .setName("s/cond")
                    .setOp("Const")
                    .putAttr("value", AttrValue.newBuilder().setTensor(t).build())
                    .putAttr("dtype", AttrValue.newBuilder().setType(DataType.DT_BOOL).build()))
            .node(op("a/Relu", "Relu", "in"))
            .node(op("s/SelectV2", "SelectV2", "s/cond", "in", "a/Relu"))
            .output("y", "s/SelectV2");
    Graph g = load(m);
    String out = g.outputs().get("y");
    assertEquals(Shape.of(-1, 3, 3, 2), g.node(out).shape());
    int n = 2;
    float[] x = new float[n * 18];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    FloatTensor xt = new FloatTensor(Shape.of(n, 3, 3, 2), x);
    try (CpuEngine e = new CpuEngine(g, 1)) {
      Map<String, FloatTensor> values = e.forward(Map.of("x", xt), null);
      float[] y = values.get(out).data();
      float[] dy = new float[x.length];
      for (int i = 0; i < dy.length; i++) {
        dy[i] = (float) rnd.nextGaussian();
      }
      float[] dx =
          CpuBackward.backward(
                  g, values, Map.of(out, new FloatTensor(Shape.of(n, 3, 3, 2), dy)), List.of("x"))
              .get("x")
              .data();
      for (int i = 0; i < x.length; i++) {
        boolean c = cond[(i / 2) % 9];
        assertEquals(c ? x[i] : Math.max(x[i], 0f), y[i], "y[" + i + "]");
        assertEquals(c || x[i] > 0 ? dy[i] : 0f, dx[i], "dx[" + i + "]");
      }
    }
  }
}
