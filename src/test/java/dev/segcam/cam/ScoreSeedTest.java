package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.SeedMode;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.testing.Tolerance;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The masked score and its seed: closed forms, and the seed against finite differences. Subclass
 * and override {@link #backend()} to run it against another backend.
 */
public class ScoreSeedTest {
  protected CamBackend backend() {
    return new PixelwiseNetBackend(2, 2, false, 1);
  }

  private CamTensor up(FloatTensor t) {
    return b.upload(t);
  }

  /** Central differences in double of a float-evaluated score. */
  private static final Tolerance FINITE_DIFF = new Tolerance(2e-3, 2e-4);

  private static final double STEP = 1e-3;

  private final CamBackend b = backend();
  private final Random rnd = new Random(11);

  private float[] rand(int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) rnd.nextGaussian();
    }
    return v;
  }

  /** Scores of all rows for values v (N,2,3,ch), random soft masks, two targets per image. */
  private float[] scores(float[] v, int ch, float[] masks, int[] cls, SeedMode[] modes) {
    float[] s = new float[cls.length];
    b.scoreSeed(
        up(new FloatTensor(Shape.of(2, 2, 3, ch), v)),
        up(new FloatTensor(Shape.of(cls.length, 2, 3), masks)),
        cls,
        modes,
        s);
    return s;
  }

  private void checkAgainstFiniteDifferences(int ch, SeedMode mode, int... classes) {
    float[] v = rand(2 * 6 * ch);
    int rows = 2 * classes.length;
    int[] cls = new int[rows];
    SeedMode[] modes = new SeedMode[rows];
    for (int r = 0; r < rows; r++) {
      cls[r] = classes[r / 2];
      modes[r] = mode;
    }
    float[] masks = rand(rows * 6);
    float[] s = new float[rows];
    float[] seed =
        b.scoreSeed(
                up(new FloatTensor(Shape.of(2, 2, 3, ch), v)),
                up(new FloatTensor(Shape.of(rows, 2, 3), masks)),
                cls,
                modes,
                s)
            .toHost()
            .data();
    float[] numeric = new float[seed.length];
    for (int r = 0; r < rows; r++) {
      int img = r % 2;
      for (int i = 0; i < 6 * ch; i++) {
        float[] vp = v.clone();
        float[] vm = v.clone();
        vp[img * 6 * ch + i] += STEP;
        vm[img * 6 * ch + i] -= STEP;
        double d = (scores(vp, ch, masks, cls, modes)[r] - scores(vm, ch, masks, cls, modes)[r]);
        numeric[r * 6 * ch + i] = (float) (d / (2 * STEP));
      }
    }
    FINITE_DIFF.assertClose(mode + " seed, " + ch + " channels", numeric, seed);
  }

  @Test
  void seedsAreTheScoresGradient() {
    checkAgainstFiniteDifferences(4, SeedMode.LINEAR, 0, 3);
    checkAgainstFiniteDifferences(4, SeedMode.SOFTMAX, 2, 1);
    checkAgainstFiniteDifferences(1, SeedMode.LINEAR, 1, 0);
    checkAgainstFiniteDifferences(1, SeedMode.SIGMOID, 1, 0);
  }

  @Test
  void scoresInClosedForm() {
    // one image, two targets: class 2 on logits and on softmax probabilities
    float[] v = rand(6 * 3);
    float[] ones = new float[2 * 6];
    Arrays.fill(ones, 1f);
    float[] s = new float[2];
    b.scoreSeed(
        up(new FloatTensor(Shape.of(1, 2, 3, 3), v)),
        up(new FloatTensor(Shape.of(2, 2, 3), ones)),
        new int[] {2, 2},
        new SeedMode[] {SeedMode.LINEAR, SeedMode.SOFTMAX},
        s);
    double lin = 0;
    double prob = 0;
    for (int p = 0; p < 6; p++) {
      lin += v[p * 3 + 2];
      int q = p * 3;
      double e0 = Math.exp(v[q]);
      double e1 = Math.exp(v[q + 1]);
      double e2 = Math.exp(v[q + 2]);
      prob += e2 / (e0 + e1 + e2);
    }
    assertEquals(lin, s[0], 1e-5);
    assertEquals(prob, s[1], 1e-5);
  }

  @Test
  void singleChannelBackgroundIsTheComplement() {
    float[] v = rand(2 * 6);
    float[] ones = new float[4 * 6];
    Arrays.fill(ones, 1f);
    for (SeedMode mode : new SeedMode[] {SeedMode.SIGMOID, SeedMode.LINEAR}) {
      float[] s = new float[4];
      // target 0 = foreground (rows 0,1 = images 0,1), target 1 = background (rows 2,3)
      b.scoreSeed(
          up(new FloatTensor(Shape.of(2, 2, 3, 1), v)),
          up(new FloatTensor(Shape.of(4, 2, 3), ones)),
          new int[] {1, 1, 0, 0},
          new SeedMode[] {mode, mode, mode, mode},
          s);
      double total = mode == SeedMode.SIGMOID ? 6 : 0; // 1 - p summed over 6 pixels, or -z
      assertEquals(total, s[0] + s[2], 1e-5);
      assertEquals(total, s[1] + s[3], 1e-5);
    }
  }
}
