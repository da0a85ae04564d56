package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class BenchCommandTest {
  @Test
  void timesTheShippedModelAndSavesJson(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("sub/bench.json");
    StringWriter out = new StringWriter();
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(new StringWriter()));
    int code =
        cl.execute(
            "bench",
            "weights/scene-unet",
            "--backend",
            "cpu",
            "--iterations",
            "3",
            "--warmup",
            "1",
            "--batch",
            "2",
            "--json",
            json.toString());
    assertEquals(0, code, out.toString());
    assertTrue(out.toString().contains("frames/s"), out.toString());
    String doc = Files.readString(json);
    Documents.Bench b = JsonDocumentsTest.strict(doc, Documents.Bench.class);
    assertTrue(b.ms().median() > 0, doc);
    assertArrayEquals(new int[] {2, 64, 64, 3}, b.input(), doc);
    try (var files = Files.list(json.getParent())) {
      assertEquals(1, files.count(), "no temp file left next to the JSON");
    }
  }

  /** --latency: p50 <= p99 <= max, GC and allocation figures, and the backend line, in the JSON. */
  @Test
  void latencyModeReportsQuantilesGcAndAllocation(@TempDir Path dir) throws Exception {
    Path json = dir.resolve("lat.json");
    StringWriter out = new StringWriter();
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(new StringWriter()));
    int code =
        cl.execute(
            "bench",
            "weights/scene-unet",
            "--backend",
            "java",
            "--latency",
            "--iterations",
            "5",
            "--warmup",
            "1",
            "--json",
            json.toString());
    assertEquals(0, code, out.toString());
    assertTrue(out.toString().contains("p99"), out.toString());
    Documents.Bench b = JsonDocumentsTest.strict(Files.readString(json), Documents.Bench.class);
    Documents.Latency l = b.latency();
    assertTrue(0 < l.p50Ms() && l.p50Ms() <= l.p99Ms() && l.p99Ms() <= l.maxMs(), l.toString());
    assertTrue(l.gcCount() >= 0 && l.gcMs() >= 0, l.toString());
    assertTrue(l.allocatedBytesPerFrame() > 0, l.toString());
    assertTrue(b.backend().contains("Java engine"), b.backend());
    assertEquals(
        Main.EXIT_USAGE,
        cl.execute("bench", "weights/scene-unet", "--latency", "--batch", "2"),
        "--latency needs batch 1");
  }

  @Test
  void badArgumentsGiveAOneLineError() {
    StringWriter err = new StringWriter();
    CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(new StringWriter()));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute("bench", "weights/scene-unet", "--backend", "cpu", "--iterations", "0");
    assertEquals(Main.EXIT_USAGE, code, err.toString());
    assertTrue(err.toString().contains("--iterations"), err.toString());
  }

  /** Device OOM (injected): the batch halves, timing restarts at the smaller batch. */
  @Test
  void outOfDeviceMemoryHalvesTheBatchAndTimesAtTheSmallerOne() {
    java.util.List<Integer> calls = new java.util.ArrayList<>();
    StringWriter err = new StringWriter();
    double[] ms = new double[3];
    int used =
        BenchCommand.timeRuns(
            16,
            1,
            ms,
            n -> {
              calls.add(n);
              if (n > 5) {
                throw new dev.segcam.backend.DeviceOutOfMemoryException("cudaMalloc (injected)", 1);
              }
            },
            new PrintWriter(err));
    assertEquals(4, used);
    assertEquals(java.util.List.of(16, 8, 4, 4, 4, 4), calls);
    assertTrue(
        err.toString()
            .contains(
                "segcam: out of device memory at batch 16 (cudaMalloc (injected));"
                    + " halving to 8"),
        err.toString());
    dev.segcam.SegcamException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            dev.segcam.SegcamException.class,
            () ->
                BenchCommand.timeRuns(
                    2,
                    0,
                    ms,
                    n -> {
                      throw new dev.segcam.backend.DeviceOutOfMemoryException("cudaMalloc", 1);
                    },
                    new PrintWriter(new StringWriter())));
    assertTrue(e.getMessage().startsWith("out of device memory with a batch of 1"), e.getMessage());
  }
}
