package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TargetTest {
  private static final LabelMap NONE = new LabelMap(1, 1, new int[1]);

  private static float[] w(Target t, int oh, int ow) {
    return t.region().weights(oh, ow, oh, ow, NONE, t.classIndex());
  }

  private static float[] grid(String... rows) {
    float[] m = new float[rows.length * rows[0].length()];
    for (int y = 0; y < rows.length; y++) {
      for (int x = 0; x < rows[0].length(); x++) {
        m[y * rows[0].length() + x] = rows[y].charAt(x) == '#' ? 1f : 0f;
      }
    }
    return m;
  }

  private static LabelMap labels(String... rows) {
    int[] c = new int[rows.length * rows[0].length()];
    for (int y = 0; y < rows.length; y++) {
      for (int x = 0; x < rows[0].length(); x++) {
        c[y * rows[0].length() + x] = rows[y].charAt(x) - '0';
      }
    }
    return new LabelMap(rows.length, rows[0].length(), c);
  }

  @Test
  void boxIsInclusiveExclusive() {
    assertArrayEquals(grid("....", ".##.", ".##.", "...."), w(Target.box(0, 1, 1, 3, 3), 4, 4));
    assertArrayEquals(grid("####", "####"), w(Target.box(0, 0, 0, 4, 2), 2, 4));
  }

  @Test
  void boxOutsideNamesTheOutputSize() {
    var e =
        assertThrows(
            CamException.PixelOutOfRangeException.class, () -> w(Target.box(0, 0, 0, 5, 2), 4, 4));
    assertTrue(e.getMessage().contains("x[0,5)") && e.getMessage().contains("4x4"), e.getMessage());
  }

  @Test
  void pixelAndItsRange() {
    assertArrayEquals(grid("...", "..#"), w(Target.pixel(2, 2, 1), 2, 3));
    var e =
        assertThrows(
            CamException.PixelOutOfRangeException.class, () -> w(Target.pixel(0, 3, 0), 2, 3));
    assertTrue(e.getMessage().contains("x=3") && e.getMessage().contains("3x2"), e.getMessage());
  }

  @Test
  void negativeClassIsRejected() {
    assertThrows(CamException.ClassOutOfRangeException.class, () -> Target.image(-1));
  }

  @Test
  void booleanMaskAndInputSizedMaskResampled() {
    boolean[][] m = {{true, false}, {false, true}};
    assertArrayEquals(grid("#.", ".#"), w(Target.mask(0, m), 2, 2));
    // a 4x4 mask at input size onto a 2x2 output: nearest at each output pixel's centre
    boolean[][] big = new boolean[4][4];
    big[1][1] = true; // sampled by output (0,0): centre (1,1) of the input
    big[3][3] = true; // sampled by output (1,1)
    float[] got = Target.mask(0, big).region().weights(2, 2, 4, 4, NONE, 0);
    assertArrayEquals(grid("#.", ".#"), got);
    var e =
        assertThrows(
            CamException.PixelOutOfRangeException.class,
            () -> Target.mask(0, big).region().weights(3, 3, 5, 5, NONE, 0));
    assertTrue(e.getMessage().contains("4x4"), e.getMessage());
  }

  @Test
  void pngMaskNonzeroIsIn(@TempDir Path dir) throws Exception {
    BufferedImage img = new BufferedImage(3, 2, BufferedImage.TYPE_INT_RGB);
    img.setRGB(1, 0, 0x000100); // tiny but nonzero
    img.setRGB(2, 1, 0xffffff);
    Path p = dir.resolve("m.png");
    ImageIO.write(img, "png", p.toFile());
    assertArrayEquals(grid(".#.", "..#"), w(Target.maskPng(4, p), 2, 3));
    Path bad = dir.resolve("bad.png");
    Files.writeString(bad, "not a png");
    var e = assertThrows(CamException.InputFileException.class, () -> Target.maskPng(0, bad));
    assertTrue(e.getMessage().contains("bad.png"), e.getMessage());
    // a truncated mask is refused (ImageIO alone would decode what is there), naming the file
    byte[] whole = Files.readAllBytes(p);
    Path cut = dir.resolve("cut.png");
    Files.write(cut, java.util.Arrays.copyOf(whole, whole.length - 8));
    var c = assertThrows(CamException.InputFileException.class, () -> Target.maskPng(0, cut));
    assertTrue(c.getMessage().contains("cut.png"), c.getMessage());
  }

  @Test
  void predictedAndLargestComponent() {
    LabelMap p = labels("1100", "1002", "0011", "0111");
    assertArrayEquals(
        grid("##..", "#...", "..##", ".###"),
        Target.predicted(1).region().weights(4, 4, 4, 4, p, 1));
    // (0,0) blob has 3 pixels, the bottom-right one 5: diagonal (1,1)-(2,2) does not join them
    assertArrayEquals(
        grid("....", "....", "..##", ".###"),
        Target.largestComponent(1).region().weights(4, 4, 4, 4, p, 1));
  }

  @Test
  void componentsAreFourConnectedAndTiesGoToTheFirst() {
    LabelMap diag = labels("10", "01");
    // two 1-pixel components: the first in row-major order wins
    assertArrayEquals(
        grid("#.", ".."), Target.largestComponent(1).region().weights(2, 2, 2, 2, diag, 1));
  }

  @Test
  void largeComponentDoesNotOverflowTheStack() {
    int n = 1000;
    int[] all = new int[n * n];
    java.util.Arrays.fill(all, 2);
    int[] comp = Target.largestComponent(all, n, n, 2);
    assertEquals(n * n, comp.length);
  }

  @Test
  void wholeImageAndDescriptions() {
    float[] m = w(Target.image(0), 2, 2);
    assertArrayEquals(new float[] {1, 1, 1, 1}, m);
    Labels l = new Labels(List.of("bg", "car"));
    assertEquals(
        "class 1 (car) box x[0,2) y[1,3) on probabilities",
        Target.box(1, 0, 1, 2, 3).withScore(ScoreMode.PROBABILITIES).describe(l));
  }
}
