package dev.segcam.image;

import dev.segcam.SegcamException;
import dev.segcam.ir.ShapeException;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/**
 * MATLAB-subplot-like figures: titled tiles in a grid, e.g. image | segmentation | one CAM per
 * class. Drawn with Java2D in headless mode with the default sans-serif font.
 */
public final class Panels {
  static {
    Headless.ensure();
  }

  private Panels() {}

  /** Collects titled tiles, then renders them. */
  public static final class Builder {
    private final List<String> titles = new ArrayList<>();
    private final List<BufferedImage> images = new ArrayList<>();
    private final List<Boolean> upscale = new ArrayList<>();
    private int columns = 0;
    private int tileSize = 192;
    private int gap = 8;

    /** Adds a tile; the image is scaled to fit tileSize x tileSize, keeping its aspect ratio. */
    public Builder tile(String title, BufferedImage image) {
      if (image == null) {
        throw new SegcamException("tile '" + title + "' has no image");
      }
      titles.add(title == null ? "" : title);
      images.add(image);
      upscale.add(true);
      return this;
    }

    /** Adds a tile listing a swatch and the name of each class, drawn at its natural size. */
    public Builder legendTile(String title, List<String> classNames, int[] palette) {
      BufferedImage blank = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
      BufferedImage full = Overlays.withLegend(blank, classNames, palette);
      // drop the 1-pixel stand-in image on the left, keep the legend strip
      BufferedImage legend = full.getSubimage(1, 0, full.getWidth() - 1, full.getHeight());
      tile(title, legend);
      upscale.set(upscale.size() - 1, false);
      return this;
    }

    /** Adds a vertical colour bar of {@code cmap}, hottest at the top, labelled with its ends. */
    public Builder colourBarTile(String title, Colormaps cmap, String low, String high) {
      int barW = 16;
      int barH = 128;
      Font font = Overlays.defaultFont();
      FontMetrics fm = Overlays.metrics(font);
      int textW = Math.max(fm.stringWidth(low), fm.stringWidth(high));
      int pad = 4;
      int h = barH + 2 * fm.getHeight();
      BufferedImage bar =
          new BufferedImage(barW + pad + textW + pad, h, BufferedImage.TYPE_INT_RGB);
      Graphics2D g = bar.createGraphics();
      try {
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, bar.getWidth(), h);
        int top = fm.getHeight();
        for (int y = 0; y < barH; y++) {
          float v = 1f - (float) y / (barH - 1);
          g.setColor(new java.awt.Color(cmap.packed(v)));
          g.drawLine(0, top + y, barW - 1, top + y);
        }
        g.setRenderingHint(
            RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setFont(font);
        g.setColor(Color.BLACK);
        g.drawString(high, barW + pad, top + fm.getAscent() / 2);
        g.drawString(low, barW + pad, top + barH + fm.getAscent() / 2);
      } finally {
        g.dispose();
      }
      tile(title, bar);
      upscale.set(upscale.size() - 1, false);
      return this;
    }

    /** Tiles per row; 0 (the default) puts all tiles in one row. */
    public Builder columns(int n) {
      if (n < 0) {
        throw new SegcamException("columns must be >= 0, got " + n);
      }
      columns = n;
      return this;
    }

    /** The longest side of each tile's picture in pixels (default 192). */
    public Builder tileSize(int px) {
      if (px < 8 || px > 4096) {
        throw new ShapeException("tile size must be within 8..4096, got " + px);
      }
      tileSize = px;
      return this;
    }

    public Builder gap(int px) {
      if (px < 0 || px > 256) {
        throw new ShapeException("gap must be within 0..256, got " + px);
      }
      gap = px;
      return this;
    }

    public BufferedImage render() {
      int n = images.size();
      if (n == 0) {
        throw new SegcamException("a panel needs at least one tile");
      }
      int cols = columns == 0 ? n : Math.min(columns, n);
      int rows = (n + cols - 1) / cols;
      Font font = Overlays.defaultFont().deriveFont(Font.BOLD);
      FontMetrics fm = Overlays.metrics(font);
      int titleH = fm.getHeight() + 4;
      int cellW = tileSize;
      int cellH = titleH + tileSize;
      long w = gap + (long) cols * (cellW + gap);
      long h = gap + (long) rows * (cellH + gap);
      if (w > Images.MAX_SIDE || h > Images.MAX_SIDE) {
        throw new ShapeException("panel would be " + w + "x" + h + " pixels; use fewer tiles");
      }
      BufferedImage out = new BufferedImage((int) w, (int) h, BufferedImage.TYPE_INT_RGB);
      Graphics2D g = out.createGraphics();
      try {
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, (int) w, (int) h);
        g.setRenderingHint(
            RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setFont(font);
        for (int i = 0; i < n; i++) {
          int x0 = gap + (i % cols) * (cellW + gap);
          int y0 = gap + (i / cols) * (cellH + gap);
          String t = fit(titles.get(i), fm, cellW);
          g.setColor(Color.BLACK);
          g.drawString(t, x0 + (cellW - fm.stringWidth(t)) / 2, y0 + fm.getAscent() + 1);
          BufferedImage img = images.get(i);
          double s =
              Math.min((double) tileSize / img.getWidth(), (double) tileSize / img.getHeight());
          if (!upscale.get(i)) {
            s = Math.min(1, s);
          }
          int dw = Math.max(1, (int) Math.round(img.getWidth() * s));
          int dh = Math.max(1, (int) Math.round(img.getHeight() * s));
          // upscaling small maps: nearest keeps pixels honest; downscaling: bilinear avoids
          // aliasing
          g.setRenderingHint(
              RenderingHints.KEY_INTERPOLATION,
              s >= 1
                  ? RenderingHints.VALUE_INTERPOLATION_NEAREST_NEIGHBOR
                  : RenderingHints.VALUE_INTERPOLATION_BILINEAR);
          g.drawImage(img, x0 + (cellW - dw) / 2, y0 + titleH + (tileSize - dh) / 2, dw, dh, null);
        }
      } finally {
        g.dispose();
      }
      return out;
    }
  }

  /** Colour of the region outline on CAM tiles. */
  static final int REGION_RGB = 0xFFFFFF;

  /** Largest tile side {@link Builder#tileSize} accepts. */
  public static final int MAX_TILE = 4096;

  /** Tiles of a {@link #segGradCam} figure besides its CAMs: image, segmentation, bar, legend. */
  public static final int SEG_GRAD_CAM_EXTRA_TILES = 4;

  /**
   * The tile side and columns for {@code n} tiles of at most {@code side} pixels each (the default
   * gap), so that the panel fits within {@link Images#MAX_SIDE} both ways: the tile is {@code side}
   * (at most {@link #MAX_TILE}) when that fits, else shrunk until it does.
   *
   * @return {tile side, columns}
   */
  public static int[] fitGrid(int n, int side) {
    if (n < 1 || side < 1) {
      throw new ShapeException("a grid needs n >= 1 tiles of side >= 1, got n=" + n + ", " + side);
    }
    int gap = new Builder().gap;
    int titleH = Overlays.metrics(Overlays.defaultFont().deriveFont(Font.BOLD)).getHeight() + 4;
    int tile = Math.max(8, Math.min(MAX_TILE, side));
    while (true) {
      int cols = Math.max(1, Math.min(n, (Images.MAX_SIDE - gap) / (tile + gap)));
      int rows = (n + cols - 1) / cols;
      long h = gap + (long) rows * (titleH + tile + gap);
      if (h <= Images.MAX_SIDE || tile <= 8) {
        return new int[] {tile, cols};
      }
      tile = Math.max(8, tile * 3 / 4);
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Cuts a title to fit width, ending it with an ellipsis. */
  static String fit(String s, FontMetrics fm, int width) {
    if (fm.stringWidth(s) <= width) {
      return s;
    }
    String e = "\u2026";
    int n = s.length();
    while (n > 0 && fm.stringWidth(s.substring(0, n) + e) > width) {
      n--;
    }
    return s.substring(0, n) + e;
  }

  /**
   * The heatmaps of a Seg-Grad-CAM panel, one entry per CAM in each list.
   *
   * @param maps the heatmap (H*W) in [0,1]
   * @param classes the class index each map explains
   * @param titles the tile's title (e.g. class, layer, method and region)
   * @param regions the region to outline in white on the map: a map of the image's size, nonzero
   *     inside, or null for none; the list itself may be null
   */
  public record CamTiles(
      List<float[]> maps, List<Integer> classes, List<String> titles, List<int[]> regions) {
    public CamTiles {
      if (maps.size() != classes.size()) {
        throw new SegcamException(
            maps.size() + " heatmaps but " + classes.size() + " class indices");
      }
    }

    /** The region outlined on map i, or null. */
    public int[] region(int i) {
      return regions == null ? null : regions.get(i);
    }
  }

  /**
   * The Seg-Grad-CAM figure: image | segmentation | one CAM per class blended over the image with
   * jet, titled "CAM: name" | a legend of the segmentation colours.
   *
   * @param labels predicted (or true) class per pixel, (H*W)
   * @param cams one heatmap (H*W) in [0,1] per entry of camClasses
   * @param camClasses the class index each CAM explains
   */
  public static BufferedImage segGradCam(
      BufferedImage image,
      int[] labels,
      List<String> classNames,
      List<float[]> cams,
      List<Integer> camClasses,
      float alpha,
      int tileSize) {
    List<String> titles = new ArrayList<>();
    for (int c : camClasses) {
      titles.add(c >= 0 && c < classNames.size() ? "CAM: " + classNames.get(c) : "CAM");
    }
    CamTiles tiles = new CamTiles(cams, camClasses, titles, null);
    return segGradCam(image, labels, classNames, tiles, alpha, new int[] {tileSize, 0});
  }

  /**
   * The Seg-Grad-CAM figure with a title per CAM, the region of each CAM outlined in white on it, a
   * colour bar of the heat scale, and a legend of the classes present in {@code labels} only, on
   * the {@code grid} {tile side, columns} (as {@link #fitGrid} gives it; columns 0: all in one
   * row).
   */
  public static BufferedImage segGradCam(
      BufferedImage image,
      int[] labels,
      List<String> classNames,
      CamTiles cams,
      float alpha,
      int[] grid) {
    int h = image.getHeight();
    int w = image.getWidth();
    Builder b = builder().tileSize(grid[0]).columns(grid[1]).tile("image", image);
    int[] palette = Overlays.defaultPalette(classNames);
    b.tile("segmentation", Overlays.segmentation(image, labels, palette, 0.6f));
    for (int i = 0; i < cams.maps().size(); i++) {
      int c = cams.classes().get(i);
      if (c < 0 || c >= classNames.size()) {
        throw new SegcamException(
            "CAM " + i + " is for class " + c + ", outside 0.." + (classNames.size() - 1));
      }
      BufferedImage cam = Overlays.blend(image, cams.maps().get(i), h, w, alpha, Colormaps.JET);
      if (cams.region(i) != null) {
        cam = Overlays.outline(cam, cams.region(i), REGION_RGB);
      }
      b.tile(cams.titles().get(i), cam);
    }
    List<Integer> present = Overlays.present(labels, classNames.size());
    return b.colourBarTile("heat", Colormaps.JET, "0 (min)", "1 (max)")
        .legendTile(
            "classes", Overlays.names(classNames, present), Overlays.colours(palette, present))
        .render();
  }
}
