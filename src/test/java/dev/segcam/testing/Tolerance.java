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

  /** Results that must agree to rounding (e.g. batched vs single runs). */
  public static final Tolerance SAME = new Tolerance(1e-6, 1e-7);

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
              "%s: %d of %d elements outside rtol=%.1g atol=%.1g (max abs err %.3g, max rel err"
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
