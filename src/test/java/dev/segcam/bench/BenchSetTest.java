package dev.segcam.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The benchmark set's plumbing without running it: which configurations {@code --models} and {@code
 * --batches} give, their TF score seed, and README's generated table (written between its markers,
 * replaced on the next run, the rest of README untouched).
 */
class BenchSetTest {
  @Test
  void defaultSetIsEveryModelAtBatchOneAndEight() {
    List<BenchSet.Config> c = BenchSet.configs(BenchSet.DEFAULT_MODELS, BenchSet.DEFAULT_BATCHES);
    assertEquals(10, c.size());
    assertEquals(new BenchSet.Config("scene-unet", 64, 1), c.get(0));
    assertEquals(new BenchSet.Config("classic", 512, 8), c.get(9));
    for (BenchSet.Config x : c) {
      assertTrue(x.defaultIterations() >= 2, x.id());
      assertEquals(x, BenchSet.Config.parse(x.arg()));
    }
  }

  @Test
  void anEntryWithABatchRunsThatBatchOnly() {
    assertEquals(
        List.of(
            new BenchSet.Config("unet", 256, 1),
            new BenchSet.Config("unet", 256, 8),
            new BenchSet.Config("classic", 512, 1)),
        BenchSet.configs("unet:256,classic:512:1", "1,8"));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> BenchSet.configs("resnet:224", "1"));
    assertTrue(e.getMessage().contains("resnet"), e.getMessage());
  }

  @Test
  void seedMarksTheCentreBoxOfTheTargetClassInEveryImage() {
    BenchSet.Config c = new BenchSet.Config("unet", 8, 2);
    int classes = 3;
    float[] seed = BenchSet.seed(c, classes);
    assertEquals(2 * 8 * 8 * classes, seed.length);
    int ones = 0;
    for (int b = 0; b < 2; b++) {
      for (int y = 0; y < 8; y++) {
        for (int x = 0; x < 8; x++) {
          for (int k = 0; k < classes; k++) {
            boolean in = y >= 2 && y < 6 && x >= 2 && x < 6 && k == BenchSet.TARGET_CLASS;
            float v = seed[((b * 8 + y) * 8 + x) * classes + k];
            assertEquals(in ? 1f : 0f, v, "b" + b + " y" + y + " x" + x + " k" + k);
            ones += in ? 1 : 0;
          }
        }
      }
    }
    assertEquals(2 * 16, ones);
  }

  private static final String JSON =
      """
      {"device": {"cpu": "Test CPU", "cores": 2, "cpu_flags": ["avx2", "avx512f"],
        "onednn": {"version": "3.11.0", "isa": "avx512_core"}},
       "date": "2026-12-05T00:00:00Z", "commit": "0123456789abcdef",
       "load_average": {"start": {"1min": 0.5}}, "jvm_args": "-Xmx1g",
       "configs": [
        {"id": "unet-256-b1", "model": "unet", "size": 256, "batch": 1, "status": "ok",
         "description": "1.9M U-Net",
         "segcam_ms": {"median": 200, "min": 190, "max": 210, "n": 3},
         "tensorflow_ms": {"median": 100, "min": 90, "max": 110, "n": 3}, "ratio": 2.0,
         "cpu_time_ratio": 1.8,
         "peers": {"torch-hand": {"status": "ok", "ratio": 1.25},
                   "pytorch-grad-cam": {"status": "off", "reason": "not wired"}},
         "memory": {"segcam": {"peak_mb": 300}, "tensorflow": {"peak_mb": 200}, "ratio": 1.5}},
        {"id": "classic-512-b8", "model": "classic", "size": 512, "batch": 8,
         "status": "segcam ran out of memory in its child JVM: not timed"}],
       "batch_scaling": [{"model": "unet", "size": 256, "batch": 8,
         "segcam_over_batch1": 9.5, "tensorflow_over_batch1": 7.7}]}
      """;

  @Test
  void readmeTableIsWrittenBetweenItsMarkersAndReplacedNextTime(@TempDir Path dir)
      throws Exception {
    Path json = dir.resolve("set.json");
    Files.writeString(json, JSON);
    Path readme = dir.resolve("README.md");
    Files.writeString(readme, "# x\n\n## Measured\n\nfirst\n\n## Later\n\ntail\n");
    MeasuredDoc.update(readme, json);
    String once = Files.readString(readme);
    assertTrue(once.contains("| 1.9M U-Net | 256x256 | 1 | 200.0 (190.0–210.0) |"), once);
    assertTrue(once.contains("| **2.00** | 1.80 | 1.25 | off | 300 / 200 (1.50) | 3 |"), once);
    assertTrue(once.contains("| classic | 512x512 | 8 | segcam ran out of memory"), once);
    assertTrue(once.contains("| unet | 256x256 | 8 | 9.50 | 7.70 |"), once);
    assertTrue(once.contains("pytorch-grad-cam (not wired)"), once);
    // inside the Measured section, before the next one
    assertTrue(once.indexOf(MeasuredDoc.BEGIN) > once.indexOf("first"), once);
    assertTrue(once.indexOf(MeasuredDoc.END) < once.indexOf("## Later"), once);
    MeasuredDoc.update(readme, json);
    assertEquals(once, Files.readString(readme));
  }

  /** A side that counts its steps and takes about stepMs each. */
  private static final class CountingSide implements BenchSet.Side {
    int steps;
    final long stepNanos;

    CountingSide(double stepMs) {
      this.stepNanos = (long) (stepMs * 1e6);
    }

    @Override
    public String name() {
      return "counting";
    }

    @Override
    public double[] step() {
      steps++;
      long t0 = System.nanoTime();
      while (System.nanoTime() - t0 < stepNanos) {
        Thread.onSpinWait();
      }
      return new double[] {0, 0};
    }

    @Override
    public void close() {}
  }

  @Test
  void warmUpRunsTheStepsAndThenUntilTheTimeHasPassed() {
    CountingSide a = new CountingSide(0);
    CountingSide b = new CountingSide(0);
    assertEquals(3, BenchSet.warmUp(List.of(a, b), 3, 0));
    assertEquals(3, a.steps);
    assertEquals(3, b.steps);

    // a slow side: the steps asked for, even past the time
    CountingSide slow = new CountingSide(20);
    assertEquals(2, BenchSet.warmUp(List.of(slow), 2, 0.001));

    // a fast side: more steps until the time has passed (each at least 1 ms: 50 ms = at most 50)
    CountingSide fast = new CountingSide(1);
    int rounds = BenchSet.warmUp(List.of(fast), 1, 0.05);
    assertTrue(rounds > 1 && rounds <= 50, "rounds " + rounds);
    assertEquals(rounds, fast.steps);

    // a side of no time at all stops at the cap
    CountingSide instant = new CountingSide(0);
    assertEquals(BenchSet.MAX_WARMUP_STEPS, BenchSet.warmUp(List.of(instant), 1, 3600));
  }
}
