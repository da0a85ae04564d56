package dev.segcam.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.segcam.testing.Tolerance;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class GemmTest {
  /** Float accumulation in a different order than the double reference. */
  static final Tolerance ACCUM = new Tolerance(1e-5, 2e-5);

  static Parallel par;

  @BeforeAll
  static void start() {
    par = new Parallel(3);
  }

  @AfterAll
  static void stop() {
    par.close();
  }

  static float[] rand(Random r, int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = r.nextFloat() * 2 - 1;
    }
    return x;
  }

  /** Sizes straddle the kernel's 4-step in k and the KC/NB panel edges. */
  @Test
  void allTransposeCombosOddSizes() {
    Random r = new Random(7);
    int[][] sizes = {
      {1, 1, 1}, {3, 5, 7}, {17, 1, 9}, {1, 33, 2}, {37, Gemm.NB + 3, Gemm.KC + 5}, {70, 129, 6}
    };
    for (int[] s : sizes) {
      for (int t = 0; t < 4; t++) {
        boolean ta = (t & 1) != 0;
        boolean tb = (t & 2) != 0;
        check(r, ta, tb, s[0], s[1], s[2], 1.5f, 0f, null);
        check(r, ta, tb, s[0], s[1], s[2], -0.75f, 0.5f, par);
      }
    }
  }

  private static void check(
      Random r, boolean ta, boolean tb, int m, int n, int k, float alpha, float beta, Parallel p) {
    // Offsets and leading dimensions larger than the rows, to catch stride mistakes.
    int lda = (ta ? m : k) + 3;
    int ldb = (tb ? k : n) + 2;
    int ldc = n + 5;
    int aOff = 4;
    int bOff = 1;
    int cOff = 2;
    float[] a = rand(r, aOff + (ta ? k : m) * lda);
    float[] b = rand(r, bOff + (tb ? n : k) * ldb);
    float[] c = rand(r, cOff + m * ldc);
    float[] ref = c.clone();
    NaiveOps.gemm(ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, ref, cOff, ldc);
    Gemm.sgemm(p, ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    ACCUM.assertClose(
        String.format("gemm ta=%b tb=%b m=%d n=%d k=%d threads=%s", ta, tb, m, n, k, p), ref, c);
  }

  @Test
  void largeParallel() {
    Random r = new Random(11);
    check(r, false, false, 150, 300, 260, 1f, 0f, par);
    check(r, true, true, 150, 300, 260, 1f, 1f, par);
  }

  /** Many zeros in A, non-zero counts on both sides of the kernel's multiple of 4. */
  @Test
  void addSkippingZerosMatchesDenseProduct() {
    Random r = new Random(13);
    int[][] sizes = {{1, 1, 1}, {5, 7, 3}, {9, 33, 10}, {4, Gemm.NB + 9, 37}};
    for (int[] s : sizes) {
      int m = s[0];
      int n = s[1];
      int k = s[2];
      int lda = k + 3;
      int ldc = n + 2;
      int aOff = 5;
      int cOff = 1;
      int bRow0 = 2;
      float[] a = rand(r, aOff + m * lda);
      for (int i = 0; i < a.length; i++) {
        if (r.nextInt(3) != 0) {
          a[i] = 0f;
        }
      }
      java.util.Arrays.fill(a, aOff, aOff + k, 0f); // a row with no non-zero at all
      float[][] bRows = new float[bRow0 + k + 1][];
      float[] b = new float[k * n];
      for (int q = 0; q < bRows.length; q++) {
        bRows[q] = rand(r, n + 4);
      }
      for (int q = 0; q < k; q++) {
        System.arraycopy(bRows[bRow0 + q], 0, b, q * n, n);
      }
      float[] c = rand(r, cOff + m * ldc);
      float[] ref = c.clone();
      NaiveOps.gemm(false, false, m, n, k, 1f, a, aOff, lda, b, 0, n, 1f, ref, cOff, ldc);
      Gemm.addSkippingZeros(m, n, k, a, aOff, lda, bRows, bRow0, c, cOff, ldc);
      ACCUM.assertClose(String.format("addSkippingZeros m=%d n=%d k=%d", m, n, k), ref, c);
    }
  }

  @Test
  void addSkippingZerosRejectsRowsOutsideB() {
    assertThrows(
        IllegalArgumentException.class,
        () ->
            Gemm.addSkippingZeros(
                1,
                2,
                3,
                new float[3],
                0,
                3,
                new float[][] {{1, 2}, {3, 4}},
                0,
                new float[2],
                0,
                2));
  }

  @Test
  void betaZeroOverwritesNaN() {
    float[] a = {1, 2};
    float[] b = {3, 4};
    float[] c = {Float.NaN};
    Gemm.sgemm(null, false, false, 1, 1, 2, 1f, a, 0, 2, b, 0, 1, 0f, c, 0, 1);
    ACCUM.assertClose("beta=0", new float[] {11}, c);
  }

  @Test
  void rejectsArraysTooSmall() {
    assertThrows(
        IllegalArgumentException.class,
        () ->
            Gemm.sgemm(
                null,
                false,
                false,
                2,
                2,
                2,
                1f,
                new float[3],
                0,
                2,
                new float[4],
                0,
                2,
                0f,
                new float[4],
                0,
                2));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            Gemm.sgemm(
                null,
                false,
                false,
                2,
                2,
                2,
                1f,
                new float[4],
                0,
                1,
                new float[4],
                0,
                2,
                0f,
                new float[4],
                0,
                2));
  }
}
