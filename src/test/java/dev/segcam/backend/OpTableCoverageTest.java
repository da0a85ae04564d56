package dev.segcam.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.cpu.CpuOpTable;
import dev.segcam.ir.Op;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Every IR op has a forward and a backward entry in every backend's op table. Java 17 cannot check
 * an exhaustive switch over the {@link Op} records at compile time; this walks the sealed
 * interface's permitted subclasses instead, so adding an op without a backend entry fails here.
 */
class OpTableCoverageTest {
  /**
   * Every backend's table. The CUDA table is plain Java: it loads without a GPU. oneDNN's table
   * only touches its context when an entry runs, so it is built here without one.
   */
  static Map<String, OpTable<?, ?>> tables() {
    return Map.of(
        "cpu",
        CpuOpTable.TABLE,
        "cuda",
        dev.segcam.backend.cuda.CudaOpTable.TABLE,
        "onednn",
        dev.segcam.backend.onednn.OneDnnOpTable.of(null));
  }

  @Test
  void everyBackendCoversEveryIrOp() {
    Class<?>[] ops = Op.class.getPermittedSubclasses();
    assertTrue(ops.length >= 17, "Op's permitted subclasses: " + ops.length);
    for (Map.Entry<String, OpTable<?, ?>> e : tables().entrySet()) {
      assertEquals(List.of(), e.getValue().missing(), e.getKey() + " op table lacks these IR ops");
    }
  }

  @Test
  void missingEntriesAreReported() {
    OpTable<String, String> t = new OpTable<>("test");
    t.put(Op.Softmax.class, "fwd", "bwd");
    assertEquals(Op.class.getPermittedSubclasses().length - 1, t.missing().size());
    assertTrue(!t.missing().contains(Op.Softmax.class));
    assertThrows(IllegalStateException.class, () -> t.put(Op.Softmax.class, "again", "again"));
    assertThrows(IllegalStateException.class, () -> t.forward(new Op.Concat(3)));
    assertEquals("fwd", t.forward(new Op.Softmax()));
  }

  @Test
  void kernelCodesAreExplicitAndDistinct() {
    // the codes the .cu sources use today (ACT_* and BIN_* defines): fixed numbers, not ordinals
    int[] act = {0, 1, 2, 3, 4, 5};
    Op.ActivationKind[] kinds = {
      Op.ActivationKind.RELU,
      Op.ActivationKind.RELU6,
      Op.ActivationKind.LEAKY_RELU,
      Op.ActivationKind.ELU,
      Op.ActivationKind.SIGMOID,
      Op.ActivationKind.TANH
    };
    for (int i = 0; i < act.length; i++) {
      assertEquals(act[i], kinds[i].code, kinds[i].name());
      assertEquals(kinds[i], Op.ActivationKind.ofCode(act[i]));
    }
    Set<Integer> bin = new HashSet<>();
    for (Op.BinaryKind k : Op.BinaryKind.values()) {
      assertTrue(bin.add(k.code), "duplicate binary code " + k.code);
      assertEquals(k, Op.BinaryKind.ofCode(k.code));
    }
    assertEquals(2, Op.BinaryKind.MUL.code);
    assertEquals(3, Op.BinaryKind.DIV.code);
  }

  @Test
  void traitsFollowTensorFlowsGradientRegistry() {
    assertEquals(Op.GradReads.INPUT, Op.ActivationKind.RELU.gradReads); // TensorFlow's ReluGrad
    // segcam's ReLU family reads its output (the same mask), a negative LeakyRelu slope its input
    assertEquals(Op.GradReads.OUTPUT, new Op.Activation(Op.ActivationKind.RELU, 0).gradReads());
    assertEquals(Op.GradReads.OUTPUT, new Op.Activation(Op.ActivationKind.RELU6, 0).gradReads());
    assertEquals(
        Op.GradReads.OUTPUT, new Op.Activation(Op.ActivationKind.LEAKY_RELU, 0.2f).gradReads());
    assertEquals(
        Op.GradReads.INPUT, new Op.Activation(Op.ActivationKind.LEAKY_RELU, -0.2f).gradReads());
    assertEquals(Op.GradReads.OUTPUT, new Op.Activation(Op.ActivationKind.TANH, 0).gradReads());
    assertEquals(Op.GradReads.OUTPUT, new Op.Softmax().gradReads());
    assertTrue(new Op.Softmax().probabilityHead());
    assertTrue(new Op.Activation(Op.ActivationKind.SIGMOID, 0).probabilityHead());
    assertTrue(!new Op.Activation(Op.ActivationKind.TANH, 0).probabilityHead());
    assertTrue(new Op.Activation(Op.ActivationKind.ELU, 0).pointwise());
    assertTrue(!new Op.Concat(3).pointwise());
  }
}
