package dev.segcam.savedmodel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SavedObjectGraphOuterClass.SavedObject;
import org.tensorflow.proto.SavedObjectGraphOuterClass.SavedObjectGraph;
import org.tensorflow.proto.TrackableObjectGraphOuterClass.TrackableObjectGraph;

/** Imports each of the nine third-party SavedModels and checks structure and weights. */
class FixtureImportTest {

  private static long params(Graph g) {
    return g.nodes().stream().mapToLong(n -> n.op().parameterCount()).sum();
  }

  private static FloatTensor bundle(String fixture, String key) {
    return TensorBundle.open(Fixtures.dir(fixture).resolve("variables")).readFloat(key);
  }

  @Test
  void effdetFakeKerasConvNetImportsFully() {
    ImportedModel m = SavedModelImporter.load(Fixtures.dir("tf2-keras-conv2d-effdet-fake"));
    Graph g = m.graph();
    assertEquals("serving_default", m.signature());
    assertEquals(List.of("input_1"), g.inputs());
    assertEquals(Shape.of(-1, 320, 320, 3), g.node("input_1").shape());
    assertEquals(10, m.outputs().size());
    // Ten Conv2D layers (bias fused), each 1x1x3x64 + 64.
    assertEquals(11, g.nodes().size());
    assertEquals(10 * (3 * 64 + 64), params(g));
    int[] sizes = {40, 20, 10, 5, 3};
    for (int k = 0; k < 10; k++) {
      String name = k == 0 ? "conv2d" : "conv2d_" + k;
      Node n = g.node(name);
      Op.Conv2D c = (Op.Conv2D) n.op();
      assertNotNull(c.bias(), name + " has its BiasAdd fused");
      assertEquals(Padding.VALID, c.padding());
      assertEquals(Shape.of(-1, sizes[k % 5], sizes[k % 5], 64), n.shape(), name);
      assertEquals(List.of("input_1"), n.inputs());
    }
    assertEquals("conv2d_3", g.outputs().get("conv2d_3"));
    // Layer conv2d_3's weights are the checkpoint's layer_with_weights-3 (via bound_inputs).
    FloatTensor k3 =
        bundle(
            "tf2-keras-conv2d-effdet-fake",
            "layer_with_weights-3/kernel/.ATTRIBUTES/VARIABLE_VALUE");
    Op.Conv2D c3 = (Op.Conv2D) g.node("conv2d_3").op();
    assertArrayEquals(k3.data(), c3.filter().data());
    assertEquals(0.13406038f, c3.filter().data()[0]);
    assertEquals(64, c3.strideH());
  }

  /**
   * Independent route to the same fact: the object graph's Keras metadata names each layer; its
   * "kernel" child's checkpoint key must be the tensor the importer put into that layer.
   */
  @Test
  void effdetWeightsMatchKerasLayerNamesInObjectGraph() throws Exception {
    Path dir = Fixtures.dir("tf2-keras-conv2d-effdet-fake");
    SavedModel sm =
        SavedModel.parseFrom(java.nio.file.Files.readAllBytes(dir.resolve("saved_model.pb")));
    SavedObjectGraph og = sm.getMetaGraphs(0).getObjectGraphDef();
    TensorBundle b = TensorBundle.open(dir.resolve("variables"));
    TrackableObjectGraph ckpt =
        TrackableObjectGraph.parseFrom(b.readScalarString("_CHECKPOINTABLE_OBJECT_GRAPH"));
    Graph g = SavedModelImporter.load(dir).graph();
    Pattern name = Pattern.compile("\"name\": \"(conv2d(_\\d+)?)\"");
    int checked = 0;
    for (SavedObject o : og.getNodesList()) {
      Matcher mt = name.matcher(o.getUserObject().getMetadata());
      if (!o.hasUserObject()
          || !o.getUserObject().getIdentifier().equals("_tf_keras_layer")
          || !mt.find()) {
        continue;
      }
      for (var child : o.getChildrenList()) {
        if (child.getLocalName().equals("kernel")) {
          String key = ckpt.getNodes(child.getNodeId()).getAttributes(0).getCheckpointKey();
          Op.Conv2D c = (Op.Conv2D) g.node(mt.group(1)).op();
          assertArrayEquals(b.readFloat(key).data(), c.filter().data(), mt.group(1));
          checked++;
        }
      }
    }
    assertEquals(10, checked);
  }

  @Test
  void tf1CifarCnnImportsFully() {
    ImportedModel m = SavedModelImporter.load(Fixtures.dir("tf1-cifar-cnn"));
    Graph g = m.graph();
    assertEquals(List.of("Input"), g.inputs());
    assertEquals(Shape.of(-1, 32, 32, 3), g.node("Input").shape());
    assertEquals(Shape.of(-1, 10), g.node(g.outputs().get("Output")).shape());
    List<String> types = g.nodes().stream().map(n -> n.op().type()).toList();
    assertEquals(List.of("Input", "Conv2D", "Relu", "Reshape", "MatMul"), types);
    // Conv 7x7x3x32 + bias 32 (the Add of bconv1 folded), dense 5408x10 + 10 (Add of b1 folded).
    assertEquals(7 * 7 * 3 * 32 + 32 + 5408 * 10 + 10, params(g));
    Op.Conv2D c = (Op.Conv2D) g.node("add").op();
    assertArrayEquals(bundle("tf1-cifar-cnn", "Wconv1").data(), c.filter().data());
    assertArrayEquals(bundle("tf1-cifar-cnn", "bconv1").data(), c.bias().data());
    assertEquals(0.22520731f, c.bias().data()[0]);
    Op.MatMul d = (Op.MatMul) g.node(g.outputs().get("Output")).op();
    assertEquals(-0.4770532f, d.bias().data()[0]);
    assertEquals(Shape.of(-1, 13, 13, 32), g.node("add").shape());
    // Merged nodes take the name of the last TensorFlow node folded in (its value): add, add_1.
    assertEquals("add_1", g.outputs().get("Output"));
  }

  @Test
  void tf2DenseWithTwoShardsImports() {
    ImportedModel m = SavedModelImporter.load(Fixtures.dir("tf2-keras-dense-two-shards"));
    Graph g = m.graph();
    Node dense = g.node(g.outputs().get("output_1"));
    assertEquals("dense", dense.name());
    Op.MatMul mm = (Op.MatMul) dense.op();
    assertArrayEquals(
        new float[] {9.229685f, 10.901115f, 10.370763f, 9.757362f}, mm.weights().data());
    assertArrayEquals(new float[] {10.049943f, 9.917691f}, mm.bias().data());
    assertEquals(Shape.of(-1, 2), dense.shape());
  }

  @Test
  void tf1HalfPlusTwoServingDefault() {
    ImportedModel m = SavedModelImporter.load(Fixtures.dir("tf1-half-plus-two"));
    Graph g = m.graph();
    assertEquals(5, m.availableSignatures().size());
    assertEquals(List.of("x"), g.inputs());
    // y = a*x + b with a=0.5, b=2 read from VariableV2 values in the bundle (snappy index).
    assertConstOperands(g, 0.5f, 2.0f);
  }

  @Test
  void tf2ModuleHalfPlusTwoWithResourceVariables() {
    ImportedModel m = SavedModelImporter.load(Fixtures.dir("tf2-module-half-plus-two"));
    assertEquals(Shape.of(1), m.inputs().get(0).shape());
    assertConstOperands(m.graph(), 0.5f, 2.0f);
    ImportedModel r =
        SavedModelImporter.load(Fixtures.dir("tf2-module-half-plus-two"), "regress_x2_to_y3");
    // y3 = a*x2 + c with c=3
    assertConstOperands(r.graph(), 0.5f, 3.0f);
  }

  private static void assertConstOperands(Graph g, float mul, float add) {
    float seenMul = Float.NaN;
    float seenAdd = Float.NaN;
    for (Node n : g.nodes()) {
      if (n.op() instanceof Op.Binary b) {
        for (String in : n.inputs()) {
          if (g.node(in).op() instanceof Op.Const c) {
            if (b.kind() == Op.BinaryKind.MUL) {
              seenMul = c.value().data()[0];
            } else if (b.kind() == Op.BinaryKind.ADD) {
              seenAdd = c.value().data()[0];
            }
          }
        }
      }
    }
    assertEquals(mul, seenMul);
    assertEquals(add, seenAdd);
  }

  @Test
  void tf2MultiSignatureNeedsAChoiceAndResolvesCapturedVariable() {
    Path dir = Fixtures.dir("tf2-module-multi-signature");
    ImportException e = assertThrows(ImportException.class, () -> SavedModelImporter.load(dir));
    assertTrue(e.getMessage().contains("get_variable"), e.getMessage());
    assertTrue(e.getMessage().contains("serving_default"), e.getMessage());
    ImportedModel m = SavedModelImporter.load(dir, "get_variable");
    Node out = m.graph().node(m.graph().outputs().get("output_0"));
    assertEquals(2.0f, ((Op.Const) out.op()).value().data()[0]);
    // Its input has unknown rank; unused, so it is listed without a shape.
    assertNull(m.inputs().get(0).shape());
    ImportException add =
        assertThrows(ImportException.class, () -> SavedModelImporter.load(dir, "add"));
    assertTrue(add.getMessage().contains("unknown rank"), add.getMessage());
  }

  @Test
  void conv1dSubclassedModelStopsAtIsNanWithTypedError() {
    ImportException e =
        assertThrows(
            ImportException.class,
            () -> SavedModelImporter.load(Fixtures.dir("tf2-keras-subclassed-conv1d")));
    // The only signature is "inference"; its encoder normalises with Sum/Min/Max/IsNan first
    // (Sum, Min and Max import; IsNan and ZerosLike, of an activation, are the gaps).
    assertTrue(e.getMessage().contains("unsupported op IsNan x1"), e.getMessage());
    assertTrue(e.getMessage().contains("unsupported op ZerosLike x1"), e.getMessage());
    assertEquals("StatefulPartitionedCall/StatefulPartitionedCall/enc/IsNan", e.where().node());
    assertTrue(e.where().function().startsWith("__inference_"), e.where().function());
  }

  @Test
  void mixedVariablesConvGraphStopsAtStridedSliceOfActivation() {
    ImportException e =
        assertThrows(
            ImportException.class,
            () -> SavedModelImporter.load(Fixtures.dir("tf1-mixed-variables-conv2d")));
    assertTrue(e.getMessage().contains("StridedSlice"), e.getMessage());
    assertEquals("strided_slice", e.where().node());
    // Another signature reads the resource-variable convolutions (VarHandleOp by shared name).
    ImportedModel m =
        SavedModelImporter.load(Fixtures.dir("tf1-mixed-variables-conv2d"), "regress_x2_to_y3");
    Op.Conv2D c = (Op.Conv2D) m.graph().node("conv2d_2").op();
    assertEquals(1.5779432f, c.filter().data()[0]);
    assertEquals(0f, c.bias().data()[0]);
  }

  @Test
  void mediapipeTwoInputsTwoOutputsWithConv() {
    // The signature feeds two int32 variables (DT_INT32_REF): fed, they act as inputs.
    ImportedModel m = SavedModelImporter.load(Fixtures.dir("tf1-mediapipe-conv2d"));
    Graph g = m.graph();
    assertEquals(List.of("A", "B"), g.inputs().stream().sorted().toList());
    assertEquals(Shape.of(1, 3), g.node("A").shape());
    Node mul = g.node(g.outputs().get("MULTIPLIED"));
    assertEquals(Op.BinaryKind.MUL, ((Op.Binary) mul.op()).kind());
    assertEquals(List.of("A", "B"), mul.inputs().stream().sorted().toList());
    Node conv = g.node(g.outputs().get("expensive"));
    assertEquals("Conv2D", conv.op().type());
    assertEquals(Shape.of(1, 40, 40, 100), conv.shape());
    // Its input is a constant (a Fill folded at import).
    assertEquals("Const", g.node(conv.inputs().get(0)).op().type());
  }

  @Test
  void stringInputSignatureIsRejectedByName() {
    ImportException e =
        assertThrows(
            ImportException.class,
            () ->
                SavedModelImporter.load(
                    Fixtures.dir("tf2-module-half-plus-two"), "regress_x_to_y"));
    assertTrue(e.getMessage().contains("DT_STRING"), e.getMessage());
    assertEquals("regress_x_to_y_inputs", e.where().node());
  }

  @Test
  void tensorflowNamesMapToIrNodes() {
    ImportedModel e = SavedModelImporter.load(Fixtures.dir("tf2-keras-conv2d-effdet-fake"));
    assertEquals("conv2d_3", e.nodeForTensor("StatefulPartitionedCall:3"));
    assertEquals(
        "conv2d_3",
        e.nodeForTensor("StatefulPartitionedCall/StatefulPartitionedCall/model/conv2d_3/BiasAdd"));
    assertEquals("input_1", e.nodeForTensor("serving_default_input_1:0"));
    ImportedModel c = SavedModelImporter.load(Fixtures.dir("tf1-cifar-cnn"));
    assertEquals("OutputConvRelu_1", c.nodeForTensor("OutputConvRelu_1"));
    assertEquals("add_1", c.nodeForTensor("add_1:0"));
    // The convolution's own output was folded into its bias Add: no node computes it any more.
    ImportException gone = assertThrows(ImportException.class, () -> c.nodeForTensor("Conv2D"));
    assertEquals("Conv2D", gone.where().node());
  }
}
