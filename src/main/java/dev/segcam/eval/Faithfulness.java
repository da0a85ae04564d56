package dev.segcam.eval;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.cam.CamResult;
import dev.segcam.cam.Explainer;
import dev.segcam.cam.LabelMap;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntConsumer;

/**
 * Deletion and insertion curves (Petsiuk et al., RISE) for Seg-Grad-CAM maps: pixels are removed
 * from the image (replaced by a baseline) or inserted into the baseline, most salient first, in
 * {@code steps} equal steps, and after each step the model scores the target's region again.
 *
 * <p>The tracked score is the region's class probability: the mean over the target's region M
 * (fixed from the unperturbed image's prediction, weighted as the target weights it) of the softmax
 * probability of class c (sigmoid for a single-channel output: p for class 1, 1 - p for class 0).
 * It lies in [0,1], so AUCs compare across classes and images. A faithful map makes the deletion
 * curve fall fast (low deletion AUC) and the insertion curve rise fast (high insertion AUC).
 *
 * <p>Step s (0..steps) changes the first floor(s * P / steps) pixels of the order, P = H*W; the
 * order is by heat, descending, ties by row-major index. AUC is the trapezoid rule over the
 * fraction changed, s / steps, in [0,1]. The perturbed images of all results are scored in batches
 * of {@link Options#batch()} forwards on the explainer's backend; an image that several curves
 * share (the ends of every curve of an image, the steps of maps with the same pixel order, e.g. the
 * same map from two methods or regions) is run forward once and scored for each of them.
 */
public final class Faithfulness {
  private Faithfulness() {}

  /** What removed pixels become. */
  public sealed interface Baseline permits Blur, Constant {}

  /** A Gaussian blur of the image (standard deviation in pixels, edges clamped). */
  public record Blur(double sigma) implements Baseline {
    public Blur {
      if (!(sigma > 0) || sigma > 1000) {
        throw new EvalException("blur sigma must be in (0, 1000] pixels, got " + sigma);
      }
    }
  }

  /** One value in every channel (0 = black). */
  public record Constant(float value) implements Baseline {}

  /** Default blur: 4 px, about the size of the scene generator's smallest objects at 64x64. */
  public static final double DEFAULT_BLUR_SIGMA = 4.0;

  /** Default steps: 16 (17 points per curve). */
  public static final int DEFAULT_STEPS = 16;

  /** Default images per forward. */
  public static final int DEFAULT_BATCH = 32;

  /** How the curves are made. */
  public record Options(int steps, Baseline baseline, int batch) {
    public Options {
      if (steps < 1 || steps > 10_000) {
        throw new EvalException("steps must be in 1..10000, got " + steps);
      }
      if (baseline == null) {
        throw new EvalException("a baseline is needed (blur or constant)");
      }
      if (batch < 1) {
        throw new EvalException("batch must be >= 1, got " + batch);
      }
    }

    public static Options defaults() {
      return new Options(DEFAULT_STEPS, new Blur(DEFAULT_BLUR_SIGMA), DEFAULT_BATCH);
    }
  }

  /** One curve: score after each step, and its area. */
  public record Curve(double[] fractions, double[] scores, double auc) {}

  /** The deletion and insertion curves of one map. */
  public record Curves(Curve deletion, Curve insertion) {}

  /**
   * Deletion and insertion curves of each result's heatmap, scoring its own target's class and
   * region.
   *
   * @param images the (N,H,W,C) images the results were explained on (result.image() indexes it)
   * @param progress called after each forward batch with the work done so far, in the units of
   *     {@link #forwards} (it ends at that count; may be null)
   */
  public static List<Curves> curves(
      Explainer ex,
      FloatTensor images,
      List<CamResult> results,
      Options opt,
      IntConsumer progress) {
    Shape is = images.shape();
    if (is.rank() != 4) {
      throw new EvalException("images must be (N,H,W,C), got " + is);
    }
    int h = is.dim(1);
    int w = is.dim(2);
    int c = is.dim(3);
    int px = h * w;
    int steps = opt.steps();
    List<float[]> bases = new ArrayList<>();
    for (int i = 0; i < is.dim(0); i++) {
      bases.add(
          baseline(
              Arrays.copyOfRange(images.data(), i * px * c, (i + 1) * px * c),
              h,
              w,
              c,
              opt.baseline()));
    }
    float[][] regions = new float[results.size()][];
    // the unique perturbed images, first seen first; slot = (2 * result + insertion) * perCurve + s
    int perCurve = steps + 1;
    Map<Perturbed, Job> unique = new HashMap<>();
    List<Job> jobs = new ArrayList<>();
    for (int r = 0; r < results.size(); r++) {
      CamResult res = results.get(r);
      Shape hs = res.heatmap().shape();
      if (hs.rank() != 2 || hs.dim(0) != h || hs.dim(1) != w) {
        throw new EvalException(
            "result " + r + " has a " + hs + " heatmap but the images are " + w + "x" + h);
      }
      int[] order = order(res.heatmap().data());
      LabelMap p = res.predicted();
      regions[r] =
          res.target().region().weights(p.height(), p.width(), h, w, p, res.target().classIndex());
      BitSet removed = new BitSet(px);
      for (int step = 0; step <= steps; step++) {
        for (int i = changed(Math.max(0, step - 1), steps, px); i < changed(step, steps, px); i++) {
          removed.set(order[i]);
        }
        BitSet inserted = (BitSet) removed.clone();
        inserted.flip(0, px);
        // deletion: the image with the removed pixels from the baseline; insertion: the baseline
        // with the inserted pixels from the image, i.e. the image with all the others from it
        for (int ins = 0; ins < 2; ins++) {
          Perturbed key =
              new Perturbed(res.image(), ins == 0 ? (BitSet) removed.clone() : inserted);
          Job job = unique.get(key);
          if (job == null) {
            job = new Job(key, new ArrayList<>());
            unique.put(key, job);
            jobs.add(job);
          }
          job.slots().add((2 * r + ins) * perCurve + step);
        }
      }
    }
    double[][] curves = new double[results.size() * 2][perCurve];
    CamBackend b = ex.backend();
    String input = b.graph().inputs().get(0);
    String logits = ex.logitsNode();
    long totalSlots = (long) results.size() * 2 * perCurve;
    long slotsDone = 0;
    int nominal = forwards(is.dim(0), results.size(), opt);
    for (int start = 0; start < jobs.size(); start += opt.batch()) {
      int n = Math.min(opt.batch(), jobs.size() - start);
      float[] batch = new float[n * px * c];
      for (int j = 0; j < n; j++) {
        Perturbed key = jobs.get(start + j).key();
        int img = key.image();
        System.arraycopy(images.data(), img * px * c, batch, j * px * c, px * c);
        float[] base = bases.get(img);
        for (int q = key.fromBase().nextSetBit(0); q >= 0; q = key.fromBase().nextSetBit(q + 1)) {
          System.arraycopy(base, q * c, batch, j * px * c + q * c, c);
        }
      }
      try (CamTensor t = b.upload(new FloatTensor(Shape.of(n, h, w, c), batch));
          CamBackend.Forward f = b.forward(input, t, Set.of(logits))) {
        FloatTensor lv = f.value(logits).toHost();
        int[] d = lv.shape().dims();
        int opx = d.length == 4 ? d[1] * d[2] : 1;
        int ch = d[d.length - 1];
        for (int j = 0; j < n; j++) {
          for (int slot : jobs.get(start + j).slots()) {
            int r = slot / (2 * perCurve);
            curves[slot / perCurve][slot % perCurve] =
                score(results.get(r), regions[r], lv.data(), j * opx * ch, opx, ch);
          }
          slotsDone += jobs.get(start + j).slots().size();
        }
      }
      if (progress != null) {
        progress.accept((int) (nominal * slotsDone / totalSlots));
      }
    }
    if (progress != null && jobs.isEmpty()) {
      progress.accept(nominal);
    }
    List<Curves> out = new ArrayList<>();
    double[] fr = new double[perCurve];
    for (int s = 0; s < perCurve; s++) {
      fr[s] = (double) s / steps;
    }
    for (int r = 0; r < results.size(); r++) {
      double[] del = curves[2 * r];
      double[] ins = curves[2 * r + 1];
      out.add(new Curves(new Curve(fr, del, auc(del)), new Curve(fr, ins, auc(ins))));
    }
    return out;
  }

  // one perturbed image: image index and the pixels that come from its baseline
  private record Perturbed(int image, BitSet fromBase) {}

  // a perturbed image and the curve points (slots) it scores
  private record Job(Perturbed key, List<Integer> slots) {}

  private static double score(CamResult res, float[] region, float[] v, int off, int opx, int ch) {
    if (region.length != opx) {
      throw new EvalException(
          "the region has " + region.length + " pixels but the model output has " + opx);
    }
    return regionProbability(v, off, opx, ch, res.target().classIndex(), region);
  }

  /**
   * The units of {@link #curves}'s progress: how many images it would run forward for this many
   * images and results if every perturbed image were new (the ends of every curve once per image,
   * the interior steps per result and curve). Identical perturbed images (equal maps' orders, the
   * same map from two methods, layers or regions) run once, so it runs at most this many.
   */
  public static int forwards(int images, int results, Options opt) {
    return 2 * images + results * 2 * (opt.steps() - 1);
  }

  /** Pixels changed at step s of steps, P pixels: floor(s * P / steps). */
  static int changed(int s, int steps, int px) {
    return (int) ((long) s * px / steps);
  }

  /** Pixel indices by heat, descending; equal heat keeps row-major order. */
  static int[] order(float[] heat) {
    Integer[] idx = new Integer[heat.length];
    for (int i = 0; i < idx.length; i++) {
      idx[i] = i;
    }
    // NaN heat sorts last
    Arrays.sort(idx, (a, b) -> Float.compare(key(heat[b]), key(heat[a])));
    int[] out = new int[idx.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = idx[i];
    }
    return out;
  }

  private static float key(float v) {
    return Float.isNaN(v) ? Float.NEGATIVE_INFINITY : v;
  }

  /** Trapezoid area under y over x in [0,1] at equal steps (y has steps + 1 points). */
  static double auc(double[] y) {
    if (y.length < 2) {
      throw new EvalException("a curve needs at least 2 points, got " + y.length);
    }
    double a = 0;
    for (int i = 0; i + 1 < y.length; i++) {
      a += (y[i] + y[i + 1]) / 2;
    }
    return a / (y.length - 1);
  }

  // orig, base (H*W*C) -> dst[off..]: deletion = orig with the first k pixels of order from base;
  // insertion = base with the first k pixels from orig
  static void perturb(
      float[] orig,
      float[] base,
      int[] order,
      int k,
      int c,
      boolean insertion,
      float[] dst,
      int off) {
    float[] from = insertion ? base : orig;
    float[] to = insertion ? orig : base;
    System.arraycopy(from, 0, dst, off, orig.length);
    for (int i = 0; i < k; i++) {
      int p = order[i] * c;
      System.arraycopy(to, p, dst, off + p, c);
    }
  }

  // logits (P,ch) at off -> weighted mean over the region of class cls's probability
  static double regionProbability(float[] v, int off, int px, int ch, int cls, float[] region) {
    double sum = 0;
    double wsum = 0;
    for (int p = 0; p < px; p++) {
      float wt = region[p];
      if (wt == 0f) {
        continue;
      }
      int o = off + p * ch;
      double prob;
      if (ch == 1) {
        double s = 1 / (1 + Math.exp(-v[o]));
        prob = cls == 1 ? s : 1 - s;
      } else {
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < ch; k++) {
          max = Math.max(max, v[o + k]);
        }
        double z = 0;
        for (int k = 0; k < ch; k++) {
          z += Math.exp(v[o + k] - max);
        }
        prob = Math.exp(v[o + cls] - max) / z;
      }
      sum += wt * prob;
      wsum += wt;
    }
    return wsum == 0 ? Double.NaN : sum / wsum;
  }

  /** The baseline image (H*W*C) for one image (H*W*C). */
  static float[] baseline(float[] img, int h, int w, int c, Baseline b) {
    if (b instanceof Constant k) {
      float[] out = new float[img.length];
      Arrays.fill(out, k.value());
      return out;
    }
    return blur(img, h, w, c, ((Blur) b).sigma());
  }

  // separable Gaussian, radius ceil(3 sigma), edges clamped, weights normalised to sum 1
  static float[] blur(float[] img, int h, int w, int c, double sigma) {
    int rad = (int) Math.ceil(3 * sigma);
    double[] k = new double[2 * rad + 1];
    double ks = 0;
    for (int i = -rad; i <= rad; i++) {
      k[i + rad] = Math.exp(-(i * i) / (2 * sigma * sigma));
      ks += k[i + rad];
    }
    for (int i = 0; i < k.length; i++) {
      k[i] /= ks;
    }
    float[] tmp = new float[img.length];
    float[] out = new float[img.length];
    blurPass(img, tmp, h, w, c, k, true);
    blurPass(tmp, out, h, w, c, k, false);
    return out;
  }

  // src (H*W*C) -> dst: one pass of the kernel k (radius (k.length-1)/2) along x or y, edges
  // clamped
  private static void blurPass(
      float[] src, float[] dst, int h, int w, int c, double[] k, boolean alongX) {
    int rad = (k.length - 1) / 2;
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        for (int ch = 0; ch < c; ch++) {
          double s = 0;
          for (int i = -rad; i <= rad; i++) {
            int xx = alongX ? Math.min(w - 1, Math.max(0, x + i)) : x;
            int yy = alongX ? y : Math.min(h - 1, Math.max(0, y + i));
            s += k[i + rad] * src[(yy * w + xx) * c + ch];
          }
          dst[(y * w + x) * c + ch] = (float) s;
        }
      }
    }
  }
}
