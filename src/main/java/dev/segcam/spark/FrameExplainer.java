package dev.segcam.spark;

import dev.segcam.SegcamException;
import dev.segcam.backend.BackendProbe;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.ExplainerPool;
import dev.segcam.cam.Target;
import dev.segcam.image.Images;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.logging.Logger;
import javax.imageio.ImageIO;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.resource.ResourceInformation;

/**
 * The plain partition function for RDD users: {@code frames.mapPartitions(new
 * FrameExplainer(spec))} turns a {@code JavaRDD<Frame>} into a {@code JavaRDD<FrameResult>}, one
 * result per frame, in order. Within a partition it reads {@link ExplainSpec#batch()} frames,
 * decodes them, explains them in one call on an explainer borrowed from this executor's pool
 * ({@link ExecutorPools}), and yields their results before reading more (partitions stream; they
 * are never held whole).
 *
 * <p>A frame that cannot be decoded, or whose explain fails with a typed segcam error (say a pixel
 * target outside the model's output), becomes a result with {@link FrameResult#error()} when the
 * spec says {@link ExplainSpec.OnError#MARK}; a failing batch is retried frame by frame so that
 * only the bad frame is marked. With {@link ExplainSpec.OnError#FAIL} it fails the task with a
 * {@link SparkExplainException} naming the frame.
 */
public final class FrameExplainer implements FlatMapFunction<Iterator<Frame>, FrameResult> {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = Logger.getLogger(FrameExplainer.class.getName());

  private final ExplainSpec spec;

  public FrameExplainer(ExplainSpec spec) {
    this.spec = spec;
  }

  @Override
  public Iterator<FrameResult> call(Iterator<Frame> frames) {
    return new Batching<>(frames, this::explain, spec.batch());
  }

  /** Explains one batch of frames on this executor's pool (placement from the current task). */
  public List<FrameResult> explain(List<Frame> frames) {
    TaskPlacement where = TaskPlacement.choose(spec.backend(), gpus(), BackendProbe.cuda());
    return explain(frames, ExecutorPools.pool(spec, where), ExecutorPools.graph(spec));
  }

  /** Explains one batch on a given pool whose explainers run {@code graph}. */
  List<FrameResult> explain(List<Frame> frames, ExplainerPool pool, Graph graph) {
    List<Target> targets = spec.parsedTargets();
    Shape in = graph.node(graph.inputs().get(0)).shape();
    int fixedH = in.rank() == 4 ? in.dim(1) : Shape.UNKNOWN;
    int fixedW = in.rank() == 4 ? in.dim(2) : Shape.UNKNOWN;
    FrameResult[] out = new FrameResult[frames.size()];
    FloatTensor[] pixels = new FloatTensor[frames.size()];
    for (int i = 0; i < frames.size(); i++) {
      try {
        pixels[i] = decode(frames.get(i), fixedH, fixedW);
      } catch (SegcamException e) {
        out[i] = failed(frames.get(i), e);
      }
    }
    try (ExplainerPool.Lease lease = pool.borrow()) {
      Explainer ex = lease.explainer();
      List<String> layers = List.of(spec.layer() != null ? spec.layer() : ex.defaultLayer());
      // consecutive frames of one size go in one call (all of them, for a fixed-size model)
      int i = 0;
      while (i < frames.size()) {
        if (pixels[i] == null) {
          i++;
          continue;
        }
        int j = i + 1;
        while (j < frames.size() && pixels[j] != null && sameSize(pixels[i], pixels[j])) {
          j++;
        }
        explainRun(ex, frames, pixels, i, j, targets, layers, out);
        i = j;
      }
    }
    return List.of(out);
  }

  private void explainRun(
      Explainer ex,
      List<Frame> frames,
      FloatTensor[] pixels,
      int from,
      int to,
      List<Target> targets,
      List<String> layers,
      FrameResult[] out) {
    try {
      List<CamResult> cams = ex.explain(stack(pixels, from, to), targets, layers, spec.method());
      for (int i = from; i < to; i++) {
        out[i] = result(frames.get(i), cams, i - from, targets.size());
      }
    } catch (SegcamException e) {
      if (to - from == 1) {
        out[from] = failed(frames.get(from), e);
        return;
      }
      for (int i = from; i < to; i++) { // find the frame(s) at fault
        explainRun(ex, frames, pixels, i, i + 1, targets, layers, out);
      }
    }
  }

  private FrameResult result(Frame f, List<CamResult> cams, int image, int k) {
    List<FrameResult.Cam> list = new ArrayList<>(k);
    for (int t = 0; t < k; t++) {
      CamResult r = cams.get(image * k + t); // image-major, then target (one layer)
      if (r.image() != image || r.targetIndex() != t) {
        throw new IllegalStateException("explainer results out of the documented order");
      }
      FloatTensor h = r.heatmap();
      list.add(
          new FrameResult.Cam(
              t,
              spec.targets().get(t),
              r.target().classIndex(),
              r.layer(),
              r.score(),
              r.weights(),
              h.shape().dim(0),
              h.shape().dim(1),
              spec.floats() ? h.data().clone() : null,
              spec.png() ? png(h) : null));
    }
    return new FrameResult(f.path(), List.copyOf(list), null);
  }

  private FrameResult failed(Frame f, SegcamException e) {
    String msg = e.getMessage();
    String line = msg != null && msg.startsWith(f.path()) ? msg : f.path() + ": " + msg;
    if (spec.onError() == ExplainSpec.OnError.FAIL) {
      // no cause: segcam's exceptions may hold a Path, which is not serializable, and the task's
      // failure must reach the driver intact
      throw new SparkExplainException(line + " (" + e.getClass().getSimpleName() + ")");
    }
    LOG.warning("segcam: frame marked as failed: " + line);
    return new FrameResult(f.path(), List.of(), line);
  }

  /** The heatmap (H,W) in [0,1] as PNG bytes: the pixels of the CLI's heatmap.png. */
  static byte[] png(FloatTensor heatmap) {
    try {
      ByteArrayOutputStream b = new ByteArrayOutputStream(4096);
      ImageIO.write(Images.toImage(heatmap), "png", b);
      return b.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException("encoding a heatmap PNG in memory", e);
    }
  }

  /** A frame as (1,H,W,3) RGB in [0,1], resized (bilinear) to a fixed model size. */
  static FloatTensor decode(Frame f, int fixedH, int fixedW) {
    BufferedImage img = f.encoded() != null ? readEncoded(f) : fromPixels(f);
    boolean resize =
        fixedH > 0 && fixedW > 0 && (img.getHeight() != fixedH || img.getWidth() != fixedW);
    return Images.toTensor(resize ? Images.resize(img, fixedW, fixedH) : img);
  }

  // through a temporary file: Images.read's structure, CRC and size checks work on files
  private static BufferedImage readEncoded(Frame f) {
    Path tmp = null;
    try {
      tmp = Files.createTempFile("segcam-frame-", ".img");
      Files.write(tmp, f.encoded());
      return Images.read(tmp);
    } catch (IOException e) {
      throw new SparkExplainException(
          f.path() + ": cannot stage the frame on local disk for decoding: " + e, e);
    } catch (SegcamException e) {
      String msg = e.getMessage();
      throw new SparkExplainException(
          tmp == null ? f.path() + ": " + msg : msg.replace(tmp.toString(), f.path()), e);
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // a leftover temp file is not a reason to fail the frame
        }
      }
    }
  }

  private static BufferedImage fromPixels(Frame f) {
    int h = f.height();
    int w = f.width();
    int c = f.channels();
    byte[] d = f.pixels();
    if (h < 1 || w < 1 || (c != 1 && c != 3 && c != 4)) {
      throw new SparkExplainException(
          f.path() + ": image row " + w + "x" + h + " with " + c + " channels is not an image");
    }
    if (d == null || d.length != (long) h * w * c) {
      throw new SparkExplainException(
          f.path()
              + ": image data has "
              + (d == null ? 0 : d.length)
              + " bytes, expected "
              + ((long) h * w * c)
              + " for "
              + w
              + "x"
              + h
              + "x"
              + c
              + " (8-bit only)");
    }
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int i = (y * w + x) * c;
        int b = d[i] & 0xFF;
        int g = c == 1 ? b : d[i + 1] & 0xFF;
        int r = c == 1 ? b : d[i + 2] & 0xFF; // Spark stores BGR(A), OpenCV's order
        img.setRGB(x, y, (r << 16) | (g << 8) | b);
      }
    }
    return img;
  }

  private static boolean sameSize(FloatTensor a, FloatTensor b) {
    return a.shape().equals(b.shape());
  }

  private static FloatTensor stack(FloatTensor[] p, int from, int to) {
    int[] d = p[from].shape().dims();
    int per = d[1] * d[2] * d[3];
    float[] all = new float[(to - from) * per];
    for (int i = from; i < to; i++) {
      System.arraycopy(p[i].data(), 0, all, (i - from) * per, per);
    }
    return new FloatTensor(Shape.of(to - from, d[1], d[2], d[3]), all);
  }

  /** The GPU addresses Spark assigned to the running task (none outside a task). */
  static String[] gpus() {
    TaskContext tc = TaskContext.get();
    if (tc == null) {
      return new String[0];
    }
    ResourceInformation gpu = tc.resourcesJMap().get("gpu");
    return gpu == null ? new String[0] : gpu.addresses();
  }
}
