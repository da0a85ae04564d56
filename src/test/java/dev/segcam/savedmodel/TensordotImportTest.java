package dev.segcam.savedmodel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.ir.Node;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.testing.KerasZoo;
import dev.segcam.testing.TensordotZoo;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.NodeDef;

/**
 * Keras 2 Dense on tokens (tf.tensordot: Shape, GatherV2, Prod, Pack, Reshape to rows, MatMul,
 * ConcatV2, Reshape back) imports at an image size as MatMul on the last axis; its forward, layer
 * values and gradients equal TensorFlow's ({@link KerasZooTest#check}); a merge read across rows is
 * refused naming the reader.
 */
class TensordotImportTest {
  @Test
  void kerasDenseOnTokensEqualsTensorFlow() {
    ImportedModel m = KerasZooTest.check(TensordotZoo.denseOnTokens());
    long matmuls = m.graph().nodes().stream().filter(n -> n.op() instanceof Op.MatMul).count();
    assertEquals(2, matmuls, "one MatMul per Dense");
    for (Node n : m.graph().nodes()) {
      if (n.op() instanceof Op.MatMul) {
        assertEquals(3, n.shape().rank(), n.name() + " acts on the unmerged tokens: " + n.shape());
      }
    }
  }

  @Test
  void kerasFusedLayerNormOnTokensEqualsTensorFlow() {
    ImportedModel m = KerasZooTest.check(TensordotZoo.fusedLayerNorm());
    assertTrue(
        m.graph().nodes().stream().noneMatch(n -> n.op() instanceof Op.BatchNorm),
        "the training-mode batch norm became moments");
  }

  @Test
  void tensordotOutputIsALayerOnTheTokens() {
    KerasZoo.Model z = TensordotZoo.denseOnTokens();
    ImportedModel m = SavedModelImporter.loadAtImageSize(z.dir(), null, 8, 10);
    // the Dense output (TF Java names it dense/Tensordot_1 beside the dense/Tensordot scope)
    String dense = z.layers().get(2);
    assertTrue(dense.startsWith("dense/Tensordot"), dense);
    assertEquals(Shape.of(-1, 20, 16), m.graph().node(m.nodeForTensor(dense)).shape());
  }

  @Test
  void mergedRowsReadAcrossRowsAreRefusedNamingTheReader() {
    Path dir = TensordotZoo.mergeReadAcrossRows();
    ImportException e =
        assertThrows(
            ImportException.class, () -> SavedModelImporter.loadAtImageSize(dir, null, 4, 6));
    assertTrue(e.getMessage().contains("tokens/total (Sum) reads it"), e.getMessage());
    assertTrue(e.getMessage().contains("tokens/rows"), e.getMessage());
  }

  @Test
  void gatherV2FoldsAlongAnyAxisAndCarriesRunTimeSizes() {
    TfNode n =
        new TfNode(
            "g", NodeDef.newBuilder().setName("g").setOp("GatherV2").build(), null, List.of(), 0);
    // params (2, 3) = [[0, 1, 2], [NaN, 4, 5]], indices (2, 2) along axis 1 (given as -1)
    Cst params = Cst.ints(new int[] {2, 3}, new double[] {0, 1, 2, Double.NaN, 4, 5});
    Cst idx = Cst.ints(new int[] {2, 2}, new double[] {2, 0, 1, 1});
    Cst axis = Cst.ints(new int[0], new double[] {-1});
    Cst got = ConstFolding.fold(n, List.of(params, idx, axis));
    assertArrayEquals(new int[] {2, 2, 2}, got.shape);
    assertArrayEquals(new double[] {2, 0, 1, 1, 5, Double.NaN, 4, 4}, got.d);
    // the tensordot case: the free sizes of a Shape with an unknown batch, axis 0
    Cst shape = Cst.ints(new int[] {3}, new double[] {Double.NaN, 20, 8});
    Cst free = Cst.ints(new int[] {2}, new double[] {0, 1});
    Cst zero = Cst.ints(new int[0], new double[] {0});
    assertArrayEquals(
        new double[] {Double.NaN, 20}, ConstFolding.fold(n, List.of(shape, free, zero)).d);
    Cst outOfRange = Cst.ints(new int[] {1}, new double[] {3});
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> ConstFolding.fold(n, List.of(shape, outOfRange, zero)));
    assertTrue(e.getMessage().contains("index 3 out of range"), e.getMessage());
  }
}
