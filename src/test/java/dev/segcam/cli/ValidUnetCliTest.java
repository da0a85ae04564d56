package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.testing.KerasZoo;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `segcam explain` on the valid-padding U-Net of {@link KerasZoo}: a dynamic (None, None, None, 1)
 * input whose crop offsets come from the run-time shapes imports at the image's size, and the
 * explanation is written for the cropped skip and for the default layer.
 */
class ValidUnetCliTest {
  @Test
  void explainRunsOnTheValidPaddingUnet(@TempDir Path tmp) throws IOException {
    Path model = KerasZoo.validUnet().dir();
    BufferedImage img = new BufferedImage(34, 30, BufferedImage.TYPE_INT_RGB);
    Random rng = new Random();
    for (int y = 0; y < img.getHeight(); y++) {
      for (int x = 0; x < img.getWidth(); x++) {
        img.setRGB(x, y, rng.nextInt(1 << 24));
      }
    }
    Path image = tmp.resolve("cells.png");
    ImageIO.write(img, "png", image.toFile());
    for (String[] layer : new String[][] {{"--layer", "crop_skip"}, {}}) {
      Path out = tmp.resolve("out" + layer.length);
      String[] base = {
        "explain",
        model.toString(),
        image.toString(),
        "--class",
        "1",
        "--whole",
        "--backend",
        "cpu",
        "--out",
        out.toString()
      };
      String[] args = new String[base.length + layer.length];
      System.arraycopy(base, 0, args, 0, base.length);
      System.arraycopy(layer, 0, args, base.length, layer.length);
      ExplainCommandTest.Run r = ExplainCommandTest.run(args);
      assertEquals(0, r.code(), r.out() + r.err());
      assertTrue(r.out().contains("34x30"), r.out());
      Path json = out.resolve("cells").resolve("explain.json");
      assertTrue(Files.isRegularFile(json), r.out());
      String doc = Files.readString(json);
      assertTrue(doc.contains("\"layer\" : \"" + (layer.length > 0 ? "crop_skip" : "dec")), doc);
    }
  }
}
