package dev.segcam.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import org.junit.jupiter.api.Test;

/** The metric code against cases computed by hand (values in the comments). */
class MetricsTest {
  /** Double sums of a few float terms: exact up to float rounding of the inputs. */
  static final double EXACT = 1e-6;

  private static FloatTensor map(int h, int w, float... v) {
    return new FloatTensor(Shape.of(h, w), v);
  }

  @Test
  void aucIsTheTrapezoidOverTheFractionChanged() {
    // ((1 + 0.5) / 2 + (0.5 + 0) / 2) / 2 = (0.75 + 0.25) / 2
    assertEquals(0.5, Faithfulness.auc(new double[] {1, 0.5, 0}), EXACT);
    // constant curve: its value
    assertEquals(0.3, Faithfulness.auc(new double[] {0.3, 0.3, 0.3, 0.3, 0.3}), EXACT);
    // ((0 + 1) / 2) / 1
    assertEquals(0.5, Faithfulness.auc(new double[] {0, 1}), EXACT);
    assertThrows(EvalException.class, () -> Faithfulness.auc(new double[] {1}));
  }

  @Test
  void orderIsByHeatDescendingTiesInRowMajorOrder() {
    assertArrayEquals(
        new int[] {1, 3, 0, 2}, Faithfulness.order(new float[] {0.2f, 0.9f, 0.2f, 0.5f}));
    assertArrayEquals(new int[] {2, 0, 1}, Faithfulness.order(new float[] {0f, Float.NaN, 1f}));
  }

  @Test
  void stepsChangeFloorOfTheirShareOfThePixels() {
    assertEquals(0, Faithfulness.changed(0, 3, 10));
    assertEquals(3, Faithfulness.changed(1, 3, 10)); // floor(10/3)
    assertEquals(6, Faithfulness.changed(2, 3, 10)); // floor(20/3)
    assertEquals(10, Faithfulness.changed(3, 3, 10));
  }

  @Test
  void deletionTakesBaselinePixelsInsertionTakesImagePixels() {
    float[] orig = {1, 10, 2, 20, 3, 30, 4, 40}; // 4 pixels, 2 channels
    float[] base = {-1, -1, -2, -2, -3, -3, -4, -4};
    int[] order = {1, 3, 0, 2};
    float[] dst = new float[10];
    Faithfulness.perturb(orig, base, order, 2, 2, false, dst, 1);
    assertArrayEquals(new float[] {0, 1, 10, -2, -2, 3, 30, -4, -4, 0}, dst);
    Faithfulness.perturb(orig, base, order, 2, 2, true, dst, 1);
    assertArrayEquals(new float[] {0, -1, -1, 2, 20, -3, -3, 4, 40, 0}, dst);
  }

  @Test
  void regionProbabilityIsTheWeightedMeanOfTheClassProbability() {
    float ln3 = (float) Math.log(3);
    // pixel 0: softmax(0, ln 3) = (1/4, 3/4); pixel 1: (1/2, 1/2); offset 1 skips a leading value
    float[] v = {99, 0, ln3, 0, 0};
    assertEquals(0.625, Faithfulness.regionProbability(v, 1, 2, 2, 1, new float[] {1, 1}), EXACT);
    assertEquals(0.75, Faithfulness.regionProbability(v, 1, 2, 2, 1, new float[] {1, 0}), EXACT);
    // weights 3 and 1: (3 * 3/4 + 1 * 1/2) / 4
    assertEquals(0.6875, Faithfulness.regionProbability(v, 1, 2, 2, 1, new float[] {3, 1}), EXACT);
    assertEquals(0.25, Faithfulness.regionProbability(v, 1, 2, 2, 0, new float[] {1, 0}), EXACT);
    // single sigmoid channel: sigmoid(ln 3) = 3/4 for class 1, 1/4 for class 0
    float[] s = {ln3};
    assertEquals(0.75, Faithfulness.regionProbability(s, 0, 1, 1, 1, new float[] {1}), EXACT);
    assertEquals(0.25, Faithfulness.regionProbability(s, 0, 1, 1, 0, new float[] {1}), EXACT);
    assertTrue(Double.isNaN(Faithfulness.regionProbability(v, 1, 2, 2, 1, new float[2])));
  }

  @Test
  void blurKeepsAConstantImageAndSpreadsAnImpulseSymmetrically() {
    float[] flat = new float[5 * 7 * 3];
    java.util.Arrays.fill(flat, 0.4f);
    float[] b = Faithfulness.blur(flat, 5, 7, 3, 1.5);
    for (float x : b) {
      assertEquals(0.4, x, EXACT);
    }
    float[] imp = new float[9 * 9];
    imp[4 * 9 + 4] = 1;
    float[] bi = Faithfulness.blur(imp, 9, 9, 1, 1.0);
    double sum = 0;
    for (float x : bi) {
      sum += x;
    }
    // radius 3 fits inside the 9x9 image: nothing clamped, the kernel sums to 1
    assertEquals(1.0, sum, EXACT);
    assertEquals(bi[4 * 9 + 3], bi[4 * 9 + 5], EXACT);
    assertEquals(bi[3 * 9 + 4], bi[4 * 9 + 3], EXACT);
    // ratio of the 1D Gaussian at 1 and 0: exp(-1/2)
    assertEquals(Math.exp(-0.5), bi[4 * 9 + 5] / bi[4 * 9 + 4], 1e-5);
    float[] c = Faithfulness.baseline(imp, 9, 9, 1, new Faithfulness.Constant(0.25f));
    for (float x : c) {
      assertEquals(0.25f, x);
    }
  }

  @Test
  void pointingGameLooksAtTheFirstHottestPixel() {
    // 3x3, hottest at (x=1, y=1) = index 4
    FloatTensor h = map(3, 3, 0, 1, 0, 1, 5, 1, 0, 1, 0);
    boolean[] centre = new boolean[9];
    centre[4] = true;
    boolean[] corner = new boolean[9];
    corner[0] = true;
    assertTrue(Localization.pointingGame(h, centre, 0));
    assertFalse(Localization.pointingGame(h, corner, 0));
    assertFalse(Localization.pointingGame(h, corner, 1)); // corner is sqrt(2) away
    assertTrue(Localization.pointingGame(h, corner, 2));
    // ties: the first maximum in row-major order (index 1)
    FloatTensor tie = map(2, 2, 0, 3, 3, 0);
    assertTrue(Localization.pointingGame(tie, new boolean[] {false, true, false, false}, 0));
    assertFalse(Localization.pointingGame(tie, new boolean[] {false, false, true, false}, 0));
    assertThrows(EvalException.class, () -> Localization.pointingGame(h, new boolean[4], 0));
    assertThrows(EvalException.class, () -> Localization.pointingGame(h, centre, -1));
  }

  @Test
  void energyInMaskIsTheShareOfHeatOnTheMask() {
    FloatTensor h = map(2, 2, 1, 2, 3, 4);
    // (1 + 4) / 10
    assertEquals(
        0.5, Localization.energyInMask(h, new boolean[] {true, false, false, true}), EXACT);
    assertEquals(1.0, Localization.energyInMask(h, new boolean[] {true, true, true, true}), EXACT);
    assertTrue(Double.isNaN(Localization.energyInMask(map(2, 2, 0, 0, 0, 0), new boolean[4])));
  }

  @Test
  void regionSensitivityIsTheTotalVariationOfUnitSumMaps() {
    // same up to scale
    assertEquals(
        0, Localization.regionSensitivity(map(2, 2, 1, 1, 0, 0), map(2, 2, 2, 2, 0, 0)), EXACT);
    // disjoint
    assertEquals(1, Localization.regionSensitivity(map(1, 2, 1, 0), map(1, 2, 0, 7)), EXACT);
    // (.5,.5,0,0) vs (.5,0,0,.5): (0 + .5 + 0 + .5) / 2
    assertEquals(
        0.5, Localization.regionSensitivity(map(2, 2, 1, 1, 0, 0), map(2, 2, 1, 0, 0, 1)), EXACT);
    assertTrue(Double.isNaN(Localization.regionSensitivity(map(1, 2, 0, 0), map(1, 2, 1, 0))));
    assertThrows(
        EvalException.class,
        () -> Localization.regionSensitivity(map(1, 2, 1, 0), map(2, 1, 1, 0)));
  }
}
