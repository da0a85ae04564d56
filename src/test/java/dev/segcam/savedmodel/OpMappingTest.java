package dev.segcam.savedmodel;

import static dev.segcam.savedmodel.SyntheticModel.bool;
import static dev.segcam.savedmodel.SyntheticModel.constF;
import static dev.segcam.savedmodel.SyntheticModel.flt;
import static dev.segcam.savedmodel.SyntheticModel.func;
import static dev.segcam.savedmodel.SyntheticModel.ints;
import static dev.segcam.savedmodel.SyntheticModel.op;
import static dev.segcam.savedmodel.SyntheticModel.str;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.ir.Graph;
import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;

/** Op mapping, folding and naming on small synthetic SavedModels. */
class OpMappingTest {
  @TempDir Path tmp;

  private static final float TOL = 1e-6f;

  private static float[] random(Random r, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }

  private static float[] positive(Random r, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = 0.5f + r.nextFloat();
    }
    return v;
  }

  private Graph load(SyntheticModel m) {
    return SavedModelImporter.load(m.write(tmp.resolve("m")), null).graph();
  }

  private static List<String> types(Graph g) {
    return g.nodes().stream().map(n -> n.op().type()).toList();
  }

  @Test
  void convBiasBatchNormReluPoolMeanDenseSoftmax() {
    Random r = new Random(1);
    float[] w = random(r, 3 * 3 * 3 * 4);
    float[] b = random(r, 4);
    float[] gamma = random(r, 4);
    float[] beta = random(r, 4);
    float[] mean = random(r, 4);
    float[] var = positive(r, 4);
    float[] dense = random(r, 5 * 4); // (5,4): used with transpose_b
    float[] db = random(r, 5);
    float eps = 1e-3f;
    SyntheticModel m =
        new SyntheticModel()
            .input("image", "x", -1, 8, 8, 3)
            .constant("w", new int[] {3, 3, 3, 4}, w)
            .constant("b", new int[] {4}, b)
            .constant("gamma", new int[] {4}, gamma)
            .constant("beta", new int[] {4}, beta)
            .constant("mean", new int[] {4}, mean)
            .constant("var", new int[] {4}, var)
            .node(
                op("block/conv/Conv2D", "Conv2D", "x", "w")
                    .putAttr("strides", ints(1, 1, 1, 1))
                    .putAttr("dilations", ints(1, 2, 2, 1))
                    .putAttr("padding", str("SAME"))
                    .putAttr("data_format", str("NHWC")))
            .node(op("block/conv/BiasAdd", "BiasAdd", "block/conv/Conv2D", "b"))
            .node(
                op(
                        "block/bn/FusedBatchNormV3",
                        "FusedBatchNormV3",
                        "block/conv/BiasAdd",
                        "gamma",
                        "beta",
                        "mean",
                        "var")
                    .putAttr("epsilon", flt(eps))
                    .putAttr("is_training", bool(false)))
            .node(op("block/relu/Relu", "Relu", "block/bn/FusedBatchNormV3:0"))
            .node(
                op("block/pool/MaxPool", "MaxPool", "block/relu/Relu")
                    .putAttr("ksize", ints(1, 2, 2, 1))
                    .putAttr("strides", ints(1, 2, 2, 1))
                    .putAttr("padding", str("VALID")))
            .intConstant("axes", new int[] {2}, 1, 2)
            .node(
                op("gap/Mean", "Mean", "block/pool/MaxPool", "axes")
                    .putAttr("keep_dims", bool(false)))
            .constant("dw", new int[] {5, 4}, dense)
            .constant("db", new int[] {5}, db)
            .node(op("fc/MatMul", "MatMul", "gap/Mean", "dw").putAttr("transpose_b", bool(true)))
            .node(op("fc/BiasAdd", "BiasAdd", "fc/MatMul", "db"))
            .node(op("fc/Softmax", "Softmax", "fc/BiasAdd"))
            .output("probs", "fc/Softmax:0");
    Graph g = load(m);
    assertEquals(
        List.of("Input", "Conv2D", "Relu", "MaxPool", "SpatialMean", "MatMul", "Softmax"),
        types(g));
    Node conv = g.node("block/bn");
    assertEquals(Shape.of(-1, 8, 8, 4), conv.shape());
    Op.Conv2D c = (Op.Conv2D) conv.op();
    assertEquals(2, c.dilationH());
    assertEquals(Padding.SAME, c.padding());
    for (int i = 0; i < w.length; i++) {
      int o = i % 4;
      float scale = (float) (gamma[o] / Math.sqrt(var[o] + eps));
      assertEquals(w[i] * scale, c.filter().data()[i], TOL * 10, "filter " + i);
    }
    for (int o = 0; o < 4; o++) {
      float scale = (float) (gamma[o] / Math.sqrt(var[o] + eps));
      assertEquals((b[o] - mean[o]) * scale + beta[o], c.bias().data()[o], 1e-5f, "bias " + o);
    }
    assertEquals(List.of("block/bn"), g.node("block/relu").inputs());
    assertEquals(Shape.of(-1, 4, 4, 4), g.node("block/pool").shape());
    assertEquals(Shape.of(-1, 4), g.node("gap").shape());
    Op.MatMul mm = (Op.MatMul) g.node("fc/MatMul").op();
    assertEquals(Shape.of(4, 5), mm.weights().shape());
    for (int i = 0; i < 4; i++) {
      for (int j = 0; j < 5; j++) {
        assertEquals(dense[j * 4 + i], mm.weights().data()[i * 5 + j]);
      }
    }
    assertArrayEquals(db, mm.bias().data());
    assertEquals("fc", g.outputs().get("probs"));
  }

  @Test
  void shapeSubgraphsAreFoldedForResizeAndFlatten() {
    SyntheticModel m =
        new SyntheticModel()
            .input("x", "in", -1, 4, 6, 2)
            .node(op("up/Shape", "Shape", "in"))
            .intConstant("up/b", new int[] {1}, 1)
            .intConstant("up/e", new int[] {1}, 3)
            .intConstant("up/s", new int[] {1}, 1)
            .node(op("up/strided_slice", "StridedSlice", "up/Shape", "up/b", "up/e", "up/s"))
            .intConstant("up/two", new int[] {2}, 2, 2)
            .node(op("up/mul", "Mul", "up/strided_slice", "up/two"))
            .node(
                op("up/resize/ResizeBilinear", "ResizeBilinear", "in", "up/mul")
                    .putAttr("half_pixel_centers", bool(true)))
            .node(op("act/Relu6", "Relu6", "up/resize/ResizeBilinear"))
            .node(op("flatten/Shape", "Shape", "act/Relu6"))
            .intConstant("flatten/b", new int[] {1}, 0)
            .intConstant("flatten/e", new int[] {1}, 1)
            .intConstant("flatten/s", new int[] {1}, 1)
            .node(
                op(
                        "flatten/strided_slice",
                        "StridedSlice",
                        "flatten/Shape",
                        "flatten/b",
                        "flatten/e",
                        "flatten/s")
                    .putAttr(
                        "shrink_axis_mask",
                        SyntheticModel.type(DataType.DT_INVALID).toBuilder().setI(1).build()))
            .intConstant("flatten/minus1", new int[] {}, -1)
            .node(op("flatten/Reshape/shape", "Pack", "flatten/strided_slice", "flatten/minus1"))
            .node(op("flatten/Reshape", "Reshape", "act/Relu6", "flatten/Reshape/shape"))
            .output("flat", "flatten/Reshape");
    Graph g = load(m);
    assertEquals(List.of("Input", "Resize", "Relu6", "Reshape"), types(g));
    Op.Resize rs = (Op.Resize) g.node("up/resize").op();
    assertEquals(8, rs.outH());
    assertEquals(12, rs.outW());
    assertTrue(rs.halfPixelCenters());
    assertEquals(Op.ResizeMode.BILINEAR, rs.mode());
    assertEquals(Shape.of(-1, 8 * 12 * 2), g.node("flatten").shape());
  }

  @Test
  void unfoldableShapeGivesTypedError() {
    SyntheticModel m =
        new SyntheticModel()
            .input("x", "in", -1, -1, -1, 2)
            .node(op("Shape", "Shape", "in"))
            .node(op("Reshape", "Reshape", "in", "Shape"))
            .output("y", "Reshape");
    ImportException e = assertThrows(ImportException.class, () -> load(m));
    assertTrue(e.getMessage().contains("cannot fold"), e.getMessage());
    assertEquals("Reshape", e.where().node());
  }

  @Test
  void transposedConvGetsOutputSizeFromShapeComputation() {
    Random r = new Random(2);
    float[] f = random(r, 3 * 3 * 5 * 2); // (KH,KW,F=5,C=2)
    SyntheticModel m =
        new SyntheticModel()
            .input("x", "in", -1, 7, 7, 2)
            .node(op("up/Shape", "Shape", "in"))
            .intConstant("up/b", new int[] {1}, 0)
            .intConstant("up/e", new int[] {1}, 1)
            .intConstant("up/s", new int[] {1}, 1)
            .node(
                op("up/strided_slice", "StridedSlice", "up/Shape", "up/b", "up/e", "up/s")
                    .putAttr(
                        "shrink_axis_mask",
                        SyntheticModel.type(DataType.DT_INVALID).toBuilder().setI(1).build()))
            .intConstant("up/h", new int[] {}, 14)
            .intConstant("up/w", new int[] {}, 14)
            .intConstant("up/f", new int[] {}, 5)
            .node(op("up/stack", "Pack", "up/strided_slice", "up/h", "up/w", "up/f"))
            .constant("up/kernel", new int[] {3, 3, 5, 2}, f)
            .node(
                op("up/conv2d_transpose", "Conv2DBackpropInput", "up/stack", "up/kernel", "in")
                    .putAttr("strides", ints(1, 2, 2, 1))
                    .putAttr("padding", str("SAME")))
            .output("y", "up/conv2d_transpose");
    Graph g = load(m);
    Op.Conv2DTranspose t = (Op.Conv2DTranspose) g.node("up").op();
    assertEquals(14, t.outH());
    assertEquals(14, t.outW());
    assertEquals(Shape.of(-1, 14, 14, 5), g.node("up").shape());
    assertArrayEquals(f, t.filter().data());
  }

  @Test
  void elementwiseConcatPadDepthwiseReshapes() {
    Random r = new Random(3);
    float[] dw = random(r, 3 * 3 * 2 * 1);
    SyntheticModel m =
        new SyntheticModel()
            .input("x", "in", -1, 5, 5, 2)
            .constant("dw/w", new int[] {3, 3, 2, 1}, dw)
            .node(
                op("dw/depthwise", "DepthwiseConv2dNative", "in", "dw/w")
                    .putAttr("strides", ints(1, 1, 1, 1))
                    .putAttr("padding", str("SAME")))
            .node(op("lr/LeakyRelu", "LeakyRelu", "dw/depthwise").putAttr("alpha", flt(0.3f)))
            .node(op("e/Elu", "Elu", "in"))
            .node(op("s/Sigmoid", "Sigmoid", "e/Elu"))
            .node(op("t/Tanh", "Tanh", "s/Sigmoid"))
            .constant("k", new int[] {}, 2f)
            .node(op("sub/sub", "Sub", "t/Tanh", "k"))
            .node(op("div/truediv", "RealDiv", "sub/sub", "k"))
            .node(op("add/add", "AddV2", "div/truediv", "lr/LeakyRelu"))
            .intConstant("cat/axis", new int[] {}, -1)
            .node(op("cat/concat", "ConcatV2", "add/add", "in", "cat/axis"))
            .intConstant("pad/p", new int[] {4, 2}, 0, 0, 1, 2, 3, 0, 0, 0)
            .node(op("pad/Pad", "Pad", "cat/concat", "pad/p"))
            .intConstant("ex/axis", new int[] {}, 1)
            .node(op("ex/ExpandDims", "ExpandDims", "pad/Pad", "ex/axis"))
            .node(op("sq/Squeeze", "Squeeze", "ex/ExpandDims").putAttr("squeeze_dims", ints(1)))
            .node(
                op("sm/Cast", "Cast", "sq/Squeeze")
                    .putAttr("DstT", SyntheticModel.type(DataType.DT_FLOAT)))
            .output("y", "sm/Cast");
    Graph g = load(m);
    assertEquals(Shape.of(-1, 5, 5, 4), g.node("cat").shape());
    assertEquals(3, ((Op.Concat) g.node("cat").op()).axis());
    Op.Pad p = (Op.Pad) g.node("pad").op();
    assertArrayEquals(new int[] {1, 2}, p.paddings().get(1));
    assertEquals(Shape.of(-1, 8, 8, 4), g.node("pad").shape());
    assertEquals(Shape.of(-1, 1, 8, 8, 4), g.node("ex").shape());
    assertEquals(Shape.of(-1, 8, 8, 4), g.node("sq").shape());
    assertEquals(0.3f, ((Op.Activation) g.node("lr").op()).alpha());
    Node div = g.node("div");
    assertEquals(Op.BinaryKind.DIV, ((Op.Binary) div.op()).kind());
    assertEquals(2f, ((Op.Const) g.node(div.inputs().get(1)).op()).value().data()[0]);
    assertArrayEquals(dw, ((Op.DepthwiseConv2D) g.node("dw").op()).filter().data());
    // The Cast to float is an identity: the output is the Squeeze's reshape.
    assertEquals("sq", g.outputs().get("y"));
  }

  @Test
  void expMapsToTheIrExp() {
    SyntheticModel m =
        new SyntheticModel()
            .input("x", "in", -1, 3, 3, 2)
            .node(op("e/Exp", "Exp", "in"))
            .output("y", "e/Exp");
    Graph g = load(m);
    assertEquals(new Op.Exp(), g.node("e").op());
    assertEquals(Shape.of(-1, 3, 3, 2), g.node("e").shape());
  }

  @Test
  void functionsAreInlinedAndCapturedVariablesResolved() {
    Random r = new Random(4);
    float[] kernel = random(r, 3 * 2);
    float[] bias = random(r, 2);
    NodeDef inner1 = op("ReadVariableOp", "ReadVariableOp", "w").build();
    NodeDef inner2 = op("MatMul", "MatMul", "x", "ReadVariableOp:value:0").build();
    NodeDef inner3 = constF("bias", new int[] {2}, bias);
    NodeDef inner4 = op("BiasAdd", "BiasAdd", "MatMul:product:0", "bias:output:0").build();
    NodeDef inner5 = op("Relu", "Relu", "BiasAdd:output:0").build();
    NodeDef inner6 = op("IdentityN", "IdentityN", "Relu:activations:0", "x").build();
    var dense =
        SyntheticModel.function(
            "__inference_dense_layer_call_7",
            List.of("x", "w"),
            List.of("out"),
            Map.of("out", "IdentityN:output:0"),
            inner1,
            inner2,
            inner3,
            inner4,
            inner5,
            inner6);
    NodeDef call =
        op("model/dense/StatefulPartitionedCall", "StatefulPartitionedCall", "x", "w")
            .putAttr("f", func("__inference_dense_layer_call_7"))
            .build();
    NodeDef id =
        op(
                "Identity",
                "Identity",
                "model/dense/StatefulPartitionedCall:output:0",
                "^model/dense/StatefulPartitionedCall")
            .build();
    var model =
        SyntheticModel.function(
            "__inference_model_3",
            List.of("x", "w"),
            List.of("identity"),
            Map.of("identity", "Identity:output:0"),
            call,
            id);
    SyntheticModel m =
        new SyntheticModel()
            .input("input_1", "serving_default_input_1", -1, 3)
            .function(dense)
            .function(model)
            .node(
                op("dense/kernel", "VarHandleOp")
                    .putAttr("shared_name", str("dense/kernel"))
                    .putAttr("dtype", SyntheticModel.type(DataType.DT_FLOAT)))
            .node(
                op(
                        "StatefulPartitionedCall",
                        "StatefulPartitionedCall",
                        "serving_default_input_1",
                        "dense/kernel")
                    .putAttr("f", func("__inference_model_3")))
            .output("out", "StatefulPartitionedCall:0");
    m.variables.put("dense/kernel", kernel);
    m.variableShapes.put("dense/kernel", new int[] {3, 2});
    Graph g = load(m);
    assertEquals(List.of("Input", "MatMul", "Relu"), types(g));
    assertEquals("dense", g.outputs().get("out"));
    Op.MatMul mm = (Op.MatMul) g.node("dense/MatMul").op();
    assertArrayEquals(kernel, mm.weights().data());
    assertArrayEquals(bias, mm.bias().data());
  }

  @Test
  void recursiveFunctionIsATypedError() {
    NodeDef self = op("again", "StatefulPartitionedCall", "x").putAttr("f", func("loop")).build();
    var loop =
        SyntheticModel.function(
            "loop", List.of("x"), List.of("y"), Map.of("y", "again:output:0"), self);
    SyntheticModel m =
        new SyntheticModel()
            .input("x", "in", -1, 2)
            .function(loop)
            .node(op("call", "PartitionedCall", "in").putAttr("f", func("loop")))
            .output("y", "call:0");
    ImportException e = assertThrows(ImportException.class, () -> load(m));
    assertTrue(e.getMessage().contains("calls itself"), e.getMessage());
    assertEquals("loop", e.where().function());
  }

  @Test
  void deeplyNestedFunctionsHitTheDepthGuard() {
    SyntheticModel m = new SyntheticModel().input("x", "in", -1, 2);
    int levels = Flattener.MAX_CALL_DEPTH + 5;
    for (int i = 0; i < levels; i++) {
      NodeDef body =
          i == levels - 1
              ? op("r", "Relu", "x").build()
              : op("c", "PartitionedCall", "x").putAttr("f", func("f" + (i + 1))).build();
      String ret = i == levels - 1 ? "r:activations:0" : "c:output:0";
      m.function(
          SyntheticModel.function("f" + i, List.of("x"), List.of("y"), Map.of("y", ret), body));
    }
    m.node(op("call", "PartitionedCall", "in").putAttr("f", func("f0"))).output("y", "call:0");
    ImportException e = assertThrows(ImportException.class, () -> load(m));
    assertTrue(e.getMessage().contains("nest deeper"), e.getMessage());
  }

  @Test
  void unknownOpIsNamedWithNodeAndFunction() {
    NodeDef erf = op("block/Digamma", "Digamma", "x").build();
    var f =
        SyntheticModel.function(
            "__inference_gelu_1",
            List.of("x"),
            List.of("y"),
            Map.of("y", "block/Digamma:y:0"),
            erf);
    SyntheticModel m =
        new SyntheticModel()
            .input("x", "in", -1, 2)
            .function(f)
            .node(
                op("call", "StatefulPartitionedCall", "in")
                    .putAttr("f", func("__inference_gelu_1")))
            .output("y", "call:0");
    ImportException e = assertThrows(ImportException.class, () -> load(m));
    assertTrue(e.getMessage().contains("unsupported op Digamma"), e.getMessage());
    assertEquals("call/block/Digamma", e.where().node());
    assertEquals("__inference_gelu_1", e.where().function());
  }

  @Test
  void unsupportedAttributesAreTypedErrors() {
    SyntheticModel nchw =
        new SyntheticModel()
            .input("x", "in", -1, 3, 4, 4)
            .constant("w", new int[] {1, 1, 3, 2}, new float[6])
            .node(
                op("c", "Conv2D", "in", "w")
                    .putAttr("strides", ints(1, 1, 1, 1))
                    .putAttr("padding", str("VALID"))
                    .putAttr("data_format", str("NCHW")))
            .output("y", "c");
    ImportException e1 = assertThrows(ImportException.class, () -> load(nchw));
    assertTrue(e1.getMessage().contains("NCHW"), e1.getMessage());

    SyntheticModel mean =
        new SyntheticModel()
            .input("x", "in", -1, 4, 4, 2)
            .intConstant("axes", new int[] {1}, 0)
            .node(op("m", "Mean", "in", "axes"))
            .output("y", "m");
    ImportException e2 = assertThrows(ImportException.class, () -> load(mean));
    assertTrue(e2.getMessage().contains("reducing the batch axis"), e2.getMessage());

    SyntheticModel mm =
        new SyntheticModel()
            .input("x", "in", -1, 2)
            .constant("w", new int[] {2, 2}, 1, 2, 3, 4)
            .node(op("m", "MatMul", "w", "in"))
            .output("y", "m");
    ImportException e3 = assertThrows(ImportException.class, () -> load(mm));
    assertTrue(e3.getMessage().contains("first operand"), e3.getMessage());
  }

  @Test
  void tf1VariablesAndConstOutputs() {
    SyntheticModel m =
        new SyntheticModel()
            .input("x", "x", -1, 2)
            .variable("dense/kernel", new int[] {2, 3}, 1, 2, 3, 4, 5, 6)
            .node(op("dense/kernel/read", "Identity", "dense/kernel"))
            .node(op("dense/MatMul", "MatMul", "x", "dense/kernel/read"))
            .output("y", "dense/MatMul:0");
    Graph g = load(m);
    Op.MatMul mm = (Op.MatMul) g.node("dense").op();
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, mm.weights().data());
    assertNull(mm.bias());
  }

  @Test
  void layerNames() {
    assertEquals(
        "model/conv2d_3", ReadableNames.layerOf("StatefulPartitionedCall/model/conv2d_3/Conv2D"));
    assertEquals(
        "model/conv2d_3",
        ReadableNames.layerOf(
            "StatefulPartitionedCall/model/conv2d_3/StatefulPartitionedCall/BiasAdd"));
    assertEquals("add", ReadableNames.layerOf("add"));
    assertEquals("Relu", ReadableNames.layerOf("StatefulPartitionedCall/Relu"));
  }

  @Test
  void sharedModelScopeIsStrippedAndNamesStayUnique() {
    Graph.Builder b = Graph.builder();
    b.add("in", new Op.Input(Shape.of(-1, 2)));
    b.add(
        "StatefulPartitionedCall/model/dense/MatMul",
        new Op.MatMul(new dev.segcam.ir.FloatTensor(Shape.of(2, 2), new float[4]), null),
        "in");
    b.add(
        "StatefulPartitionedCall/model/dense/Relu",
        new Op.Activation(Op.ActivationKind.RELU, 0),
        "StatefulPartitionedCall/model/dense/MatMul");
    b.add(
        "StatefulPartitionedCall/model/out/Relu",
        new Op.Activation(Op.ActivationKind.RELU, 0),
        "StatefulPartitionedCall/model/dense/Relu");
    b.output("y", "StatefulPartitionedCall/model/out/Relu");
    Map<String, String> names = ReadableNames.of(b.build(), java.util.Set.of("in"));
    assertEquals("dense/MatMul", names.get("StatefulPartitionedCall/model/dense/MatMul"));
    assertEquals("dense", names.get("StatefulPartitionedCall/model/dense/Relu"));
    assertEquals("out", names.get("StatefulPartitionedCall/model/out/Relu"));
    assertEquals("in", names.get("in"));
  }

  @Test
  void malformedGraphsGiveTypedErrors() {
    SyntheticModel undefined =
        new SyntheticModel()
            .input("x", "in", -1, 2)
            .node(op("r", "Relu", "ghost"))
            .output("y", "r");
    ImportException e1 = assertThrows(ImportException.class, () -> load(undefined));
    assertEquals("ghost", e1.where().node());

    SyntheticModel cycle =
        new SyntheticModel()
            .input("x", "in", -1, 2)
            .node(op("a", "Relu", "b"))
            .node(op("b", "Relu", "a"))
            .output("y", "b");
    ImportException e2 = assertThrows(ImportException.class, () -> load(cycle));
    assertTrue(e2.getMessage().contains("cycle"), e2.getMessage());

    SyntheticModel missingInput =
        new SyntheticModel()
            .input("x", "in", -1, 2)
            .node(op("e", "ExpandDims", "in"))
            .output("y", "e");
    ImportException e3 = assertThrows(ImportException.class, () -> load(missingInput));
    assertEquals("e", e3.where().node());

    SyntheticModel hugeConst = new SyntheticModel().input("x", "in", -1, 2);
    NodeDef.Builder big = constF("big", new int[] {1 << 15, 1 << 15}, 1f).toBuilder();
    var t =
        big.getAttrOrThrow("value").getTensor().toBuilder().clearTensorContent().addFloatVal(1f);
    big.putAttr("value", org.tensorflow.proto.AttrValue.newBuilder().setTensor(t).build());
    hugeConst.node(big).node(op("m", "Mul", "in", "big")).output("y", "m");
    ImportException e4 = assertThrows(ImportException.class, () -> load(hugeConst));
    assertTrue(e4.getMessage().contains("too large"), e4.getMessage());
  }

  @Test
  void unfusedBatchNormArithmeticIsFoldedToConstants() {
    // Keras' non-fused batch norm: x * (gamma * rsqrt(var + eps)) + (beta - mean * that)
    SyntheticModel m =
        new SyntheticModel()
            .input("x", "in", -1, 4, 4, 2)
            .constant("var", new int[] {2}, 4f, 16f)
            .constant("eps", new int[] {}, 0f)
            .constant("gamma", new int[] {2}, 1f, 2f)
            .node(op("bn/add", "AddV2", "var", "eps"))
            .node(op("bn/Rsqrt", "Rsqrt", "bn/add"))
            .node(op("bn/mul", "Mul", "bn/Rsqrt", "gamma"))
            .node(op("bn/mul_1", "Mul", "in", "bn/mul"))
            .output("y", "bn/mul_1");
    Graph g = load(m);
    Node mul = g.node("bn");
    Op.Const k = (Op.Const) g.node(mul.inputs().get(1)).op();
    assertArrayEquals(new float[] {0.5f, 0.5f}, k.value().data());
  }

  static SyntheticModel upsampleOfUnknownSize() {
    return new SyntheticModel()
        .input("x", "in", -1, -1, -1, 2)
        .node(op("up/Shape", "Shape", "in"))
        .intConstant("up/b", new int[] {1}, 1)
        .intConstant("up/e", new int[] {1}, 3)
        .intConstant("up/s", new int[] {1}, 1)
        .node(op("up/strided_slice", "StridedSlice", "up/Shape", "up/b", "up/e", "up/s"))
        .intConstant("up/two", new int[] {2}, 2, 2)
        .node(op("up/mul", "Mul", "up/strided_slice", "up/two"))
        .node(op("up/resize", "ResizeNearestNeighbor", "in", "up/mul"))
        .output("y", "up/resize");
  }

  @Test
  void givenInputShapesLetRunTimeSizesFold() {
    Path dir = upsampleOfUnknownSize().write(tmp.resolve("up"));
    ImportException e = assertThrows(ImportException.class, () -> SavedModelImporter.load(dir));
    assertTrue(e.getMessage().contains("known only at run time"), e.getMessage());
    assertEquals("up/resize", e.where().node());

    ImportedModel m = SavedModelImporter.load(dir, null, Map.of("x", Shape.of(-1, 4, 6, 2)));
    Op.Resize r = (Op.Resize) m.graph().node("up").op();
    assertEquals(Op.ResizeMode.NEAREST, r.mode());
    assertEquals(8, r.outH());
    assertEquals(12, r.outW());
    assertEquals(Shape.of(-1, 4, 6, 2), m.inputs().get(0).shape());
    assertEquals(Shape.of(-1, 8, 12, 2), m.graph().node("up").shape());

    ImportedModel unnamed = SavedModelImporter.load(dir, null, Map.of("", Shape.of(1, 3, 3, 2)));
    assertEquals(Shape.of(1, 6, 6, 2), unnamed.graph().node("up").shape());

    ImportException wrongKey =
        assertThrows(
            ImportException.class,
            () -> SavedModelImporter.load(dir, null, Map.of("image", Shape.of(1, 3, 3, 2))));
    assertTrue(wrongKey.getMessage().contains("not an input"), wrongKey.getMessage());
    ImportException misfit =
        assertThrows(
            ImportException.class,
            () -> SavedModelImporter.load(dir, null, Map.of("x", Shape.of(1, 3, 3, 5))));
    assertTrue(misfit.getMessage().contains("declared [?,?,?,2]"), misfit.getMessage());
  }
}
