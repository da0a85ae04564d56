package dev.segcam.eval;

import dev.segcam.ir.FloatTensor;

/**
 * Metrics of a heatmap against a ground-truth mask, and of two heatmaps against each other. Maps
 * are (H,W) tensors of non-negative heat (a {@code CamResult}'s heatmap or upsampled map); masks
 * are row-major booleans of the same H*W.
 */
public final class Localization {
  private Localization() {}

  /**
   * Pointing game: whether the hottest pixel (the first maximum in row-major order) lies within
   * {@code tolerance} pixels (Euclidean) of a mask pixel. Tolerance 0: the pixel itself is in the
   * mask.
   */
  public static boolean pointingGame(FloatTensor heat, boolean[] mask, int tolerance) {
    int[] hw = check(heat, mask, "pointing game");
    if (tolerance < 0) {
      throw new EvalException("pointing game tolerance must be >= 0, got " + tolerance);
    }
    float[] v = heat.data();
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    int h = hw[0];
    int w = hw[1];
    int by = best / w;
    int bx = best % w;
    long t2 = (long) tolerance * tolerance;
    for (int y = Math.max(0, by - tolerance); y <= Math.min(h - 1, by + tolerance); y++) {
      for (int x = Math.max(0, bx - tolerance); x <= Math.min(w - 1, bx + tolerance); x++) {
        long d2 = (long) (y - by) * (y - by) + (long) (x - bx) * (x - bx);
        if (d2 <= t2 && mask[y * w + x]) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * Energy in mask: the share of the map's total heat that lies in the mask, in [0,1]; NaN for an
   * all-zero map.
   */
  public static double energyInMask(FloatTensor heat, boolean[] mask) {
    check(heat, mask, "energy in mask");
    float[] v = heat.data();
    double in = 0;
    double all = 0;
    for (int i = 0; i < v.length; i++) {
      double e = Math.max(0f, v[i]);
      all += e;
      if (mask[i]) {
        in += e;
      }
    }
    return all == 0 ? Double.NaN : in / all;
  }

  /**
   * Region sensitivity: how much a map changes when only the region changes. Both maps are scaled
   * to sum 1 and the score is half their L1 distance (total variation), in [0,1]: 0 when they are
   * equal up to scale (as at a layer with a linear path to the scores), 1 when their heat does not
   * overlap at all. NaN when either map is all zero.
   */
  public static double regionSensitivity(FloatTensor a, FloatTensor b) {
    if (!a.shape().equals(b.shape())) {
      throw new EvalException(
          "region sensitivity needs maps of one shape, got " + a.shape() + " and " + b.shape());
    }
    float[] x = a.data();
    float[] y = b.data();
    double sx = 0;
    double sy = 0;
    for (int i = 0; i < x.length; i++) {
      sx += Math.max(0f, x[i]);
      sy += Math.max(0f, y[i]);
    }
    if (sx == 0 || sy == 0) {
      return Double.NaN;
    }
    double d = 0;
    for (int i = 0; i < x.length; i++) {
      d += Math.abs(Math.max(0f, x[i]) / sx - Math.max(0f, y[i]) / sy);
    }
    return d / 2;
  }

  private static int[] check(FloatTensor heat, boolean[] mask, String what) {
    if (heat.shape().rank() != 2) {
      throw new EvalException(what + " needs an (H,W) map, got " + heat.shape());
    }
    int h = heat.shape().dim(0);
    int w = heat.shape().dim(1);
    if (mask.length != h * w) {
      throw new EvalException(
          what
              + ": the mask has "
              + mask.length
              + " pixels but the map is "
              + w
              + "x"
              + h
              + " ("
              + (h * w)
              + ")");
    }
    return new int[] {h, w};
  }
}
