package dev.segcam.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.image.Colormaps;
import dev.segcam.io.Json;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Smoothing, overlays, raw frames, natural order, JSON escaping: no model needed. */
class StagesTest {
  static final float TOL = 1e-6f;

  static FrameItem item(long i, int h, int w, float... heat) {
    FrameItem it = new FrameItem(i, "f" + i);
    it.frame = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    it.inH = h;
    it.inW = w;
    it.heatmaps = new float[heat.length][];
    for (int t = 0; t < heat.length; t++) {
      it.heatmaps[t] = new float[h * w];
      java.util.Arrays.fill(it.heatmaps[t], heat[t]);
    }
    it.scores = new float[heat.length];
    it.empty = new boolean[heat.length];
    return it;
  }

  @Test
  void exponentialSmoothingFollowsTheFramesAndSkipsFailedOnes() {
    OverlayStage s = new OverlayStage(2, 0.75f, 0.5f, Colormaps.JET);
    FrameItem a = item(0, 4, 6, 0.8f, 0.2f);
    FrameItem b = item(1, 4, 6, 0.0f, 1.0f);
    FrameItem c = item(2, 4, 6, 0.5f, 0.5f);
    c.fail("decode error");
    FrameItem d = item(3, 4, 6, 0.0f, 0.0f);
    s.process(List.of(a, b));
    s.process(List.of(c, d));
    // s_t = 0.75 s_(t-1) + 0.25 h_t, the first frame taken as is
    float[][] want = {{0.8f, 0.2f}, {0.6f, 0.4f}, {0.5f, 0.5f}, {0.45f, 0.3f}};
    FrameItem[] items = {a, b, c, d};
    for (int f = 0; f < 4; f++) {
      for (int t = 0; t < 2; t++) {
        for (int p = 0; p < 24; p++) {
          float got = items[f].heatmaps[t][p];
          assertTrue(
              Math.abs(got - want[f][t]) <= TOL,
              "frame " + f + " target " + t + " pixel " + p + ": " + got + " vs " + want[f][t]);
        }
      }
      assertEquals(12, items[f].output.getWidth(), "two targets side by side");
      assertEquals(4, items[f].output.getHeight());
    }
    // the failed frame is drawn plain
    assertEquals(0, c.output.getRGB(7, 2) & 0xFFFFFF);
  }

  @Test
  void noSmoothingLeavesMapsAloneAndOverlayIsUpsampledToTheFrame() {
    OverlayStage s = new OverlayStage(1, 0f, 1f, Colormaps.GRAY);
    FrameItem a = item(0, 2, 2, 0.25f);
    FrameItem b = item(1, 2, 2, 1.0f);
    b.frame = new BufferedImage(8, 6, BufferedImage.TYPE_INT_RGB);
    s.process(List.of(a, b));
    assertArrayEquals(new float[] {1f, 1f, 1f, 1f}, b.heatmaps[0]);
    assertEquals(8, b.output.getWidth());
    assertEquals(6, b.output.getHeight());
    assertEquals(0xFFFFFF, b.output.getRGB(5, 3) & 0xFFFFFF, "alpha 1, gray(1) = white");
    assertEquals(0x404040, a.output.getRGB(1, 1) & 0xFFFFFF, "gray(0.25) at alpha 1");
    assertThrows(VideoException.class, () -> new OverlayStage(1, 1f, 0.5f, Colormaps.JET));
    assertThrows(VideoException.class, () -> new OverlayStage(1, -0.1f, 0.5f, Colormaps.JET));
    assertThrows(VideoException.class, () -> new OverlayStage(1, 0.5f, 1.5f, Colormaps.JET));
  }

  @Test
  void rawFramesRoundTripAndATruncatedFrameIsReported() {
    int w = 5;
    int h = 3;
    byte[] data = new byte[2 * w * h * 3 + 7];
    new SplittableRandom(7).nextBytes(data);
    RawRgbSource src = new RawRgbSource(new ByteArrayInputStream(data), w, h, "stdin");
    byte[] back = new byte[w * h * 3];
    for (int f = 0; f < 2; f++) {
      FrameItem it = src.next();
      assertEquals(f, it.index);
      assertNull(it.error);
      Frames.toRgb24(it.frame, back, null);
      assertArrayEquals(
          java.util.Arrays.copyOfRange(data, f * back.length, (f + 1) * back.length), back);
    }
    FrameItem last = src.next();
    assertEquals(2, last.index);
    assertTrue(last.error.contains("got 7 of 45 bytes"), last.error);
    assertNull(src.next());
  }

  @Test
  void directoryFramesComeInNaturalNameOrder(@TempDir Path dir) throws Exception {
    List<String> names = List.of("f10.png", "f2.png", "f1.png", "f02b.png", "g.jpg", "f100.png");
    for (String n : names) {
      dev.segcam.image.Images.writePng(
          new BufferedImage(2, 2, BufferedImage.TYPE_INT_RGB), dir.resolve(n));
    }
    Files.writeString(dir.resolve("notes.txt"), "not a frame");
    Files.writeString(dir.resolve("f3.png"), "a broken png");
    ImageDirectorySource src = new ImageDirectorySource(dir);
    List<String> got = new ArrayList<>();
    FrameItem it;
    while ((it = src.next()) != null) {
      got.add(it.name + (it.failed() ? "!" : ""));
    }
    assertEquals(
        List.of("f1.png", "f2.png", "f02b.png", "f3.png!", "f10.png", "f100.png", "g.jpg"), got);
    assertThrows(VideoException.class, () -> new ImageDirectorySource(dir.resolve("none")));
  }

  @Test
  void jsonStringsAreEscapedAndNonFiniteNumbersAreNull() throws Exception {
    String name = "a\"b\\c\nd\u0001";
    String line =
        Json.line(
            new JsonLinesSink.FrameLine(
                0,
                name,
                null,
                null,
                null,
                List.of(
                    new JsonLinesSink.FrameTarget(
                        1, "x", Json.finite(Float.NaN), null, Json.finite(1.5f), null)),
                java.util.Map.of()));
    assertFalse(line.contains("\n"), line);
    var n = Json.mapper().readTree(line);
    assertEquals(name, n.get("source").asText());
    assertTrue(n.get("targets").get(0).get("score").isNull(), line);
    assertEquals("1.5", n.get("targets").get(0).get("heat_max").asText());
  }

  @Test
  void tileKeepsThePartsSideBySide() {
    BufferedImage a = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
    BufferedImage b = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
    a.setRGB(1, 0, 0x112233);
    b.setRGB(0, 0, 0x445566);
    BufferedImage t = Frames.tile(new BufferedImage[] {a, b});
    assertEquals(0x112233, t.getRGB(1, 0) & 0xFFFFFF);
    assertEquals(0x445566, t.getRGB(2, 0) & 0xFFFFFF);
    assertSame(a, Frames.tile(new BufferedImage[] {a}));
  }
}
