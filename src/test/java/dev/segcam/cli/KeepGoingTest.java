package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** explain --keep-going: a bad image is reported and skipped, the others are written. */
class KeepGoingTest {
  @TempDir Path tmp;

  @Test
  void badImageIsSkippedAndTheOthersAreWritten() throws Exception {
    Path bad = tmp.resolve("broken.png");
    Files.writeString(bad, "not a png");
    Path out = tmp.resolve("out");
    ExplainCommandTest.Run r =
        ExplainCommandTest.run(
            "explain",
            ExplainCommandTest.MODEL.toString(),
            ExplainCommandTest.sample(0).toString(),
            bad.toString(),
            ExplainCommandTest.sample(1).toString(),
            "--out",
            out.toString(),
            "--backend",
            "cpu",
            "--keep-going",
            "--json");
    assertEquals(Main.EXIT_ERROR, r.code(), r.err());
    assertTrue(r.err().contains("broken.png") && r.err().contains("(skipped)"), r.err());
    assertTrue(r.err().contains("1 of 3 images failed"), r.err());
    try (Stream<Path> s = Files.list(out)) {
      assertEquals(
          List.of("scene_00", "scene_01"),
          s.map(p -> p.getFileName().toString()).sorted().toList());
    }
    Documents.ExplainRun run =
        JsonDocumentsTest.strict(r.out().strip(), Documents.ExplainRun.class);
    assertEquals(2, run.images().size());
    assertEquals(1, run.skipped().size());
    assertEquals(bad.toString(), run.skipped().get(0).image());
  }

  @Test
  void withoutItOneBadImageWritesNothing() throws Exception {
    Path bad = tmp.resolve("broken.png");
    Files.writeString(bad, "not a png");
    Path out = tmp.resolve("out2");
    ExplainCommandTest.Run r =
        ExplainCommandTest.run(
            "explain",
            ExplainCommandTest.MODEL.toString(),
            ExplainCommandTest.sample(0).toString(),
            bad.toString(),
            "--out",
            out.toString(),
            "--backend",
            "cpu");
    assertEquals(Main.EXIT_ERROR, r.code(), r.err());
    assertFalse(Files.exists(out), r.err());
  }
}
