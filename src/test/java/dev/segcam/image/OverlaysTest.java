package dev.segcam.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.SegcamException;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class OverlaysTest {
  private final Random rnd = new Random();

  private BufferedImage randomImage(int h, int w) {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.setRGB(x, y, rnd.nextInt(1 << 24));
      }
    }
    return img;
  }

  private float[] randomMap(int n) {
    float[] m = new float[n];
    for (int i = 0; i < n; i++) {
      m[i] = rnd.nextFloat();
    }
    return m;
  }

  @Test
  void heatmapIsTheColormap() {
    float[] map = randomMap(5 * 7);
    BufferedImage img = Overlays.heatmap(new FloatTensor(Shape.of(1, 5, 7, 1), map), Colormaps.JET);
    assertEquals(7, img.getWidth());
    assertEquals(5, img.getHeight());
    for (int i = 0; i < map.length; i++) {
      assertEquals(Colormaps.JET.packed(map[i]), img.getRGB(i % 7, i / 7) & 0xFFFFFF, "pixel " + i);
    }
  }

  /** Every pixel against the colormap_blend formula, written out independently. */
  @Test
  void blendFollowsTheKernelArithmetic() {
    int h = 9;
    int w = 11;
    BufferedImage image = randomImage(h, w);
    float[] map = randomMap(h * w);
    float alpha = 0.37f;
    BufferedImage out = Overlays.blend(image, map, h, w, alpha, Colormaps.JET);
    float[] c = new float[3];
    for (int p = 0; p < h * w; p++) {
      int px = image.getRGB(p % w, p / w);
      Colormaps.jet(map[p], c);
      int got = out.getRGB(p % w, p / w);
      for (int ch = 0; ch < 3; ch++) {
        int shift = 16 - 8 * ch;
        float v = (1f - alpha) * ((px >> shift) & 0xFF) + alpha * (255f * c[ch]);
        int want = Math.min(255, Math.max(0, (int) (v + 0.5f)));
        assertEquals(want, (got >> shift) & 0xFF, "pixel " + p + " channel " + ch);
      }
    }
    // the two ends: alpha 0 is the image, alpha 1 the heatmap
    BufferedImage none = Overlays.blend(image, map, h, w, 0f, Colormaps.JET);
    BufferedImage full = Overlays.blend(image, map, h, w, 1f, Colormaps.JET);
    for (int p = 0; p < h * w; p++) {
      assertEquals(image.getRGB(p % w, p / w), none.getRGB(p % w, p / w));
      assertEquals(Colormaps.JET.packed(map[p]), full.getRGB(p % w, p / w) & 0xFFFFFF);
    }
  }

  @Test
  void blendRejectsMismatchedSizesAndBadAlpha() {
    BufferedImage image = randomImage(4, 4);
    ShapeException e =
        assertThrows(
            ShapeException.class,
            () -> Overlays.blend(image, randomMap(12), 3, 4, 0.5f, Colormaps.JET));
    assertTrue(e.getMessage().contains("3x4"), e.getMessage());
    assertThrows(
        ShapeException.class,
        () -> Overlays.blend(image, randomMap(15), 4, 4, 0.5f, Colormaps.JET));
    assertThrows(
        SegcamException.class,
        () -> Overlays.blend(image, randomMap(16), 4, 4, Float.NaN, Colormaps.JET));
  }

  @Test
  void argmaxPicksTheLargestScore() {
    float[] s = {0.1f, 0.7f, 0.2f, 0.9f, 0.05f, 0.05f};
    FloatTensor t = new FloatTensor(Shape.of(1, 1, 2, 3), s);
    assertEquals(List.of(1, 0), java.util.Arrays.stream(Overlays.argmax(t)).boxed().toList());
  }

  @Test
  void segmentationColoursClassesAndLeavesBackground() {
    int h = 6;
    int w = 8;
    BufferedImage image = randomImage(h, w);
    int[] labels = new int[h * w];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = rnd.nextInt(3);
    }
    List<String> names = List.of("background", "disc", "bar");
    int[] palette = Overlays.defaultPalette(names);
    assertEquals(Overlays.TRANSPARENT, palette[0]);
    BufferedImage out = Overlays.segmentation(image, labels, palette, 1f);
    for (int p = 0; p < labels.length; p++) {
      int want = labels[p] == 0 ? image.getRGB(p % w, p / w) & 0xFFFFFF : palette[labels[p]];
      assertEquals(want, out.getRGB(p % w, p / w) & 0xFFFFFF, "pixel " + p);
    }
    labels[5] = 3;
    SegcamException e =
        assertThrows(
            SegcamException.class, () -> Overlays.segmentation(image, labels, palette, 0.5f));
    assertTrue(e.getMessage().contains("label 3 at pixel (y=0, x=5)"), e.getMessage());
  }

  @Test
  void legendWidensTheImageAndDrawsSwatches() {
    BufferedImage image = randomImage(64, 64);
    int[] labels = new int[64 * 64];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = i < 64 * 32 ? 0 : (i % 2 == 0 ? 1 : 3); // bar (2) occurs nowhere
    }
    List<String> names = List.of("background", "disc", "bar", "shadow");
    BufferedImage out = Overlays.segmentation(image, labels, names, 0.5f);
    assertTrue(out.getWidth() > 64 + 30, "width " + out.getWidth());
    int[] palette = Overlays.defaultPalette(names);
    for (int c = 1; c < names.size(); c++) {
      boolean found = false;
      for (int y = 0; y < out.getHeight() && !found; y++) {
        for (int x = 64; x < out.getWidth() && !found; x++) {
          found = (out.getRGB(x, y) & 0xFFFFFF) == palette[c];
        }
      }
      // the legend lists only the classes present in the label map
      assertEquals(c != 2, found, "swatch for " + names.get(c));
    }
  }

  @Test
  void outlineDrawsTheRegionsBorderOnly() {
    BufferedImage image = randomImage(6, 8); // (h, w): 8 wide, 6 high
    int[] inside = new int[8 * 6];
    for (int y = 1; y <= 4; y++) {
      for (int x = 2; x <= 5; x++) {
        inside[y * 8 + x] = 1; // box x 2..5, y 1..4
      }
    }
    BufferedImage out = Overlays.outline(image, inside, 0xFFFFFF);
    for (int y = 0; y < 6; y++) {
      for (int x = 0; x < 8; x++) {
        boolean border = inside[y * 8 + x] == 1 && (x == 2 || x == 5 || y == 1 || y == 4);
        int want = border ? 0xFFFFFF : image.getRGB(x, y) & 0xFFFFFF;
        assertEquals(want, out.getRGB(x, y) & 0xFFFFFF, "pixel " + x + "," + y);
      }
    }
  }

  @Test
  void mapResizesToTheImagesOwnSize() {
    float[] map = {0f, 1f, 1f, 0f}; // 2x2
    float[] big = Overlays.resizeMap(map, 2, 2, 6, 8);
    assertEquals(48, big.length);
    assertEquals(0f, big[0], 1e-6f); // corners keep the corner values (edges clamped)
    assertEquals(1f, big[7], 1e-6f);
    for (float v : big) {
      assertTrue(v >= 0f && v <= 1f, "bilinear stays within the map's range: " + v);
    }
  }
}
