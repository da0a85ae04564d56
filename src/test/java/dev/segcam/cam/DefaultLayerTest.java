package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.segcam.backend.CamTensor;
import dev.segcam.backend.HostCamBackend;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The default-layer rule on graph shapes only (no values needed). */
class DefaultLayerTest {
  private static Op conv(int kh, int cin, int cout, int stride) {
    return new Op.Conv2D(
        FloatTensor.zeros(Shape.of(kh, kh, cin, cout)),
        FloatTensor.zeros(Shape.of(cout)),
        stride,
        stride,
        1,
        1,
        Padding.SAME);
  }

  private static Op relu() {
    return new Op.Activation(Op.ActivationKind.RELU, 0f);
  }

  /** A backend that only knows its graph: defaultLayer never runs the model. */
  private static Explainer over(Graph g) {
    return new Explainer(
        new HostCamBackend() {
          @Override
          public String name() {
            return "graph-only";
          }

          @Override
          public Graph graph() {
            return g;
          }

          @Override
          public Forward forward(String input, CamTensor images, Set<String> keep) {
            throw new UnsupportedOperationException();
          }
        });
  }

  @Test
  void segmentationNetPicksTheActivationBeforeTheClassifierConv() {
    Graph.Builder b = Graph.builder();
    b.add("in", new Op.Input(Shape.of(-1, 32, 32, 3)));
    b.add("enc", conv(3, 3, 8, 2), "in");
    b.add(
        "enc_bn",
        new Op.BatchNorm(FloatTensor.zeros(Shape.of(8)), FloatTensor.zeros(Shape.of(8))),
        "enc");
    b.add("enc_relu", relu(), "enc_bn");
    b.add("dec", conv(3, 8, 8, 1), "enc_relu");
    b.add("dec_relu", relu(), "dec");
    b.add("head", conv(1, 8, 5, 1), "dec_relu");
    b.add("up", new Op.Resize(Op.ResizeMode.BILINEAR, 32, 32, false, true), "head");
    b.add("probs", new Op.Softmax(), "up");
    b.output("out", "probs");
    assertEquals("dec_relu", over(b.build()).defaultLayer());
  }

  @Test
  void classifierPicksTheLastConvBlockBeforeGlobalPooling() {
    Graph.Builder b = Graph.builder();
    b.add("in", new Op.Input(Shape.of(-1, 16, 16, 3)));
    b.add("c1", conv(3, 3, 4, 1), "in");
    b.add("r1", relu(), "c1");
    b.add("c2", conv(3, 4, 6, 2), "r1");
    b.add("r2", relu(), "c2");
    b.add("gap", new Op.SpatialMean(false), "r2");
    b.add(
        "dense",
        new Op.MatMul(FloatTensor.zeros(Shape.of(6, 10)), FloatTensor.zeros(Shape.of(10))),
        "gap");
    b.add("probs", new Op.Softmax(), "dense");
    b.output("out", "probs");
    assertEquals("r2", over(b.build()).defaultLayer());
  }

  @Test
  void residualOutputsAndFeaturesShrunkToOnePixelAreSkipped() {
    Graph.Builder b = Graph.builder();
    b.add("in", new Op.Input(Shape.of(-1, 4, 4, 3)));
    b.add("c1", conv(3, 3, 4, 1), "in");
    b.add("r1", relu(), "c1");
    b.add("c2", conv(3, 4, 4, 4), "r1"); // 4x4 -> 1x1: no spatial detail left
    b.add("r2", relu(), "c2");
    b.add("add", new Op.Binary(Op.BinaryKind.ADD), "r2", "r2");
    b.add("logits", conv(1, 4, 3, 1), "add");
    b.output("out", "logits");
    assertEquals("r1", over(b.build()).defaultLayer());
  }

  @Test
  void noCandidateIsATypedError() {
    Graph.Builder b = Graph.builder();
    b.add("in", new Op.Input(Shape.of(-1, 8, 8, 3)));
    b.add("probs", new Op.Softmax(), "in");
    b.output("out", "probs");
    var e = assertThrows(CamException.class, () -> over(b.build()).defaultLayer());
    assertTrue(e.getMessage().contains("name a layer"), e.getMessage());
  }

  @Test
  void importedCifarClassifierPicksTheReluBeforeTheDenseHead() {
    Path dir = Path.of("../shared/fixtures/savedmodels/tf1-cifar-cnn");
    assumeTrue(Files.isDirectory(dir), "fixtures not present at " + dir.toAbsolutePath());
    Explainer ex = Explainer.open(dir, g -> new CpuCamBackend(g, null, null, null));
    // Conv2D -> Relu -> Reshape -> MatMul: the dense head reads the flattened relu
    Graph g = ex.backend().graph();
    String layer = ex.defaultLayer();
    assertTrue(g.node(layer).op() instanceof Op.Activation, layer);
    assertTrue(g.node(g.consumers(layer).get(0)).op() instanceof Op.Reshape, layer);
  }

  @Test
  void modelsWithTwoInputsAreRefusedByName() {
    Graph.Builder b = Graph.builder();
    b.add("a", new Op.Input(Shape.of(-1, 4, 4, 3)));
    b.add("b", new Op.Input(Shape.of(-1, 4, 4, 3)));
    b.add("sum", new Op.Binary(Op.BinaryKind.ADD), "a", "b");
    b.add("logits", conv(1, 3, 2, 1), "sum");
    b.output("out", "logits");
    var e =
        assertThrows(
            CamException.class,
            () ->
                over(b.build())
                    .explain(
                        FloatTensor.zeros(Shape.of(1, 4, 4, 3)),
                        java.util.List.of(Target.image(0)),
                        java.util.List.of("sum"),
                        CamMethod.GRAD_CAM));
    assertTrue(e.getMessage().contains("2 inputs [a, b]"), e.getMessage());
  }
}
