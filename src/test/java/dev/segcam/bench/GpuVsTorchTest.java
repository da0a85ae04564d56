package dev.segcam.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.cam.Explainer;
import dev.segcam.io.Json;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CPU-checkable parts of {@link GpuVsTorch} (the GPU run itself is bench/gpu-vs-torch.sh). */
class GpuVsTorchTest {
  /** Float32 channel means of the same gradient, summed in a possibly different order. */
  private static final double WEIGHTS_RTOL = 1e-5;

  private static final int SIZE = 16;

  @Test
  void casesParseAndBadOnesAreRefused() {
    assertEquals(
        List.of(new GpuVsTorch.Case(1, 1), new GpuVsTorch.Case(8, 8), new GpuVsTorch.Case(32, 1)),
        GpuVsTorch.Case.parse("1x1, 8x8,32x1"));
    assertThrows(IllegalArgumentException.class, () -> GpuVsTorch.Case.parse("8"));
    assertThrows(IllegalArgumentException.class, () -> GpuVsTorch.Case.parse("0x1"));
  }

  @Test
  void targetClassesWrapAroundTheClassCount() {
    assertArrayEquals(new int[] {1, 0, 1}, GpuVsTorch.classes(1, 3, 2));
    assertArrayEquals(new int[] {5, 6, 7}, GpuVsTorch.classes(5, 3, 124));
  }

  @Test
  void differencesRatiosAndThroughput() {
    assertEquals(0.5, GpuVsTorch.maxAbsDiff(new float[] {1, 2, 3}, new float[] {1, 2.5f, 3}));
    assertEquals(
        Double.POSITIVE_INFINITY,
        GpuVsTorch.maxAbsDiff(new float[] {1, 2}, new float[] {1, Float.NaN}));
    assertEquals(400.0, GpuVsTorch.fps(8, 20.0), 1e-9);
    Map<String, double[]> ms = new LinkedHashMap<>();
    ms.put(GpuVsTorch.SEGCAM, new double[] {10, 11, 9});
    ms.put("hand", new double[] {15, 14, 16});
    ms.put("pgc", new double[] {50, 60, 40});
    ms.put(GpuVsTorch.FLOOR, new double[] {8, 8, 8});
    Map<String, Double> r = GpuVsTorch.ratios(ms, true);
    assertEquals(1.5, r.get("segcam / hand (throughput)"), 1e-12);
    assertEquals(5.0, r.get("segcam / pgc (throughput)"), 1e-12);
    assertEquals(1.25, r.get("segcam / segcam-floor (latency)"), 1e-12);
    assertFalse(GpuVsTorch.ratios(ms, false).containsKey("segcam / segcam-floor (latency)"));
  }

  @Test
  void roundsInterleaveRotateAndDropAFailingSide() {
    List<String> calls = new ArrayList<>();
    Map<String, GpuVsTorch.TimedStep> sides = new LinkedHashMap<>();
    for (String s : List.of("a", "b", "c")) {
      sides.put(
          s,
          () -> {
            calls.add(s);
            if (s.equals("c") && calls.stream().filter("c"::equals).count() > 2) {
              throw new IllegalStateException("out of memory");
            }
            return 1.0;
          });
    }
    Map<String, String> errors = new LinkedHashMap<>();
    Map<String, double[]> t = GpuVsTorch.interleave(sides, 1, 4, 60, errors);
    // warm-up a b c, round 0 a b c, round 1 b c(fails) a, rounds 2-3 without c
    assertEquals(List.of("a", "b", "c", "a", "b", "c", "b", "c", "a"), calls.subList(0, 9));
    assertEquals(4, t.get("a").length);
    assertEquals(4, t.get("b").length);
    assertFalse(t.containsKey("c"));
    assertTrue(errors.get("c").contains("out of memory"));
  }

  @Test
  @SuppressWarnings("unchecked")
  void theJsonKeepsEarlierModelsCases(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("r.json");
    Map<String, Object> doc = GpuVsTorch.readOrNew(file, Map.of("device", "x"));
    ((List<Object>) doc.get("cases")).add(Map.of("model", "m1"));
    GpuVsTorch.write(file, doc);
    Map<String, Object> again = GpuVsTorch.readOrNew(file, Map.of("device", "y"));
    ((List<Object>) again.get("cases")).add(Map.of("model", "m2"));
    GpuVsTorch.write(file, again);
    JsonNode j = Json.mapper().readTree(file.toFile());
    assertEquals("x", j.get("device").asText());
    assertEquals(2, j.get("cases").size());
    assertEquals("m2", j.get("cases").get(1).get("model").asText());
  }

  @Test
  void theFloorsGradientIsTheExplainersGradCamWeights() {
    Graph g = IrUnet.build(IrUnet.MEDIUM, 15);
    FloatTensor images = TorchPeerExport.randomImages(new Random(System.nanoTime()), 2, SIZE, SIZE);
    String layer = "bottleneck_b/relu";
    TorchPeerExport.Target t = TorchPeerExport.Target.centre(1, SIZE, SIZE, layer);
    try (Explainer ex = new Explainer(CpuCamBackend.open(g, 1, true, s -> {}))) {
      List<CamResult> r =
          ex.explain(images, List.of(t.segcam()), List.of(layer), CamMethod.GRAD_CAM);
      try (GpuVsTorch.Floor floor =
          new GpuVsTorch.Floor(
              ex.backend(), g, g.inputs().get(0), ex.logitsNode(), layer, images, t)) {
        float[] means = floor.step();
        for (CamResult c : r) {
          float[] w = c.weights();
          double max = 0;
          for (float v : w) {
            max = Math.max(max, Math.abs(v));
          }
          assertTrue(max > 0, "all-zero weights: the check would compare zeros");
          for (int k = 0; k < w.length; k++) {
            float m = means[c.image() * w.length + k];
            assertTrue(
                Math.abs(m - w[k]) <= WEIGHTS_RTOL * max,
                "image " + c.image() + " channel " + k + ": floor " + m + " vs explainer " + w[k]);
          }
        }
      }
    }
  }

  /**
   * The whole program on the CPU (Java engine, CPU PyTorch) on a tiny U-Net: every peer's maps
   * equal segcam's, K targets in the same order, every side timed, the JSON complete.
   */
  @Test
  void aDryRunAgreesWithBothPeersAndTimesEverySide(@TempDir Path dir) throws Exception {
    String why = TorchPeer.unavailable(TorchPeer.Kind.PGC);
    assumeTrue(why == null, "torch peers unavailable: " + why);
    Path json = dir.resolve("gvt.json");
    GpuVsTorch.main(
        new String[] {
          "--model",
          "unet",
          "--size",
          "" + SIZE,
          "--backend",
          "java",
          "--device",
          "cpu",
          "--cases",
          "1x1,2x3",
          "--warmup",
          "1",
          "--reps",
          "3",
          "--case-seconds",
          "1",
          "--threads",
          "1",
          "--json",
          json.toString(),
          "--dir",
          dir.resolve("export").toString()
        });
    assertTrue(Files.isRegularFile(json));
    JsonNode cases = Json.mapper().readTree(json.toFile()).get("cases");
    assertEquals(2, cases.size());
    for (JsonNode c : cases) {
      assertEquals("ok", c.get("status").asText(), c.toString());
      assertTrue(c.get("agrees").asBoolean(), c.toString());
      for (String peer : List.of("hand", "pgc")) {
        assertTrue(c.get("map_difference").get(peer).asDouble() <= GpuVsTorch.MAP_TOLERANCE);
        assertEquals(3, c.get("timing").get(peer).get("n").asInt(), c.toString());
      }
      assertEquals(3, c.get("timing").get(GpuVsTorch.SEGCAM).get("n").asInt());
    }
    assertTrue(cases.get(0).get("timing").has(GpuVsTorch.FLOOR));
    assertEquals(3, cases.get(1).get("classes").size());
  }
}
