package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.testing.KerasZoo;
import dev.segcam.testing.RandomTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `segcam explain` on the valid-padding U-Net of {@link KerasZoo}: a dynamic (None, None, None, 1)
 * input whose crop offsets come from the run-time shapes imports at the image's size, and the
 * explanation is written at the center-cropped skip and at the Cropping2D output.
 */
class ValidUnetCliTest {
  @Test
  void explainRunsOnTheValidPaddingUnet(@TempDir Path tmp) throws IOException {
    Path model = KerasZoo.validUnet().dir();
    Path image = tmp.resolve("cells.png");
    RandomTensors.noisePng(image, 34, 30);
    for (String layer : new String[] {"crop_skip", "cropping2d"}) {
      Path out = tmp.resolve(layer);
      ExplainCommandTest.Run r =
          ExplainCommandTest.explainClass1(model, image, out, "--layer", layer);
      assertEquals(0, r.code(), r.out() + r.err());
      assertTrue(r.out().contains("34x30"), r.out());
      Path json = out.resolve("cells").resolve("explain.json");
      assertTrue(Files.isRegularFile(json), r.out());
      String doc = Files.readString(json);
      assertTrue(doc.contains("\"layer\" : \"" + layer), doc);
    }
  }
}
