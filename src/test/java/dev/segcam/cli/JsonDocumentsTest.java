package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.segcam.io.Json;
import dev.segcam.video.JsonLinesSink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every JSON document the CLI writes parses with Jackson into its schema record, strictly (no
 * unknown member), and writing the record back gives the same tree (no member lost, none retyped):
 * explain.json, explain --json, bench --json and video JSON lines.
 */
class JsonDocumentsTest {
  static final String MODEL = ExplainCommandTest.MODEL.toString();

  @TempDir Path tmp;

  /** Parses {@code text} as {@code type} and checks the record says all of it and no more. */
  static <T> T strict(String text, Class<T> type) throws Exception {
    T v = Json.mapper().readValue(text, type);
    JsonNode want = Json.mapper().readTree(text);
    JsonNode again = Json.mapper().readTree(Json.line(v));
    assertEquals(want, again, type.getSimpleName() + " does not round-trip: " + text);
    return v;
  }

  @Test
  void explainJsonAndStdoutJson() throws Exception {
    Path out = tmp.resolve("out");
    ExplainCommandTest.Run r =
        ExplainCommandTest.run(
            "explain",
            MODEL,
            ExplainCommandTest.sample(1).toString(),
            ExplainCommandTest.sample(2).toString(),
            "--out",
            out.toString(),
            "--backend",
            "cpu",
            "--json");
    assertEquals(0, r.code(), r.err());
    assertEquals(1, r.out().strip().split("\n").length, "one JSON document on stdout: " + r.out());
    Documents.ExplainRun run = strict(r.out().strip(), Documents.ExplainRun.class);
    assertEquals(2, run.images().size());
    assertTrue(run.totalMs() > 0);
    for (String img : List.of("scene_01", "scene_02")) {
      Documents.ExplainImage doc =
          strict(
              Files.readString(out.resolve(img).resolve("explain.json")),
              Documents.ExplainImage.class);
      assertEquals("gradcam", doc.method());
      assertFalse(doc.results().isEmpty());
      for (Documents.Result res : doc.results()) {
        assertTrue(Files.isRegularFile(out.resolve(res.heatmap())), res.heatmap());
        assertFalse(res.weights().isEmpty());
      }
    }
  }

  @Test
  void benchJson() throws Exception {
    Path json = tmp.resolve("bench.json");
    ExplainCommandTest.Run r =
        ExplainCommandTest.run(
            "bench", MODEL, "--iterations", "2", "--warmup", "0", "--json", json.toString());
    assertEquals(0, r.code(), r.err());
    Documents.Bench b = strict(Files.readString(json), Documents.Bench.class);
    assertEquals(2, b.iterations());
    assertTrue(b.ms().median() > 0 && b.framesPerS() > 0);
  }

  @Test
  void videoJsonLines() throws Exception {
    Path in = Files.createDirectories(tmp.resolve("in"));
    for (int i = 0; i < 3; i++) {
      Files.copy(ExplainCommandTest.sample(i), in.resolve("f" + i + ".png"));
    }
    Files.writeString(in.resolve("f3.png"), "not a png");
    Path jsonl = tmp.resolve("frames.jsonl");
    ExplainCommandTest.Run r =
        ExplainCommandTest.run(
            "video", MODEL, in.toString(), jsonl.toString(), "-c", "1", "-c", "shadow");
    List<String> lines = Files.readAllLines(jsonl);
    assertEquals(4, lines.size(), r.err());
    int failed = 0;
    for (String line : lines) {
      JsonLinesSink.FrameLine f = strict(line, JsonLinesSink.FrameLine.class);
      if (f.error() != null) {
        failed++;
      } else {
        assertEquals(2, f.targets().size(), line);
      }
    }
    assertEquals(1, failed);
  }
}
