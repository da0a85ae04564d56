package dev.segcam.testing;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import java.util.Random;

/**
 * Seeded random tensors for tests. Every test draws a fresh seed, prints it, and can be replayed
 * with {@code -Dsegcam.seed=...}. Values are never all zero: a zero input hides wrong weights,
 * wrong strides and dead ReLUs alike.
 */
public final class RandomTensors {
  private RandomTensors() {}

  /**
   * A fresh seed for one test: -Dsegcam.seed if set, else from the clock. Printed with the test's
   * name so a failure can be replayed.
   */
  public static long freshSeed(String testName) {
    String fixed = System.getProperty("segcam.seed");
    long seed = fixed != null ? Long.parseLong(fixed) : System.nanoTime() ^ testName.hashCode();
    System.out.println("[seed] " + testName + ": -Dsegcam.seed=" + seed);
    return seed;
  }

  /** Uniform values in [lo, hi). */
  public static FloatTensor uniform(Random rng, Shape shape, float lo, float hi) {
    float[] a = new float[shape.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = lo + (hi - lo) * rng.nextFloat();
    }
    return new FloatTensor(shape, a);
  }

  /** An image-like NHWC input in [0, 1), like a normalised photo. */
  public static FloatTensor image(Random rng, int n, int h, int w, int c) {
    return uniform(rng, Shape.of(n, h, w, c), 0f, 1f);
  }

  /** Standard normal values (for activations and gradients that take both signs). */
  public static FloatTensor normal(Random rng, Shape shape) {
    float[] a = new float[shape.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) rng.nextGaussian();
    }
    return new FloatTensor(shape, a);
  }

  /** Input for a shape given as int dims (batch already set). */
  public static FloatTensor input(Random rng, int[] nhwc) {
    return uniform(rng, Shape.of(nhwc), 0f, 1f);
  }

  /** Writes a w x h RGB PNG of fresh noise to file (an image for the CLI's tests). */
  public static void noisePng(java.nio.file.Path file, int w, int h) throws java.io.IOException {
    java.awt.image.BufferedImage img =
        new java.awt.image.BufferedImage(w, h, java.awt.image.BufferedImage.TYPE_INT_RGB);
    Random rng = new Random();
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.setRGB(x, y, rng.nextInt(1 << 24));
      }
    }
    javax.imageio.ImageIO.write(img, "png", file.toFile());
  }
}
