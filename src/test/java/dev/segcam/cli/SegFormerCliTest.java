package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.testing.SegFormerZoo;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `segcam explain` on the SegFormer-style model: default layer, and token layers by name. */
class SegFormerCliTest {
  @TempDir Path tmp;

  @Test
  void explainRunsOnTheSegFormerAndItsTokenLayers() throws IOException {
    Path model = SegFormerZoo.get();
    int size = SegFormerZoo.SIZE;
    BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
    Random rng = new Random();
    for (int y = 0; y < size; y++) {
      for (int x = 0; x < size; x++) {
        img.setRGB(x, y, rng.nextInt(1 << 24));
      }
    }
    Path image = tmp.resolve("noise.png");
    ImageIO.write(img, "png", image.toFile());

    ExplainCommandTest.Run def =
        ExplainCommandTest.explainClass1(model, image, tmp.resolve("default"));
    assertEquals(0, def.code(), def.out() + def.err());

    // TensorFlow tensor names, resolved to the IR nodes by the CLI
    Path out = tmp.resolve("tokens");
    ExplainCommandTest.Run tok =
        ExplainCommandTest.explainClass1(
            model,
            image,
            out,
            "--layer",
            SegFormerZoo.TOKEN_LAYERS.get(0),
            "--layer",
            SegFormerZoo.TOKEN_LAYERS.get(1) + ":4x4");
    assertEquals(0, tok.code(), tok.out() + tok.err());
    // bench times the token layer on its grid view too
    String[] benchArgs = {
      "bench",
      model.toString(),
      "--layer",
      SegFormerZoo.TOKEN_LAYERS.get(0),
      "--iterations",
      "1",
      "--warmup",
      "0",
      "--backend",
      "cpu"
    };
    ExplainCommandTest.Run bench = ExplainCommandTest.run(benchArgs);
    assertEquals(0, bench.code(), bench.out() + bench.err());
    assertTrue(bench.out().contains(":grid"), bench.out());

    String json;
    try (var files = Files.walk(out)) {
      Path j =
          files.filter(p -> p.getFileName().toString().endsWith(".json")).findFirst().orElseThrow();
      json = Files.readString(j);
    }
    assertTrue(json.contains(":grid"), json);
  }
}
