package dev.segcam.backend.onednn;

import dev.segcam.backend.cpu.CpuOps;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.backend.cpu.grad.ElementwiseGrad;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.RequiresOneDnn;
import dev.segcam.testing.Tolerance;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Large arrays are copied into and out of the primitives' memory by several threads ({@link
 * OneDnnContext#PARALLEL_COPY_FLOATS}): every element must land where one thread would put it. ReLU
 * forward and its gradient (two inputs copied in) over more than twice the threshold, with an odd
 * length so the chunks do not divide it, against the Java engine, bit-exact.
 */
@RequiresOneDnn
class OneDnnCopyTest {
  /** ReLU and its mask-only gradient do no arithmetic: bit-exact. */
  private static final Tolerance EXACT = new Tolerance(0, 0);

  @Test
  void largeCopiesInParallelMatchTheJavaEngine() {
    Random rng = new Random(RandomTensors.freshSeed("OneDnnCopyTest"));
    int n = 2 * OneDnnContext.PARALLEL_COPY_FLOATS + 12_345;
    FloatTensor x = RandomTensors.uniform(rng, Shape.of(n), -1, 1);
    float[] dy = RandomTensors.uniform(rng, Shape.of(n), -1, 1).data();
    Op.ActivationKind relu = Op.ActivationKind.RELU;
    try (OneDnnContext ctx = OneDnnContext.open(3);
        Parallel par = new Parallel(1)) {
      FloatTensor y = CpuOps.activation(par, x, relu, 0f);
      EXACT.assertClose(
          "relu fwd", y.data(), OneDnnEltwise.forward(ctx, relu, 0f, n).run(x.data()));
      float[] dxRef = ElementwiseGrad.activation(relu, 0f, dy, x.data(), par);
      EXACT.assertClose(
          "relu bwd", dxRef, OneDnnEltwise.backward(ctx, relu, 0f, n).run(dy, y.data()));
    }
  }
}
