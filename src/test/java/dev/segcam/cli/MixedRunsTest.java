package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.video.PngSequenceSink;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A folder never looks like one run when it holds two: a re-run replaces the whole output set. */
class MixedRunsTest {
  static final Path MODEL = ExplainCommandTest.MODEL;

  @TempDir Path tmp;

  private static List<String> names(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void explainRerunWithAnotherMethodAndFewerClassesReplacesTheImagesFolder() throws IOException {
    Path out = tmp.resolve("out");
    String img = ExplainCommandTest.sample(3).toString();
    ExplainCommandTest.Run first =
        ExplainCommandTest.run(
            "explain", MODEL.toString(), img, "--out", out.toString(), "--backend", "cpu");
    assertEquals(0, first.code(), first.err());
    Files.writeString(out.resolve("scene_03").resolve("stale.txt"), "from an earlier run\n");
    List<String> before = names(out.resolve("scene_03"));
    ExplainCommandTest.Run second =
        ExplainCommandTest.run(
            "explain",
            MODEL.toString(),
            img,
            "--out",
            out.toString(),
            "--class",
            "1",
            "--method",
            "gradcam++",
            "--backend",
            "cpu");
    assertEquals(0, second.code(), second.err());
    assertTrue(second.err().contains("replaced the earlier run's"), second.err());
    List<String> after = names(out.resolve("scene_03"));
    assertTrue(after.size() < before.size(), before + " -> " + after);
    String doc = Files.readString(out.resolve("scene_03/explain.json"));
    assertTrue(doc.contains("gradcam++"), doc);
    for (String f : after) {
      assertTrue(
          f.equals("explain.json") || doc.contains("scene_03/" + f),
          f + " is not listed by explain.json: a file of the earlier run stayed; " + after);
    }
    assertEquals(List.of("scene_03"), names(out), "nothing else in the output folder");
  }

  @Test
  void videoIntoAFolderOfAnEarlierLongerRunLeavesOnlyTheNewFrames() throws IOException {
    Path six = Files.createDirectories(tmp.resolve("six"));
    Path three = Files.createDirectories(tmp.resolve("three"));
    for (int i = 0; i < 6; i++) {
      byte[] png = Files.readAllBytes(ExplainCommandTest.sample(i));
      Files.write(six.resolve("f" + i + ".png"), png);
      if (i < 3) {
        Files.write(three.resolve("f" + i + ".png"), png);
      }
    }
    Path frames = tmp.resolve("frames");
    for (Path in : List.of(six, three)) {
      ExplainCommandTest.Run r =
          ExplainCommandTest.run(
              "video", MODEL.toString(), in.toString(), frames.toString(), "-c", "1");
      assertEquals(0, r.code(), r.err());
      if (in == three) {
        assertTrue(r.err().contains("replacing the 6 frames of an earlier run"), r.err());
      }
    }
    assertEquals(
        List.of(
            PngSequenceSink.fileName(0), PngSequenceSink.fileName(1), PngSequenceSink.fileName(2)),
        names(frames));
  }
}
