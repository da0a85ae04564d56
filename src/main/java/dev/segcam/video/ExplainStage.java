package dev.segcam.video;

import dev.segcam.SegcamException;
import dev.segcam.backend.DeviceOutOfMemoryException;
import dev.segcam.backend.Normalization;
import dev.segcam.cam.CamException;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.Target;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import dev.segcam.ir.UnknownNodeException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Forward + backward + CAM for a batch of N frames and K targets in one {@link Explainer} call.
 *
 * <p>Heatmaps are scaled to [0,1] with one fixed scale for the whole video (clamp(L / S, 0, 1)), so
 * that brightness means the same in every frame: S given, or "auto" = the largest map value of the
 * first batch that has one; or per map (min-max, flickers) when asked.
 *
 * <p>A target whose region is empty on a frame (its class is not predicted there) gives a zero map
 * and is marked empty; it does not fail the frame ({@link Explainer#emptyTargetsAsZero}, so a batch
 * is one forward and one backward whatever the frames predict). When a batch fails otherwise, its
 * frames are retried one by one, so only the frames at fault are reported. Errors every frame would
 * hit (class out of range, a layer not on the score's path, a wrong input shape) stop the run.
 *
 * <p>When the device runs out of memory ({@link DeviceOutOfMemoryException}) the batch in use
 * halves, with one line on the log, and the run goes on at the smaller size; at one frame it is a
 * fatal error.
 */
public final class ExplainStage implements Stage {
  /** How heatmaps are scaled. */
  public enum ScaleMode {
    FIXED,
    AUTO,
    PER_FRAME
  }

  private final Explainer explainer;
  private final List<Target> targets;
  private final List<String> layers;
  private final CamMethod method;
  private final int batch;
  private final ScaleMode mode;
  private float scale;

  /** Largest upsampled map value met in the current batch (AUTO, before the scale is known). */
  private float batchMax;

  /** Frames per explainer call now: the requested batch, halved on each device OOM. */
  private int inUse;

  /** Where the out-of-memory line goes. */
  private Consumer<String> log = System.err::println;

  public ExplainStage(
      Explainer explainer,
      List<Target> targets,
      String layer,
      CamMethod method,
      int batch,
      ScaleMode mode,
      float scale) {
    if (batch < 1) {
      throw new VideoException("--batch must be >= 1, got " + batch);
    }
    if (targets.isEmpty()) {
      throw new VideoException("no target to explain: give at least one --class");
    }
    if (mode == ScaleMode.FIXED && !(scale > 0 && Float.isFinite(scale))) {
      throw new VideoException("a fixed heatmap scale must be a finite number > 0, got " + scale);
    }
    this.explainer = explainer;
    this.targets = List.copyOf(targets);
    this.layers = List.of(layer);
    this.method = method;
    this.batch = batch;
    this.mode = mode;
    this.scale = scale;
    this.inUse = batch;
    explainer.emptyTargetsAsZero(true);
    // FIXED/AUTO scale the upsampled maps here (AUTO learns S from the first batch)
    explainer.normalization(Normalization.perMap());
  }

  @Override
  public String name() {
    return "explain";
  }

  @Override
  public int batchSize() {
    return batch;
  }

  /** Frames per explainer call in use: the requested batch, or less after device OOMs. */
  public int batchInUse() {
    return inUse;
  }

  /** Sends the out-of-device-memory lines here (default: stderr). */
  public ExplainStage log(Consumer<String> log) {
    this.log = log;
    return this;
  }

  /** The fixed scale in use (after the first batch in AUTO mode), or 0 if none yet. */
  public float scale() {
    return mode == ScaleMode.PER_FRAME ? 0 : scale;
  }

  public ScaleMode mode() {
    return mode;
  }

  @Override
  public void process(List<FrameItem> items) {
    List<FrameItem> ok = new ArrayList<>();
    for (FrameItem it : items) {
      if (!it.failed()) {
        ok.add(it);
      }
    }
    if (ok.isEmpty()) {
      return;
    }
    batchMax = 0;
    explainAll(ok);
    if (mode == ScaleMode.PER_FRAME) {
      return;
    }
    if (mode == ScaleMode.AUTO && !(scale > 0) && batchMax > 0 && Float.isFinite(batchMax)) {
      scale = batchMax; // the first batch with any heat sets the scale for the whole video
    }
    for (FrameItem it : ok) {
      if (!it.failed() && it.heatmaps != null) {
        for (float[] h : it.heatmaps) {
          scaleInPlace(h);
        }
      }
    }
  }

  // map (H,W) of upsampled L -> clamp(L / scale, 0, 1); all zeros while no scale is known
  private void scaleInPlace(float[] h) {
    if (!(scale > 0)) {
      java.util.Arrays.fill(h, 0f);
      return;
    }
    float inv = 1f / scale;
    for (int i = 0; i < h.length; i++) {
      float v = h[i] * inv;
      h[i] = v > 1f ? 1f : (v > 0f ? v : 0f);
    }
  }

  /**
   * Explains the frames in chunks of the batch size in use, in order. A chunk that runs out of
   * device memory is not stored; the size in use halves (for this and every later batch) and the
   * loop goes on from the same frame, so no frame is lost or explained twice.
   */
  private void explainAll(List<FrameItem> ok) {
    int i = 0;
    while (i < ok.size()) {
      int n = Math.min(inUse, ok.size() - i);
      try {
        explainChunk(ok.subList(i, i + n));
        i += n;
      } catch (DeviceOutOfMemoryException e) {
        if (n == 1) {
          throw new VideoException.FatalStageException(
              "out of device memory with a batch of 1 frame ("
                  + e.getMessage()
                  + "): the model does not fit on this device at this input size; free device"
                  + " memory or use --backend cpu",
              e);
        }
        inUse = e.halvedBatch(n, log);
      }
    }
  }

  /** One explainer call for the chunk; when it fails otherwise, the frames are tried one by one. */
  private void explainChunk(List<FrameItem> frames) {
    try {
      List<CamResult> r = explain(frames, targets);
      for (int i = 0; i < frames.size(); i++) {
        store(frames.get(i), r.subList(i * targets.size(), (i + 1) * targets.size()));
      }
    } catch (DeviceOutOfMemoryException e) {
      throw e;
    } catch (RuntimeException e) {
      fatalIfGlobal(e);
      if (frames.size() == 1) {
        frames.get(0).fail(message(e));
        return;
      }
      for (FrameItem it : frames) {
        explainChunk(List.of(it)); // only the frames at fault are reported
      }
    }
  }

  // frames' inputs -> (N,H,W,3)
  private static FloatTensor images(List<FrameItem> frames) {
    int h = frames.get(0).inH;
    int w = frames.get(0).inW;
    int px = h * w * 3;
    float[] data = new float[frames.size() * px];
    for (int i = 0; i < frames.size(); i++) {
      System.arraycopy(frames.get(i).input, 0, data, i * px, px);
    }
    return new FloatTensor(Shape.of(frames.size(), h, w, 3), data);
  }

  private List<CamResult> explain(List<FrameItem> frames, List<Target> ts) {
    List<CamResult> r = explainer.explain(images(frames), ts, layers, method);
    if (mode == ScaleMode.AUTO && !(scale > 0)) {
      for (CamResult c : r) {
        for (float v : c.upsampled().data()) {
          batchMax = Math.max(batchMax, v);
        }
      }
    }
    return r;
  }

  private void store(FrameItem it, List<CamResult> r) {
    int k = targets.size();
    it.scores = new float[k];
    it.heatmaps = new float[k][];
    it.empty = new boolean[k];
    for (int t = 0; t < k; t++) {
      CamResult c = r.get(t);
      it.scores[t] = c.score();
      it.heatmaps[t] = heat(c);
      // the explainer's mark for a region with no pixel: NaN score, all-zero maps
      it.empty[t] = Float.isNaN(c.score()) && allZero(c.upsampled().data());
    }
  }

  private static boolean allZero(float[] v) {
    for (float x : v) {
      if (x != 0f) {
        return false;
      }
    }
    return true;
  }

  /**
   * The result's map: normalised per map, or the upsampled L, scaled once the batch is done (the
   * first AUTO batch learns its scale from all its maps, whichever calls produced them).
   */
  private float[] heat(CamResult c) {
    return mode == ScaleMode.PER_FRAME ? c.heatmap().data() : c.upsampled().data().clone();
  }

  /** Errors that do not depend on the frame end the run instead of failing every frame. */
  private static void fatalIfGlobal(RuntimeException e) {
    if (e instanceof CamException.ClassOutOfRangeException
        || e instanceof CamException.LayerNotOnScorePathException
        || e instanceof UnknownNodeException
        || e instanceof ShapeException
        || e instanceof dev.segcam.backend.BackendUnavailableException) {
      throw new VideoException.FatalStageException(e.getMessage(), e);
    }
  }

  private static String message(RuntimeException e) {
    return e instanceof SegcamException
        ? e.getMessage()
        : e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
  }

  @Override
  public void close() {
    explainer.close();
  }
}
