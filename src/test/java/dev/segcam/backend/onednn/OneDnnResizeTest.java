package dev.segcam.backend.onednn;

import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.segcam.backend.cpu.CpuOps;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.backend.cpu.grad.PoolGrad;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.RequiresOneDnn;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * oneDNN resampling against CpuOps.resize and PoolGrad's resize gradients for TensorFlow's
 * half-pixel rule (up, down, non-integer factors); the other two rules are refused.
 */
@RequiresOneDnn
class OneDnnResizeTest {
  static Parallel par;
  static OneDnnContext ctx;
  static Random rng;

  @BeforeAll
  static void start() {
    par = new Parallel(2);
    ctx = OneDnnContext.open();
    rng = new Random(RandomTensors.freshSeed("OneDnnResizeTest"));
  }

  @AfterAll
  static void stop() {
    if (ctx != null) {
      ctx.close();
    }
    par.close();
  }

  @Test
  void halfPixelResizeForwardAndDataGradient() {
    // {N,H,W,C, OH,OW}: x2 up (the U-Net and CAM upsampling), x4 up, down, non-integer factors
    int[][] cases = {
      {2, 8, 8, 3, 16, 16},
      {1, 5, 7, 4, 20, 28},
      {1, 16, 12, 2, 8, 6},
      {1, 6, 9, 3, 10, 13},
      {1, 1, 1, 2, 3, 3},
    };
    for (Op.ResizeMode mode : Op.ResizeMode.values()) {
      for (int[] k : cases) {
        String what = mode + " " + Arrays.toString(k);
        FloatTensor x = RandomTensors.uniform(rng, Shape.of(k[0], k[1], k[2], k[3]), -1f, 1f);
        Op.Resize op = new Op.Resize(mode, k[4], k[5], false, true);
        FloatTensor ref = CpuOps.resize(par, x, op);
        // a bilinear output is a convex blend of 4 inputs
        Accumulation.overTerms(4)
            .assertClose(what, ref.data(), OneDnnResize.forward(ctx, op, x.shape()).run(x.data()));

        float[] dy = RandomTensors.uniform(rng, Shape.of(k[0], k[4], k[5], k[3]), -1f, 1f).data();
        float[] dxRef =
            PoolGrad.resizeData(
                mode == Op.ResizeMode.BILINEAR,
                dy,
                Shape.of(k[0], k[4], k[5], k[3]),
                Shape.of(k[0], k[1], k[2], k[3]),
                false,
                true,
                par);
        // each dx gathers the weighted dy of the outputs that read it: up to 4·(OH/H + 1)·(OW/W +
        // 1)
        int terms = 4 * (k[4] / k[1] + 2) * (k[5] / k[2] + 2);
        Accumulation.overTerms(terms)
            .assertClose("data " + what, dxRef, OneDnnResize.backward(ctx, op, x.shape()).run(dy));
      }
    }
  }

  @Test
  void alignCornersAndLegacyRuleAreRefused() {
    Shape x = Shape.of(1, 4, 4, 2);
    for (boolean align : new boolean[] {true, false}) {
      Op.Resize op = new Op.Resize(Op.ResizeMode.BILINEAR, 8, 8, align, false);
      assertThrows(OneDnnUnsupportedException.class, () -> OneDnnResize.forward(ctx, op, x));
    }
  }
}
