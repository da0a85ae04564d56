package dev.segcam.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.SegcamException;
import java.awt.GraphicsEnvironment;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PanelsTest {
  private final Random rnd = new Random();

  private BufferedImage solid(int w, int h, int rgb) {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.setRGB(x, y, rgb);
      }
    }
    return img;
  }

  @Test
  void fitGridKeepsTheImageSizeWhenThePanelFitsElseShrinksTheTiles() {
    // a 4000x3000 photo, 2 CAMs: 6 tiles of 4000 fit in 4 columns, 2 rows
    assertEquals(4000, Panels.fitGrid(6, 4000)[0]);
    assertEquals(4, Panels.fitGrid(6, 4000)[1]);
    // small images: one row, tiles at their own size
    assertEquals(100, Panels.fitGrid(8, 100)[0]);
    assertEquals(8, Panels.fitGrid(8, 100)[1]);
    // too many big tiles for 16384 pixels a side: smaller tiles, and the panel renders
    for (int n : new int[] {30, 200}) {
      int[] g = Panels.fitGrid(n, 6000);
      assertTrue(g[0] < Panels.MAX_TILE, n + " tiles: " + g[0]);
      Panels.Builder b = Panels.builder().tileSize(g[0]).columns(g[1]);
      for (int i = 0; i < n; i++) {
        b.tile("t" + i, solid(1, 1, 0));
      }
      BufferedImage p = b.render();
      assertTrue(p.getWidth() <= Images.MAX_SIDE && p.getHeight() <= Images.MAX_SIDE);
    }
    assertThrows(SegcamException.class, () -> Panels.fitGrid(0, 100));
  }

  @Test
  void gridGeometryAndTitles() {
    BufferedImage p =
        Panels.builder()
            .tileSize(100)
            .gap(10)
            .columns(2)
            .tile("first", solid(50, 50, 0xFF0000))
            .tile("second", solid(20, 40, 0x00FF00))
            .tile("third", solid(300, 300, 0x0000FF))
            .render();
    assertTrue(GraphicsEnvironment.isHeadless());
    assertEquals(10 + 2 * 110, p.getWidth());
    int rowH = (p.getHeight() - 10) / 2;
    assertEquals(p.getHeight(), 10 + 2 * rowH);
    int titleH = rowH - 10 - 100;
    assertTrue(titleH > 8 && titleH < 40, "title strip " + titleH);
    // first tile: scaled 2x (nearest) to fill the 100x100 box under its title
    assertEquals(0xFF0000, p.getRGB(10 + 50, 10 + titleH + 50) & 0xFFFFFF);
    // second tile: 20x40 scaled to 50x100, centred
    assertEquals(0x00FF00, p.getRGB(120 + 50, 10 + titleH + 50) & 0xFFFFFF);
    assertEquals(0xFFFFFF, p.getRGB(120 + 10, 10 + titleH + 50) & 0xFFFFFF);
    // third tile (second row) scaled down
    assertEquals(0x0000FF, p.getRGB(10 + 50, 10 + rowH + titleH + 50) & 0xFFFFFF);
    // the title strip holds dark text pixels
    assertTrue(darkPixels(p, 10, 10, 100, titleH) > 5, "no title drawn");
  }

  @Test
  void segGradCamPanelHasOneTilePerCamPlusImageSegmentationAndLegend(@TempDir Path dir) {
    int h = 64;
    int w = 64;
    BufferedImage image = solid(w, h, 0x808080);
    int[] labels = new int[h * w];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = (i / w) < 32 ? 1 : 0;
    }
    float[] cam = new float[h * w];
    for (int i = 0; i < cam.length; i++) {
      cam[i] = rnd.nextFloat();
    }
    List<String> names = List.of("background", "disc", "bar", "shadow");
    BufferedImage p =
        Panels.segGradCam(image, labels, names, List.of(cam, cam), List.of(1, 3), 0.5f, 128);
    // image, segmentation, 2 CAMs, colour bar, legend: 6 tiles of 128 plus 7 gaps of 8
    assertEquals(8 + 6 * 136, p.getWidth());
    Path f = dir.resolve("panel.png");
    Images.writePng(p, f);
    assertEquals(p.getWidth(), Images.read(f).getWidth());
    assertThrows(
        SegcamException.class,
        () -> Panels.segGradCam(image, labels, names, List.of(cam), List.of(4), 0.5f, 128));
  }

  @Test
  void longTitlesAreCut() {
    BufferedImage p =
        Panels.builder()
            .tileSize(32)
            .tile("a very long title that cannot fit", solid(8, 8, 0))
            .render();
    assertEquals(8 + 40, p.getWidth());
    assertThrows(SegcamException.class, () -> Panels.builder().render());
  }

  private static int darkPixels(BufferedImage p, int x0, int y0, int w, int h) {
    int n = 0;
    for (int y = y0; y < y0 + h; y++) {
      for (int x = x0; x < x0 + w; x++) {
        int v = p.getRGB(x, y);
        if (((v >> 16) & 0xFF) < 100 && ((v >> 8) & 0xFF) < 100 && (v & 0xFF) < 100) {
          n++;
        }
      }
    }
    return n;
  }
}
