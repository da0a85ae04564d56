package dev.segcam.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.BackendChoice;
import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.DeviceOutOfMemoryException;
import dev.segcam.backend.ForwardingCamBackend;
import dev.segcam.cam.CamException;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.Target;
import dev.segcam.image.Images;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.synth.SceneGenerator;
import dev.segcam.testing.Tolerance;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 7 part 4 on the CPU: a backend wrapper throws {@link DeviceOutOfMemoryException} whenever a
 * forward gets more than LIMIT frames (optionally only after some frames went through, as when
 * device memory fragments). The explain stage must halve its batch, log it, keep the smaller batch,
 * and lose, repeat or reorder no frame: its maps equal those of runs that never ran out.
 */
@Timeout(300)
class VideoOomTest {
  static final Path MODEL = Path.of("weights/scene-unet");
  static final int N = 40;
  static final int SIDE = 64;

  /**
   * Same engine, same frames; only the batch a frame shares its forward with differs, which may
   * change the order of float sums in the engine's kernels.
   */
  static final Tolerance BATCHING = new Tolerance(1e-4, 1e-6);

  @TempDir static Path tmp;
  static Path frames;
  static Graph graph;

  @BeforeAll
  static void framesAndModel() {
    frames = tmp.resolve("frames");
    SceneGenerator gen = new SceneGenerator(SIDE, SIDE);
    for (int i = 0; i < N; i++) {
      Images.writePng(gen.generate(777, i).toTensor(), frames.resolve("s_" + i + ".png"));
    }
    graph = SavedModelImporter.load(MODEL).graph();
  }

  /** Throws DeviceOutOfMemoryException for forwards of more than {@code limit} frames. */
  static final class OomBackend extends ForwardingCamBackend {
    final int limit;
    final int after;
    int framesDone;
    final List<Integer> refused = Collections.synchronizedList(new ArrayList<>());

    /**
     * @param after frames that go through at any batch size before the limit applies
     */
    OomBackend(CamBackend d, int limit, int after) {
      super(d);
      this.limit = limit;
      this.after = after;
    }

    @Override
    public Forward forward(String input, CamTensor images, Set<String> keep) {
      int n = images.shape().dim(0);
      if (framesDone >= after && n > limit) {
        refused.add(n);
        long bytes = 4L * images.shape().size() * 50;
        throw new DeviceOutOfMemoryException(
            "cudaMalloc of " + bytes + " bytes for a batch of " + n + " (injected)", bytes);
      }
      framesDone += n;
      return inner.forward(input, images, keep);
    }

    @Override
    public String name() {
      return "oom(" + inner.name() + ")";
    }
  }

  /** Keeps every frame that reaches it, in arrival order. */
  static final class Collect implements FrameSink {
    final List<FrameItem> items = new ArrayList<>();
    boolean finished;

    @Override
    public void write(FrameItem item) {
      items.add(item);
    }

    @Override
    public void finish() {
      finished = true;
    }

    @Override
    public void abort() {}

    @Override
    public String describe() {
      return "memory";
    }
  }

  record Run(List<FrameItem> items, ExplainStage stage, List<String> log, OomBackend oom) {}

  /** limit < 0: the plain backend. */
  static Run run(int batch, ExplainStage.ScaleMode mode, int limit, int after) {
    CamBackend b = CpuCamBackend.create(graph, 2);
    OomBackend oom = limit < 0 ? null : new OomBackend(b, limit, after);
    Explainer ex = new Explainer(oom == null ? b : oom);
    List<String> log = Collections.synchronizedList(new ArrayList<>());
    ExplainStage st =
        new ExplainStage(
                ex,
                List.of(Target.predicted(1), Target.predicted(3)),
                ex.defaultLayer(),
                CamMethod.GRAD_CAM,
                batch,
                mode,
                0)
            .log(log::add);
    Collect sink = new Collect();
    new FramePipeline(
            new ImageDirectorySource(frames),
            List.of(new PrepareStage(SIDE, SIDE), st),
            sink,
            8,
            null)
        .run();
    assertTrue(sink.finished);
    return new Run(sink.items, st, log, oom);
  }

  /** Every frame once, in order, explained; maps, scores and empty marks as in the reference. */
  static void assertSameFrames(Run ref, Run got) {
    assertEquals(N, got.items().size());
    int empties = 0;
    for (int i = 0; i < N; i++) {
      FrameItem g = got.items().get(i);
      FrameItem r = ref.items().get(i);
      assertEquals(i, g.index, "frame order");
      assertNull(g.error, "frame " + i);
      assertNotNull(g.heatmaps, "frame " + i + " was not explained");
      for (int t = 0; t < 2; t++) {
        String what = "frame " + i + " target " + t;
        assertEquals(r.empty[t], g.empty[t], what + " empty");
        empties += g.empty[t] ? 1 : 0;
        BATCHING.assertClose(what + " heatmap", r.heatmaps[t], g.heatmaps[t]);
        if (g.empty[t]) {
          assertTrue(Float.isNaN(g.scores[t]), what + ": an empty target has no score");
        } else {
          BATCHING.assertClose(
              what + " score", new float[] {r.scores[t]}, new float[] {g.scores[t]});
        }
      }
    }
    assertTrue(empties < 2 * N, "every target empty: the comparison says nothing");
    assertTrue(empties > 0, "no empty target: the zero-map path went untested");
  }

  /**
   * Explainer.emptyTargetsAsZero, which the stage relies on for one forward per batch: a batch with
   * empty targets gives, row by row, what lone calls give; an empty row is NaN and all zeros (also
   * for Grad-CAM++, whose weights are 0/0 on a zero gradient) where a lone call throws.
   */
  @Test
  void emptyTargetsAsZeroMatchesLoneCallsRowByRow() {
    int n = 8;
    float[] data = new float[n * SIDE * SIDE * 3];
    for (int i = 0; i < n; i++) {
      BufferedImage img = Images.read(frames.resolve("s_" + i + ".png"));
      float[] one = Frames.toModelInput(img, SIDE, SIDE);
      System.arraycopy(one, 0, data, i * one.length, one.length);
    }
    FloatTensor batch = new FloatTensor(Shape.of(n, SIDE, SIDE, 3), data);
    List<Target> ts = List.of(Target.predicted(1), Target.predicted(3), Target.image(2));
    for (CamMethod m : List.of(CamMethod.GRAD_CAM, CamMethod.GRAD_CAM_PLUS_PLUS)) {
      try (Explainer ex = new Explainer(CpuCamBackend.create(graph, 2))) {
        String layer = ex.defaultLayer();
        ex.emptyTargetsAsZero(true);
        List<CamResult> all = ex.explain(batch, ts, List.of(layer), m);
        ex.emptyTargetsAsZero(false);
        int empty = 0;
        for (int i = 0; i < n; i++) {
          FloatTensor img =
              new FloatTensor(
                  Shape.of(1, SIDE, SIDE, 3),
                  java.util.Arrays.copyOfRange(
                      data, i * SIDE * SIDE * 3, (i + 1) * SIDE * SIDE * 3));
          for (int t = 0; t < ts.size(); t++) {
            CamResult got = all.get(i * ts.size() + t);
            String what = m + " image " + i + " target " + t;
            assertEquals(i, got.image(), what);
            assertEquals(t, got.targetIndex(), what);
            CamResult want;
            try {
              want = ex.explain(img, List.of(ts.get(t)), List.of(layer), m).get(0);
            } catch (CamException.EmptyMaskException e) {
              empty++;
              assertTrue(Float.isNaN(got.score()), what);
              for (float v : got.upsampled().data()) {
                assertEquals(0f, v, what);
              }
              for (float v : got.heatmap().data()) {
                assertEquals(0f, v, what);
              }
              continue;
            }
            BATCHING.assertClose(
                what + " score", new float[] {want.score()}, new float[] {got.score()});
            BATCHING.assertClose(what + " map", want.upsampled(), got.upsampled());
          }
        }
        assertTrue(empty > 0 && empty < n * ts.size(), "empty rows: " + empty);
      }
    }
  }

  @Test
  void outOfMemoryFromTheStartHalvesTo4AndMatchesABatch4Run() {
    Run ref = run(4, ExplainStage.ScaleMode.PER_FRAME, -1, 0);
    Run got = run(16, ExplainStage.ScaleMode.PER_FRAME, 5, 0);
    assertSameFrames(ref, got);
    assertEquals(4, got.stage().batchInUse());
    assertEquals(16, got.stage().batchSize());
    assertEquals(List.of(16, 8), got.oom().refused, "each size refused once, then kept smaller");
    assertEquals(2, got.log().size(), got.log().toString());
    assertTrue(
        got.log().get(0).startsWith("segcam: out of device memory at batch 16 (cudaMalloc of "),
        got.log().get(0));
    assertTrue(got.log().get(0).endsWith("(injected)); halving to 8"), got.log().get(0));
    assertTrue(got.log().get(1).endsWith("; halving to 4"), got.log().get(1));
  }

  /**
   * The limit appears after 10 frames: the first batch of 16 goes through whole (and sets the AUTO
   * scale), the second halves twice. Maps and scale equal a plain batch-16 run's.
   */
  @Test
  void outOfMemoryMidRunKeepsTheScaleAndEveryFrame() {
    Run ref = run(16, ExplainStage.ScaleMode.AUTO, -1, 0);
    Run got = run(16, ExplainStage.ScaleMode.AUTO, 5, 10);
    assertSameFrames(ref, got);
    assertEquals(ref.stage().scale(), got.stage().scale(), 1e-6f * ref.stage().scale());
    assertTrue(ref.stage().scale() > 0);
    assertEquals(4, got.stage().batchInUse());
    assertEquals(List.of(16, 8), got.oom().refused);
    assertEquals(N, got.oom().framesDone, "a frame was forwarded twice or never");
  }

  @Test
  void outOfMemoryAtOneFrameIsAClearFatalError() {
    VideoException e =
        assertThrows(VideoException.class, () -> run(4, ExplainStage.ScaleMode.PER_FRAME, 0, 0));
    String m = e.getMessage();
    assertTrue(m.startsWith("out of device memory with a batch of 1 frame (cudaMalloc of "), m);
    assertTrue(m.contains("use --backend cpu"), m);
  }

  /**
   * Through {@code segcam video}'s run: the log line on stderr and the final batch in the summary.
   */
  @Test
  void videoRunLogsTheHalvingAndReportsTheFinalBatch() throws IOException {
    VideoRun.Options o = new VideoRun.Options();
    o.model = MODEL;
    o.input = frames.toString();
    o.output = tmp.resolve("oom-png");
    o.jsonl = tmp.resolve("oom.jsonl");
    o.classes = List.of("1", "3");
    o.backend = BackendChoice.CPU;
    o.batch = 16;
    o.fixedScale = "frame";
    o.threads = 2;
    o.backendWrapper = b -> new OomBackend(b, 5, 0);
    StringWriter err = new StringWriter();
    FramePipeline.Result r = VideoRun.run(o, new PrintWriter(err));
    String log = err.toString();
    assertEquals(N, r.frames(), log);
    assertEquals(0, r.failed(), log);
    assertTrue(log.contains("segcam: out of device memory at batch 16 ("), log);
    assertTrue(log.contains("); halving to 8\n"), log);
    assertTrue(
        log.contains("batch: 16 requested, 4 in use after running out of device memory"), log);
    List<String> lines = Files.readAllLines(o.jsonl, StandardCharsets.UTF_8);
    assertEquals(N, lines.size());
    for (int i = 0; i < N; i++) {
      assertTrue(lines.get(i).startsWith("{\"frame\":" + i + ","), lines.get(i));
      assertFalse(lines.get(i).contains("\"error\""), lines.get(i));
      assertTrue(Files.isRegularFile(o.output.resolve(PngSequenceSink.fileName(i))));
    }
  }
}
