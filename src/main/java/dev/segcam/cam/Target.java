package dev.segcam.cam;

import dev.segcam.image.ImageException;
import dev.segcam.image.Images;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.nio.file.Path;

/**
 * What to explain: a class c, a region M of the model's output grid, and what the score is taken
 * on. The score is S = sum over (x,y) in M of w(x,y) * y^c(x,y), with w the region's weights (1
 * inside, 0 outside, or the caller's float weights).
 *
 * <p>Coordinates are in the model's <em>output</em> grid (x = column, y = row, origin top-left),
 * which for usual segmentation nets is the input image's grid. Masks given at the input image's
 * size are sampled (nearest) onto the output grid when the two differ. A classification net is the
 * case of a 1x1 output: use {@link #image(int)} (or the pixel (0,0)).
 *
 * <p>For single-channel (sigmoid) models, class 1 is the foreground and class 0 the background; see
 * {@link ScoreMode}.
 */
public record Target(int classIndex, Region region, ScoreMode scoreMode) {

  public Target {
    if (region == null || scoreMode == null) {
      throw new IllegalArgumentException("target needs a region and a score mode");
    }
    if (classIndex < 0) {
      throw new CamException.ClassOutOfRangeException(
          "class " + classIndex + " is negative; classes are numbered from 0");
    }
  }

  /** The score on one pixel (x, y) of the output. */
  public static Target pixel(int classIndex, int x, int y) {
    return new Target(classIndex, new Pixel(x, y), ScoreMode.LOGITS);
  }

  /**
   * The score summed over the box x0 <= x < x1, y0 <= y < y1 (inclusive-exclusive, like Java's
   * subList and numpy slices).
   */
  public static Target box(int classIndex, int x0, int y0, int x1, int y1) {
    return new Target(classIndex, new Box(x0, y0, x1, y1), ScoreMode.LOGITS);
  }

  /** The score over mask[y][x] == true. */
  public static Target mask(int classIndex, boolean[][] mask) {
    float[][] rows = new float[mask.length][];
    for (int y = 0; y < rows.length; y++) {
      rows[y] = new float[mask[y].length];
      for (int x = 0; x < rows[y].length; x++) {
        rows[y][x] = mask[y][x] ? 1f : 0f;
      }
    }
    return new Target(classIndex, mask(rows, "mask"), ScoreMode.LOGITS);
  }

  /** The score weighted by weights[y][x] (a soft mask; zero = outside). */
  public static Target weights(int classIndex, float[][] weights) {
    return new Target(classIndex, mask(weights, "weight mask"), ScoreMode.LOGITS);
  }

  // rows [y][x], all of one length -> the region of those weights
  private static Mask mask(float[][] rows, String what) {
    int h = rows.length;
    int w = h == 0 ? 0 : rows[0].length;
    float[] m = new float[h * w];
    for (int y = 0; y < h; y++) {
      checkRow(rows[y].length, w, y);
      System.arraycopy(rows[y], 0, m, y * w, w);
    }
    return new Mask(h, w, m, what);
  }

  /** The score over the nonzero pixels of a PNG (any non-alpha band nonzero = in). */
  public static Target maskPng(int classIndex, Path png) {
    BufferedImage img;
    try {
      // the same structure, CRC and size checks as input images: a hostile mask is refused early
      img = Images.read(png);
    } catch (ImageException e) {
      throw new CamException.InputFileException("cannot read mask: " + e.getMessage(), e);
    }
    Raster r = img.getRaster();
    int bands = r.getNumBands() - (img.getColorModel().hasAlpha() ? 1 : 0);
    int h = img.getHeight();
    int w = img.getWidth();
    float[] m = new float[h * w];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        for (int b = 0; b < bands; b++) {
          if (r.getSample(x, y, b) != 0) {
            m[y * w + x] = 1f;
            break;
          }
        }
      }
    }
    return new Target(classIndex, new Mask(h, w, m, "mask " + png), ScoreMode.LOGITS);
  }

  /** The pixels the model predicts as this class (argmax of its output). */
  public static Target predicted(int classIndex) {
    return new Target(classIndex, new Predicted(false), ScoreMode.LOGITS);
  }

  /**
   * The largest 4-connected component (neighbours share an edge, not just a corner) of the pixels
   * predicted as this class; ties go to the component whose first pixel in row-major order comes
   * first.
   */
  public static Target largestComponent(int classIndex) {
    return new Target(classIndex, new Predicted(true), ScoreMode.LOGITS);
  }

  /** The whole output (for a classification net: its single 1x1 "pixel"). */
  public static Target image(int classIndex) {
    return new Target(classIndex, new WholeImage(), ScoreMode.LOGITS);
  }

  /** The same target with its score on logits or probabilities. */
  public Target withScore(ScoreMode mode) {
    return new Target(classIndex, region, mode);
  }

  @Override
  public String toString() {
    return describe(null);
  }

  /** "class 3 (car) box x[0,8) y[2,4) on logits". */
  public String describe(Labels labels) {
    String cls =
        labels == null || classIndex >= labels.size()
            ? "class " + classIndex
            : "class " + classIndex + " (" + labels.name(classIndex) + ")";
    return cls + " " + region.describe() + " on " + scoreMode.name().toLowerCase();
  }

  private static void checkRow(int len, int w, int y) {
    if (len != w) {
      throw new IllegalArgumentException("mask row " + y + " has " + len + " entries, not " + w);
    }
  }

  /** The region M; {@link #weights} resolves it on a concrete output grid. */
  public sealed interface Region permits Pixel, Box, Mask, Predicted, WholeImage {
    String describe();

    /**
     * The weights of M on the output grid (oh, ow), row-major; predicted is the model's label map
     * of the image, cls the target's class. Throws for pixels outside the grid.
     */
    float[] weights(int oh, int ow, int inH, int inW, LabelMap predicted, int cls);
  }

  /**
   * Nearest-neighbour resampling of an (h, w) grid to (oh, ow): for each output pixel (row-major),
   * the index of the input pixel under its centre.
   */
  public static int[] nearestIndex(int h, int w, int oh, int ow) {
    int[] src = new int[oh * ow];
    for (int y = 0; y < oh; y++) {
      int sy = Math.min(h - 1, (int) ((y + 0.5) * h / oh));
      for (int x = 0; x < ow; x++) {
        int sx = Math.min(w - 1, (int) ((x + 0.5) * w / ow));
        src[y * ow + x] = sy * w + sx;
      }
    }
    return src;
  }

  /** Throws {@link CamException.PixelOutOfRangeException} unless (x, y) lies in an ow x oh grid. */
  public static void checkPixel(int x, int y, int ow, int oh) {
    if (x < 0 || y < 0 || x >= ow || y >= oh) {
      throw new CamException.PixelOutOfRangeException(
          "pixel (x="
              + x
              + ", y="
              + y
              + ") is outside the model output of "
              + ow
              + "x"
              + oh
              + " (width x height)");
    }
  }

  public record Pixel(int x, int y) implements Region {
    @Override
    public String describe() {
      return "pixel (x=" + x + ", y=" + y + ")";
    }

    @Override
    public float[] weights(int oh, int ow, int inH, int inW, LabelMap predicted, int cls) {
      checkPixel(x, y, ow, oh);
      float[] m = new float[oh * ow];
      m[y * ow + x] = 1f;
      return m;
    }
  }

  public record Box(int x0, int y0, int x1, int y1) implements Region {
    @Override
    public String describe() {
      return "box x[" + x0 + "," + x1 + ") y[" + y0 + "," + y1 + ")";
    }

    @Override
    public float[] weights(int oh, int ow, int inH, int inW, LabelMap predicted, int cls) {
      if (x0 < 0 || y0 < 0 || x1 > ow || y1 > oh) {
        throw new CamException.PixelOutOfRangeException(
            describe() + " reaches outside the model output of " + ow + "x" + oh + " (w x h)");
      }
      float[] m = new float[oh * ow];
      for (int y = y0; y < y1; y++) {
        for (int x = x0; x < x1; x++) {
          m[y * ow + x] = 1f;
        }
      }
      return m;
    }
  }

  /** A mask of height h and width w, row-major weights. */
  public record Mask(int h, int w, float[] values, String what) implements Region {
    @Override
    public String describe() {
      return what + " " + w + "x" + h;
    }

    @Override
    public float[] weights(int oh, int ow, int inH, int inW, LabelMap predicted, int cls) {
      if (h == oh && w == ow) {
        return values.clone();
      }
      if (h != inH || w != inW) {
        throw new CamException.PixelOutOfRangeException(
            describe()
                + " matches neither the model output ("
                + ow
                + "x"
                + oh
                + ") nor the input image ("
                + inW
                + "x"
                + inH
                + ")");
      }
      int[] src = nearestIndex(h, w, oh, ow);
      float[] m = new float[oh * ow];
      for (int i = 0; i < m.length; i++) {
        m[i] = values[src[i]];
      }
      return m;
    }
  }

  /** Pixels predicted as the class; with largestComponent only its largest 4-connected part. */
  public record Predicted(boolean largestComponent) implements Region {
    @Override
    public String describe() {
      return largestComponent ? "largest predicted component" : "predicted pixels";
    }

    @Override
    public float[] weights(int oh, int ow, int inH, int inW, LabelMap predicted, int cls) {
      float[] m = new float[oh * ow];
      int[] p = predicted.classes();
      if (!largestComponent) {
        for (int i = 0; i < m.length; i++) {
          m[i] = p[i] == cls ? 1f : 0f;
        }
        return m;
      }
      int[] comp = Target.largestComponent(p, oh, ow, cls);
      for (int i : comp) {
        m[i] = 1f;
      }
      return m;
    }
  }

  public record WholeImage() implements Region {
    @Override
    public String describe() {
      return "whole image";
    }

    @Override
    public float[] weights(int oh, int ow, int inH, int inW, LabelMap predicted, int cls) {
      float[] m = new float[oh * ow];
      java.util.Arrays.fill(m, 1f);
      return m;
    }
  }

  // labels (h,w) -> flat indices of the largest 4-connected component of value cls
  static int[] largestComponent(int[] labels, int h, int w, int cls) {
    boolean[] seen = new boolean[labels.length];
    int[] best = new int[0];
    // breadth-first with the component buffer as its own queue: no recursion (a frame-sized blob
    // must not overflow the stack) and no boxing
    int[] queue = new int[labels.length];
    for (int start = 0; start < labels.length; start++) {
      if (seen[start] || labels[start] != cls) {
        continue;
      }
      int head = 0;
      int tail = 0;
      seen[start] = true;
      queue[tail++] = start;
      while (head < tail) {
        int i = queue[head++];
        int x = i % w;
        int y = i / w;
        if (x > 0 && !seen[i - 1] && labels[i - 1] == cls) {
          seen[i - 1] = true;
          queue[tail++] = i - 1;
        }
        if (x + 1 < w && !seen[i + 1] && labels[i + 1] == cls) {
          seen[i + 1] = true;
          queue[tail++] = i + 1;
        }
        if (y > 0 && !seen[i - w] && labels[i - w] == cls) {
          seen[i - w] = true;
          queue[tail++] = i - w;
        }
        if (y + 1 < h && !seen[i + w] && labels[i + w] == cls) {
          seen[i + w] = true;
          queue[tail++] = i + w;
        }
      }
      if (tail > best.length) {
        best = java.util.Arrays.copyOf(queue, tail);
      }
    }
    return best;
  }
}
