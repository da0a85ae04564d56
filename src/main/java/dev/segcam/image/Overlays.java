package dev.segcam.image;

import dev.segcam.SegcamException;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.ShapeException;
import dev.segcam.kernels.ColormapKernels;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Locale;

/** Heatmaps as colour images, heatmaps blended over images, segmentation maps with a legend. */
public final class Overlays {
  /** A palette entry that leaves the image untouched (used for the background class). */
  public static final int TRANSPARENT = -1;

  /** Distinct, readable colours (Kelly/Tableau-like) for classes 1, 2, ...; reused cyclically. */
  private static final int[] COLOURS = {
    0xE6194B, 0x3CB44B, 0x4363D8, 0xFFE119, 0xF58231, 0x911EB4, 0x42D4F4, 0xF032E6, 0xBFEF45,
    0xFABED4, 0x469990, 0xDCBEFF, 0x9A6324, 0xFFFAC8, 0x800000, 0xAAFFC3, 0x808000, 0xFFD8B1,
    0x000075, 0xA9A9A9
  };

  static {
    Headless.ensure();
  }

  private Overlays() {}

  /** The heatmap map (H,W) in [0,1] as a colour image. */
  public static BufferedImage heatmap(float[] map, int height, int width, Colormaps cmap) {
    checkMap(map, height, width);
    BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        out.setRGB(x, y, cmap.packed(map[y * width + x]));
      }
    }
    return out;
  }

  /** A heatmap tensor of shape (H,W), (H,W,1), (1,H,W) or (1,H,W,1) as a colour image. */
  public static BufferedImage heatmap(FloatTensor map, Colormaps cmap) {
    int[] hw = mapDims(map);
    return heatmap(map.data(), hw[0], hw[1], cmap);
  }

  /**
   * Heatmap over image: each channel (1 − alpha)·image + alpha·255·cmap(map), rounded half up. With
   * {@link Colormaps#JET} this runs ColormapKernels.colormap_blend, the CPU twin of the CUDA
   * kernel, so both give the same bytes.
   *
   * <p>{@code // image RGB8 (H,W,3), map (H,W) in [0,1], alpha in [0,1] -> RGB8 (H,W,3)}
   */
  public static BufferedImage blend(
      BufferedImage image, float[] map, int height, int width, float alpha, Colormaps cmap) {
    checkMap(map, height, width);
    checkSameSize(image, height, width, "heatmap");
    checkAlpha(alpha);
    if (cmap == Colormaps.JET) {
      return jetBlend(image, map, height, width, alpha);
    }
    float keep = 1f - alpha;
    float[] c = new float[3];
    BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        int p = image.getRGB(x, y);
        cmap.rgb(map[y * width + x], c);
        int r = Colormaps.to8(keep * ((p >> 16) & 0xFF) + alpha * (255f * c[0]));
        int g = Colormaps.to8(keep * ((p >> 8) & 0xFF) + alpha * (255f * c[1]));
        int b = Colormaps.to8(keep * (p & 0xFF) + alpha * (255f * c[2]));
        out.setRGB(x, y, (r << 16) | (g << 8) | b);
      }
    }
    return out;
  }

  /** Jet goes through the CPU twin of the CUDA kernel itself: one implementation, same bytes. */
  private static BufferedImage jetBlend(
      BufferedImage image, float[] map, int height, int width, float alpha) {
    int hw = height * width;
    int[] px = image.getRGB(0, 0, width, height, null, 0, width);
    byte[] rgb8 = new byte[3 * hw];
    for (int p = 0; p < hw; p++) {
      rgb8[3 * p] = (byte) (px[p] >> 16);
      rgb8[3 * p + 1] = (byte) (px[p] >> 8);
      rgb8[3 * p + 2] = (byte) px[p];
    }
    byte[] rgba = new byte[4 * hw];
    ColormapKernels.colormap_blend(rgba, map, rgb8, height, width, alpha);
    for (int p = 0; p < hw; p++) {
      px[p] =
          ((rgba[4 * p] & 0xFF) << 16) | ((rgba[4 * p + 1] & 0xFF) << 8) | (rgba[4 * p + 2] & 0xFF);
    }
    BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    out.setRGB(0, 0, width, height, px, 0, width);
    return out;
  }

  /** {@link #blend(BufferedImage, float[], int, int, float, Colormaps)} with a map tensor. */
  public static BufferedImage blend(
      BufferedImage image, FloatTensor map, float alpha, Colormaps cmap) {
    int[] hw = mapDims(map);
    return blend(image, map.data(), hw[0], hw[1], alpha, cmap);
  }

  /**
   * Per-pixel class of logits or probabilities (1,H,W,K) (or (H,W,K)): the first maximal class.
   *
   * <p>{@code // scores (1,H,W,K) -> labels (H*W)}
   */
  public static int[] argmax(FloatTensor scores) {
    int[] d = scores.shape().dims();
    if (!(d.length == 4 && d[0] == 1) && d.length != 3) {
      throw new ShapeException("argmax wants scores (1,H,W,K) or (H,W,K), got " + scores.shape());
    }
    int k = d[d.length - 1];
    int n = scores.size() / k;
    float[] v = scores.data();
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      int best = 0;
      for (int c = 1; c < k; c++) {
        if (v[i * k + c] > v[i * k + best]) {
          best = c;
        }
      }
      labels[i] = best;
    }
    return labels;
  }

  /**
   * A palette for the classes: a class called "background" (or "bg", "void", "none") is {@link
   * #TRANSPARENT}, the others get distinct colours in order.
   */
  public static int[] defaultPalette(List<String> classNames) {
    int[] p = new int[classNames.size()];
    int next = 0;
    for (int c = 0; c < p.length; c++) {
      String n = classNames.get(c).trim().toLowerCase(Locale.ROOT);
      if (n.equals("background") || n.equals("bg") || n.equals("void") || n.equals("none")) {
        p[c] = TRANSPARENT;
      } else {
        p[c] = COLOURS[next++ % COLOURS.length];
      }
    }
    return p;
  }

  /**
   * Segmentation over image: pixels of class c become (1 − alpha)·image + alpha·palette[c]; classes
   * whose colour is {@link #TRANSPARENT} are left as they are.
   *
   * <p>{@code // image RGB8 (H,W,3), labels (H*W) in [0,K) -> RGB8 (H,W,3)}
   */
  public static BufferedImage segmentation(
      BufferedImage image, int[] labels, int[] palette, float alpha) {
    int w = image.getWidth();
    int h = image.getHeight();
    if (labels.length != w * h) {
      throw new ShapeException(
          "label map has " + labels.length + " pixels, the image " + w + "x" + h + " has " + w * h);
    }
    checkAlpha(alpha);
    float keep = 1f - alpha;
    BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int l = labels[y * w + x];
        if (l < 0 || l >= palette.length) {
          throw new SegcamException(
              "label "
                  + l
                  + " at pixel (y="
                  + y
                  + ", x="
                  + x
                  + ") outside 0.."
                  + (palette.length - 1));
        }
        int p = image.getRGB(x, y) & 0xFFFFFF;
        int c = palette[l];
        if (c != TRANSPARENT) {
          int r = Colormaps.to8(keep * ((p >> 16) & 0xFF) + alpha * ((c >> 16) & 0xFF));
          int g = Colormaps.to8(keep * ((p >> 8) & 0xFF) + alpha * ((c >> 8) & 0xFF));
          int b = Colormaps.to8(keep * (p & 0xFF) + alpha * (c & 0xFF));
          p = (r << 16) | (g << 8) | b;
        }
        out.setRGB(x, y, p);
      }
    }
    return out;
  }

  /**
   * Segmentation overlay with the default palette and a legend on the right listing only the
   * classes that occur in {@code labels} (a 124-class model gets a legend of what is there).
   */
  public static BufferedImage segmentation(
      BufferedImage image, int[] labels, List<String> classNames, float alpha) {
    int[] palette = defaultPalette(classNames);
    BufferedImage seg = segmentation(image, labels, palette, alpha);
    List<Integer> present = present(labels, classNames.size());
    return withLegend(seg, names(classNames, present), colours(palette, present));
  }

  /**
   * The image with the outline of a region drawn in {@code rgb}: the pixels inside whose
   * 4-neighbour is outside (or off the image). A one-pixel region becomes that pixel.
   *
   * <p>{@code // image RGB8 (H,W,3), inside (H*W) nonzero = in the region -> RGB8 (H,W,3)}
   */
  public static BufferedImage outline(BufferedImage image, int[] inside, int rgb) {
    int w = image.getWidth();
    int h = image.getHeight();
    if (inside.length != w * h) {
      throw new ShapeException(
          "region has " + inside.length + " pixels, the image " + w + "x" + h + " has " + w * h);
    }
    BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int i = y * w + x;
        boolean edge =
            inside[i] != 0
                && (x == 0
                    || y == 0
                    || x == w - 1
                    || y == h - 1
                    || inside[i - 1] == 0
                    || inside[i + 1] == 0
                    || inside[i - w] == 0
                    || inside[i + w] == 0);
        out.setRGB(x, y, edge ? rgb : image.getRGB(x, y));
      }
    }
    return out;
  }

  /** The classes that occur in a label map, ascending (labels outside 0..k-1 are ignored). */
  public static List<Integer> present(int[] labels, int k) {
    boolean[] seen = new boolean[k];
    for (int l : labels) {
      if (l >= 0 && l < k) {
        seen[l] = true;
      }
    }
    List<Integer> out = new java.util.ArrayList<>();
    for (int c = 0; c < k; c++) {
      if (seen[c]) {
        out.add(c);
      }
    }
    return out;
  }

  /** The names of some classes, in the given order. */
  public static List<String> names(List<String> classNames, List<Integer> which) {
    return which.stream().map(classNames::get).toList();
  }

  /** The palette entries of some classes, in the given order. */
  public static int[] colours(int[] palette, List<Integer> which) {
    return which.stream().mapToInt(c -> palette[c]).toArray();
  }

  /**
   * Bilinear resize of a map (half-pixel centres, edges clamped), e.g. a model-sized heatmap to the
   * original image's size.
   *
   * <p>{@code // map (h*w) -> (outH*outW)}
   */
  public static float[] resizeMap(float[] map, int h, int w, int outH, int outW) {
    checkMap(map, h, w);
    float[] out = new float[outH * outW];
    float sy = (float) h / outH;
    float sx = (float) w / outW;
    for (int y = 0; y < outH; y++) {
      float fy = Math.max(0f, Math.min(h - 1f, (y + 0.5f) * sy - 0.5f));
      int y0 = (int) fy;
      int y1 = Math.min(h - 1, y0 + 1);
      float ty = fy - y0;
      for (int x = 0; x < outW; x++) {
        float fx = Math.max(0f, Math.min(w - 1f, (x + 0.5f) * sx - 0.5f));
        int x0 = (int) fx;
        int x1 = Math.min(w - 1, x0 + 1);
        float tx = fx - x0;
        float top = map[y0 * w + x0] * (1 - tx) + map[y0 * w + x1] * tx;
        float bottom = map[y1 * w + x0] * (1 - tx) + map[y1 * w + x1] * tx;
        out[y * outW + x] = top * (1 - ty) + bottom * ty;
      }
    }
    return out;
  }

  /** The image with a white strip on its right listing a swatch and the name of each class. */
  public static BufferedImage withLegend(
      BufferedImage image, List<String> classNames, int[] palette) {
    if (palette.length != classNames.size()) {
      throw new SegcamException(
          "palette has " + palette.length + " colours for " + classNames.size() + " classes");
    }
    Font font = defaultFont();
    FontMetrics fm = metrics(font);
    int line = fm.getHeight() + 4;
    int swatch = fm.getAscent();
    int textW = 0;
    for (String n : classNames) {
      textW = Math.max(textW, fm.stringWidth(n));
    }
    int pad = 6;
    int legendW = pad + swatch + pad + textW + pad;
    int legendH = pad + line * classNames.size() + pad;
    int w = image.getWidth() + legendW;
    int h = Math.max(image.getHeight(), legendH);
    BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = out.createGraphics();
    try {
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, w, h);
      g.drawImage(image, 0, 0, null);
      g.setRenderingHint(
          RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setFont(font);
      int x0 = image.getWidth() + pad;
      for (int c = 0; c < classNames.size(); c++) {
        int top = pad + c * line + (line - swatch) / 2;
        if (palette[c] == TRANSPARENT) {
          g.setColor(Color.GRAY);
          g.drawRect(x0, top, swatch - 1, swatch - 1);
        } else {
          g.setColor(new Color(palette[c]));
          g.fillRect(x0, top, swatch, swatch);
        }
        g.setColor(Color.BLACK);
        g.drawString(classNames.get(c), x0 + swatch + pad, pad + c * line + fm.getAscent() + 2);
      }
    } finally {
      g.dispose();
    }
    return out;
  }

  static Font defaultFont() {
    return new Font(Font.SANS_SERIF, Font.PLAIN, 12);
  }

  static FontMetrics metrics(Font font) {
    BufferedImage scratch = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = scratch.createGraphics();
    try {
      return g.getFontMetrics(font);
    } finally {
      g.dispose();
    }
  }

  private static void checkMap(float[] map, int height, int width) {
    if (height <= 0 || width <= 0 || (long) height * width != map.length) {
      throw new ShapeException(
          "heatmap has "
              + map.length
              + " values, "
              + height
              + "x"
              + width
              + " needs "
              + (long) height * width);
    }
  }

  private static void checkSameSize(BufferedImage image, int height, int width, String what) {
    if (image.getHeight() != height || image.getWidth() != width) {
      throw new ShapeException(
          what
              + " is "
              + height
              + "x"
              + width
              + " (HxW) but the image is "
              + image.getHeight()
              + "x"
              + image.getWidth()
              + "; resize the map first");
    }
  }

  private static void checkAlpha(float alpha) {
    if (!(alpha >= 0f && alpha <= 1f)) {
      throw new SegcamException("alpha must be in [0,1], got " + alpha);
    }
  }

  /** (H,W), (H,W,1), (1,H,W), (1,H,W,1) -> {H,W}. */
  static int[] mapDims(FloatTensor map) {
    int[] d = map.shape().dims();
    if (d.length == 2) {
      return new int[] {d[0], d[1]};
    }
    if (d.length == 3 && d[2] == 1) {
      return new int[] {d[0], d[1]};
    }
    if (d.length == 3 && d[0] == 1) {
      return new int[] {d[1], d[2]};
    }
    if (d.length == 4 && d[0] == 1 && d[3] == 1) {
      return new int[] {d[1], d[2]};
    }
    throw new ShapeException(
        "a heatmap must be (H,W), (H,W,1), (1,H,W) or (1,H,W,1), got " + map.shape());
  }
}
