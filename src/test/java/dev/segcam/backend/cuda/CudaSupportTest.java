package dev.segcam.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CUDA backend's construction-time check, which needs no GPU: every ModelZoo model and
 * scene-unet are accepted (so the GPU run cannot stop at an unsupported op), and a node it has no
 * kernel for is a typed error naming the node and op. Runs on CPU machines too: the check touches
 * no CUDA library.
 */
class CudaSupportTest {
  @ParameterizedTest(name = "{0}")
  @MethodSource("dev.segcam.backend.cuda.CudaCamBackendTest#models")
  void everyTestModelIsSupported(String model) {
    Graph g = CudaCamBackendTest.load(model);
    assertDoesNotThrow(() -> CudaCamBackend.checkSupported(g));
  }

  @Test
  void aRankFiveBroadcastIsRejectedNamingNodeAndOp() {
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(Shape.of(-1, 2, 3, 4, 5)));
    b.add("y", new Op.Input(Shape.of(-1, 2, 3, 4, 5)));
    b.add("sum5", new Op.Binary(Op.BinaryKind.ADD), "x", "y");
    Graph g = b.output("out", "sum5").build();
    UnsupportedOpException e =
        assertThrows(UnsupportedOpException.class, () -> CudaCamBackend.checkSupported(g));
    assertEquals("sum5", e.where().node());
    assertEquals("Add", e.where().op());
    assertTrue(
        e.getMessage().contains("'sum5'") && e.getMessage().contains("rank 4"), e.getMessage());
  }
}
