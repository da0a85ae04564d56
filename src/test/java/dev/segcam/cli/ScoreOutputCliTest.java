package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.testing.ImportZoo;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The score node from the command line: the ArgMax note, and --output on explain and bench. */
class ScoreOutputCliTest {
  private static final String ARGMAX_NOTE =
      "segcam: note: output 'output' is ArgMax 'classes/argmax', which has no gradient";

  @TempDir static Path tmp;
  static Path model;
  static Path image;

  @BeforeAll
  static void setUp() throws IOException {
    model = ImportZoo.argmaxHead();
    // the model's input is (N, 12, 10, 3): a 10 wide, 12 high RGB image of fresh noise
    BufferedImage img = new BufferedImage(10, 12, BufferedImage.TYPE_INT_RGB);
    Random rng = new Random();
    for (int y = 0; y < 12; y++) {
      for (int x = 0; x < 10; x++) {
        img.setRGB(x, y, rng.nextInt(1 << 24));
      }
    }
    image = tmp.resolve("noise.png");
    ImageIO.write(img, "png", image.toFile());
  }

  private static ExplainCommandTest.Run explain(String out, String... more) {
    return ExplainCommandTest.explainClass1(model, image, tmp.resolve(out), more);
  }

  @Test
  void argmaxOutputIsExplainedOnItsLogitsWithOneNote() {
    ExplainCommandTest.Run r = explain("default");
    assertEquals(0, r.code(), r.out() + r.err());
    assertEquals(1, r.err().lines().filter(l -> l.startsWith(ARGMAX_NOTE)).count(), r.err());
  }

  @Test
  void outputOptionPicksTheScoreNode() {
    ExplainCommandTest.Run r = explain("explicit", "--output", "head/bias_add");
    assertEquals(0, r.code(), r.out() + r.err());
    assertFalse(r.err().contains("ArgMax"), r.err());

    ExplainCommandTest.Run bad = explain("bad", "--output", "no/such/node");
    ExplainCommandTest.assertOneLineError(bad, "no output key, layer or TensorFlow node");
  }

  @Test
  void benchAndLayersTakeTheSameChoice() {
    ExplainCommandTest.Run b =
        ExplainCommandTest.run(
            "bench",
            model.toString(),
            "--backend",
            "cpu",
            "--iterations",
            "1",
            "--warmup",
            "0",
            "--output",
            "head/bias_add");
    assertEquals(0, b.code(), b.out() + b.err());
    ExplainCommandTest.Run l = ExplainCommandTest.run("layers", model.toString());
    assertEquals(0, l.code(), l.out() + l.err());
    assertTrue(l.out().contains("note: output 'output' is ArgMax"), l.out());
  }
}
