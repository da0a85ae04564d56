package dev.segcam.backend.cpu.grad;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.segcam.backend.cpu.Parallel;
import dev.segcam.ir.Op.ActivationKind;
import dev.segcam.kernels.ActivationKernels;
import dev.segcam.testing.RandomTensors;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The branch-free ReLU gradients ({@link ElementwiseGrad#reluRange}: Relu, Relu6, LeakyRelu)
 * against the kernel twin's ReluGrad/Relu6Grad/LeakyReluGrad ({@link
 * ActivationKernels#activation_bwd}) and guided backpropagation's rule for the ReLUs ({@link
 * ActivationKernels#guided_relu_bwd}), bit for bit: fresh random values with the edge cases mixed
 * in (±0, ±inf, NaN, subnormals), values tiled to K targets, into a new array and into dy itself.
 */
class ElementwiseGradTest {
  /** Spread of the drawn values: well past Relu6's cap on both sides. */
  private static final float X_SPREAD = 8;

  /** LeakyRelu's slope. */
  private static final float ALPHA = 0.2f;

  private static final float[] EDGES = {
    0f,
    -0f,
    Float.MIN_VALUE,
    -Float.MIN_VALUE,
    Float.MIN_NORMAL,
    Float.MAX_VALUE,
    -Float.MAX_VALUE,
    Float.POSITIVE_INFINITY,
    Float.NEGATIVE_INFINITY,
    Float.NaN,
    Float.intBitsToFloat(0xFFC00000), // a NaN with the sign bit
    Float.intBitsToFloat(0x7F800001) // the smallest positive NaN
  };

  @ParameterizedTest
  @EnumSource(
      value = ActivationKind.class,
      names = {"RELU", "RELU6", "LEAKY_RELU"})
  void reluGradientsEqualTheKernelTwinBitForBit(ActivationKind kind) {
    Random rng = new Random(RandomTensors.freshSeed("ElementwiseGradTest"));
    int n = 3 * 1000 + 17; // not a multiple of the parallel chunk
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] =
          rng.nextInt(4) == 0
              ? EDGES[rng.nextInt(EDGES.length)]
              : (float) rng.nextGaussian() * X_SPREAD; // both sides of Relu6's 6
      if (rng.nextInt(16) == 0) {
        x[i] = 6f + (rng.nextInt(3) - 1) * Math.ulp(6f); // at and beside Relu6's cap
      }
    }
    try (Parallel par = new Parallel(3)) {
      for (int k : new int[] {1, 3}) {
        float[] dy = new float[k * n];
        for (int i = 0; i < dy.length; i++) {
          dy[i] = rng.nextInt(8) == 0 ? EDGES[rng.nextInt(EDGES.length)] : rng.nextFloat() - 0.5f;
        }
        float[] ref = new float[dy.length];
        ActivationKernels.activation_bwd(ref, dy, x, dy.length, n, kind.code, ALPHA);
        float[] fresh = ElementwiseGrad.activation(kind, ALPHA, dy, x, par);
        float[] inPlace = dy.clone();
        float[] got = ElementwiseGrad.activation(kind, ALPHA, inPlace, x, inPlace, par);
        same(kind + ", K " + k, x, dy, ref, fresh, inPlace);
        assertEquals(inPlace, got);
        if (ActivationKernels.guides(kind)) {
          float[] guidedRef = new float[dy.length];
          ActivationKernels.guided_relu_bwd(guidedRef, dy, x, dy.length, n, kind.code);
          float[] guided = ElementwiseGrad.guidedRelu(kind, dy, x, null, par);
          float[] guidedInPlace = dy.clone();
          ElementwiseGrad.guidedRelu(kind, guidedInPlace, x, guidedInPlace, par);
          same("guided " + kind + ", K " + k, x, dy, guidedRef, guided, guidedInPlace);
        }
      }
    }
  }

  /** got and gotInPlace equal ref bit for bit (NaN payloads and the sign of zero included). */
  private static void same(
      String what, float[] x, float[] dy, float[] ref, float[] got, float[] gotInPlace) {
    int n = x.length;
    for (int i = 0; i < dy.length; i++) {
      int r = Float.floatToRawIntBits(ref[i]);
      String at = what + ", element " + i + ": x " + x[i % n] + ", dy " + dy[i];
      assertEquals(r, Float.floatToRawIntBits(got[i]), at);
      assertEquals(r, Float.floatToRawIntBits(gotInPlace[i]), at + " (in place)");
    }
  }
}
