package dev.segcam.testing;

import static org.junit.jupiter.api.Assertions.fail;

import dev.segcam.ir.FloatTensor;

/**
 * The one tolerance rule of the project: |ref - x| <= atol + rtol * |ref|, for every element. On
 * failure the message lists the first few mismatches with their flat index, and the max errors.
 */
public record Tolerance(double rtol, double atol) {
  /** FP32 CPU engine vs TensorFlow. */
  public static final Tolerance CPU_VS_TF = new Tolerance(1e-4, 1e-5);

  /** CUDA vs CPU engine in strict FP32. */
  public static final Tolerance CUDA_FP32 = new Tolerance(1e-5, 1e-6);

  /** CUDA vs CPU engine with TF32/FP16 tensor-core math. */
  public static final Tolerance CUDA_TF32 = new Tolerance(1e-3, 1e-4);

  /**
   * CUDA in strict FP32 vs TensorFlow: by the triangle inequality, the CPU engine's bound against
   * TF plus CUDA's against the CPU engine.
   */
  public static final Tolerance CUDA_FP32_VS_TF =
      new Tolerance(CPU_VS_TF.rtol + CUDA_FP32.rtol, CPU_VS_TF.atol + CUDA_FP32.atol);

  /**
   * Results that must agree to rounding: the same computation in the same order (e.g. batched vs
   * single runs of one deterministic Java kernel). Never for two different computations; see {@link
   * #reassociated}.
   */
  public static final Tolerance SAME = new Tolerance(1e-6, 1e-7);

  /** float32 unit roundoff, 2^-24: the relative error of one rounded float32 operation. */
  public static final double EPS32 = 0x1p-24;

  /**
   * Safety factor over the probabilistic rounding bound {@code sqrt(K) * EPS32} for one sum of K
   * terms: two computations each contribute an error, and the typical bound is exceeded by a few
   * standard deviations in some of thousands of checked elements.
   */
  public static final double REASSOCIATION_SAFETY = 16;

  /**
   * Two <em>different</em> float32 computations of the same math: another graph, another kernel,
   * another instruction set (TensorFlow's oneDNN picks AVX2, AVX-512 or AMX kernels per machine),
   * another summation order. Both round each partial sum; a sum of K terms in float32 carries a
   * rounding error that grows like {@code sqrt(K) * EPS32} times the sum of the terms' magnitudes
   * (Higham's probabilistic bound, random rounding errors), so two orders differ by about as much.
   * The error is relative to the magnitude of the terms, not to the result (terms cancel), so the
   * absolute part scales with {@code magnitude}, a typical size of the compared values (their max
   * |ref|).
   *
   * @param accumulationLength K: the number of float32 terms accumulated into one compared value
   *     along its whole path, i.e. the sum of the fan-ins (kernel height x width x input channels,
   *     matmul inner size, pooled window) of the layers it passes through
   * @param magnitude the scale of the compared values, e.g. max |ref|
   */
  public static Tolerance reassociated(long accumulationLength, double magnitude) {
    if (accumulationLength < 1 || !(magnitude >= 0)) {
      throw new IllegalArgumentException(
          "accumulation length " + accumulationLength + ", magnitude " + magnitude);
    }
    double rtol = REASSOCIATION_SAFETY * EPS32 * Math.sqrt(accumulationLength);
    return new Tolerance(rtol, rtol * Math.max(magnitude, Float.MIN_NORMAL));
  }

  /** The largest |x| of a reference, the magnitude for {@link #reassociated}. */
  public static double maxAbs(float[] ref) {
    double m = 0;
    for (float v : ref) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }

  private static final int SHOWN = 5;

  public void assertClose(String what, float[] ref, float[] got) {
    if (ref.length != got.length) {
      fail(what + ": length " + got.length + " != reference length " + ref.length);
    }
    StringBuilder bad = new StringBuilder();
    int nBad = 0;
    double maxAbs = 0;
    double maxRel = 0;
    for (int i = 0; i < ref.length; i++) {
      double r = ref[i];
      double x = got[i];
      double err = Math.abs(r - x);
      if (!(err <= atol + rtol * Math.abs(r))) { // also catches NaN
        if (nBad < SHOWN) {
          bad.append(String.format("%n  [%d] ref=%.8g got=%.8g", i, r, x));
        }
        nBad++;
      }
      maxAbs = Math.max(maxAbs, err);
      if (Math.abs(r) > atol) {
        maxRel = Math.max(maxRel, err / Math.abs(r));
      }
    }
    if (nBad > 0) {
      fail(
          String.format(
              "%s: %d of %d elements outside rtol=%.2g atol=%.2g (max abs err %.3g, max rel err"
                  + " %.3g):%s",
              what, nBad, ref.length, rtol, atol, maxAbs, maxRel, bad));
    }
  }

  public void assertClose(String what, FloatTensor ref, FloatTensor got) {
    if (!ref.shape().equals(got.shape())) {
      fail(what + ": shape " + got.shape() + " != reference shape " + ref.shape());
    }
    assertClose(what, ref.data(), got.data());
  }
}
