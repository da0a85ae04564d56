package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.testing.ImportZoo;
import dev.segcam.testing.RandomTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * explain and bench import a model whose sizes come from its dynamic input at the image's size (the
 * same path as `layers --input-shape`), so its run-time shape arithmetic folds; video at its
 * frames' own size when no --size is given.
 */
class ImageSizeCliTest {
  @Test
  void explainAndBenchImportAtTheImageSize(@TempDir Path tmp) throws IOException {
    Path model = ImportZoo.dynamicResize();
    Path image = tmp.resolve("noise.png");
    RandomTensors.noisePng(image, 14, 8);
    Path out = tmp.resolve("out");
    ExplainCommandTest.Run r = ExplainCommandTest.explainClass1(model, image, out);
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("14x8"), r.out());
    assertTrue(Files.isRegularFile(out.resolve("noise").resolve("explain.json")));

    ExplainCommandTest.Run b =
        ExplainCommandTest.run(
            "bench",
            model.toString(),
            "--backend",
            "cpu",
            "--size",
            "14x8",
            "--iterations",
            "1",
            "--warmup",
            "0");
    assertEquals(0, b.code(), b.out() + b.err());
    // without a size there is nothing to fold the shape arithmetic with
    ExplainCommandTest.Run none =
        ExplainCommandTest.run("bench", model.toString(), "--backend", "cpu");
    ExplainCommandTest.assertOneLineError(none, "known only at run time");
  }

  @Test
  void videoImportsAtTheFramesOwnSizeWithoutSize(@TempDir Path tmp) throws IOException {
    Path model = ImportZoo.dynamicResize();
    Path frames = Files.createDirectories(tmp.resolve("frames"));
    for (int i = 0; i < 3; i++) {
      RandomTensors.noisePng(frames.resolve("f" + i + ".png"), 14, 8);
    }
    Path out = tmp.resolve("out");
    ExplainCommandTest.Run r =
        ExplainCommandTest.run(
            "video",
            model.toString(),
            frames.toString(),
            out.toString(),
            "--class",
            "1",
            "--backend",
            "cpu");
    assertEquals(0, r.code(), r.out() + r.err());
    try (var pngs = Files.list(out)) {
      assertEquals(3, pngs.filter(f -> f.toString().endsWith(".png")).count(), r.err());
    }
  }
}
