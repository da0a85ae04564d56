package dev.segcam.backend;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.ActivationKernels;
import dev.segcam.kernels.CpuKernels;
import java.util.Arrays;
import java.util.function.IntConsumer;
import java.util.function.Supplier;

/**
 * The score seed of {@link CamBackend#scoreSeed} (dS_r/dy for R = N·K rows) kept factored instead
 * of as the dense (R,oh,ow,C) tensor:
 *
 * <pre>
 *   seed[r,p,k] = a[r,p] · (δ(k, c_r) − β_r · P[n,p,k])          n = r % N (the row's image)
 *     LINEAR : a = ±mask,              β = 0
 *     SIGMOID: a = ±mask · σ(1 − σ),   β = 0
 *     SOFTMAX: a = ±mask · p_c,        β = 1, P = softmax of the image's values over C
 * </pre>
 *
 * (± is − for the background class of a single-channel output, as in seed.cu.) The factor a is
 * (R,oh,ow) and P, only when a row needs it, one (N,oh,ow,C) for all K targets: for 9 targets at
 * 512x512 with 124 classes that is 9 MB (+130 MB) instead of the dense seed's 1.2 GB.
 *
 * <p>A backward consumes it in its first steps ({@link #throughSoftmax}, {@link #throughConv1x1});
 * {@link #toHost()} gives the dense seed, for the seed made by {@link #of} exactly the one the
 * kernel twin writes.
 */
public final class SparseSeed implements CamTensor {
  /** How a backward runs a loop over rows (a thread pool, or a plain loop). */
  @FunctionalInterface
  public interface Loop {
    void parallelFor(int n, IntConsumer body);

    /** The caller's thread. */
    Loop SERIAL =
        (n, body) -> {
          for (int i = 0; i < n; i++) {
            body.accept(i);
          }
        };
  }

  private final Shape shape;
  private final int images;
  private final int hw;
  private final int channels;
  private final float[] factor; // (R, hw)
  private final int[] channel; // (R) the scored channel
  private final boolean[] minusProbs; // (R) β
  private final float[] probs; // (N, hw, C), null when no row has β
  private final Supplier<float[]> exact; // the dense seed as the twin writes it, or null

  private SparseSeed(
      Shape shape,
      int images,
      float[] factor,
      int[] channel,
      boolean[] minusProbs,
      float[] probs,
      Supplier<float[]> exact) {
    this.shape = shape;
    this.images = images;
    this.channels = shape.dim(shape.rank() - 1);
    this.hw = shape.size() / shape.dim(0) / channels;
    this.factor = factor;
    this.channel = channel;
    this.minusProbs = minusProbs;
    this.probs = probs;
    this.exact = exact;
  }

  /**
   * {@link CamBackend#scoreSeed} in factored form: the scores (the kernel twin's, bit for bit) go
   * to {@code scores}; {@code dense} makes the dense seed when a consumer needs it.
   *
   * @param values (N,oh,ow,C) or (N,C), the seeded node's values
   * @param masks (N*K,oh,ow), target-major rows
   */
  public static SparseSeed of(
      FloatTensor values,
      FloatTensor masks,
      int[] classes,
      SeedMode[] modes,
      float[] scores,
      Supplier<float[]> dense) {
    // values (N,oh,ow,C), masks (N*K,oh,ow) -> a (N*K,oh,ow), P (N,oh,ow,C) if any softmax row
    int[] d = KernelCamBackend.nhwc(values.shape(), "score node");
    int n = d[0];
    int px = d[1] * d[2];
    int ch = d[3];
    int k = SeedChecks.targets(d, masks.shape(), classes, modes, scores);
    int rows = n * k;
    float[] y = values.data();
    float[] m = masks.data();
    float[] a = new float[rows * px];
    int[] chan = new int[rows];
    boolean[] beta = new boolean[rows];
    float[] p = null;
    for (int t = 0; t < k; t++) {
      SeedMode mode = SeedChecks.targetMode(classes, modes, t, n, ch);
      float[] sc = new float[n];
      CpuKernels.masked_score_seed(
          sc,
          null,
          y,
          Arrays.copyOfRange(m, t * n * px, (t + 1) * n * px),
          Arrays.copyOfRange(classes, t * n, (t + 1) * n),
          n,
          d[1],
          d[2],
          ch,
          mode.kernel());
      System.arraycopy(sc, 0, scores, t * n, n);
      if (mode == SeedMode.SOFTMAX && p == null) {
        p = new float[n * px * ch];
        ActivationKernels.softmax_fwd(p, y, n * px, ch);
      }
      for (int i = 0; i < n; i++) {
        int r = t * n + i;
        int c = ch == 1 ? 0 : classes[r];
        double sign = ch == 1 && classes[r] == 0 ? -1.0 : 1.0;
        chan[r] = c;
        beta[r] = mode == SeedMode.SOFTMAX;
        for (int q = 0; q < px; q++) {
          double w = m[r * px + q];
          if (w == 0.0) {
            continue; // outside M: no gradient (as the twin, whatever the values are there)
          }
          int base = (i * px + q) * ch;
          a[r * px + q] =
              switch (mode) {
                case LINEAR -> (float) (sign * w);
                case SIGMOID -> {
                  double s = CpuKernels.sigmoid(y[base + c]);
                  yield (float) (sign * w * s * (1.0 - s));
                }
                case SOFTMAX -> (float) (sign * w * p[base + c]);
              };
        }
      }
    }
    Shape s = values.shape().withDim(0, rows);
    return new SparseSeed(s, n, a, chan, beta, p, dense);
  }

  @Override
  public Shape shape() {
    return shape;
  }

  /** The dense seed (a new array each call). */
  @Override
  public FloatTensor toHost() {
    if (exact != null) {
      return new FloatTensor(shape, exact.get());
    }
    float[] out = new float[shape.size()];
    int rows = shape.dim(0);
    for (int r = 0; r < rows; r++) {
      // W = I: the scored channel's column is e_c, W·P is P
      float[] ec = new float[channels];
      ec[channel[r]] = 1f;
      writeRow(out, r, channels, ec, probs);
    }
    return new FloatTensor(shape, out);
  }

  /** Whether every row is one-hot over the channels (β = 0: LINEAR and SIGMOID scores). */
  public boolean oneHot() {
    for (boolean b : minusProbs) {
      if (b) {
        return false;
      }
    }
    return true;
  }

  /**
   * The seed of a Softmax's input, for this one-hot seed of its output {@code probs} (N,oh,ow,C):
   * dx = p ⊙ (dy − Σ dy·p) = a·p_c·(e_c − p).
   *
   * @throws IllegalStateException if a row is not one-hot
   */
  public SparseSeed throughSoftmax(FloatTensor probsValue) {
    if (!oneHot()) {
      throw new IllegalStateException("throughSoftmax needs a one-hot seed");
    }
    float[] pv = probsValue.data();
    int rows = shape.dim(0);
    float[] a = new float[factor.length];
    boolean[] beta = new boolean[rows];
    for (int r = 0; r < rows; r++) {
      int n = r % images;
      beta[r] = true;
      for (int q = 0; q < hw; q++) {
        float f = factor[r * hw + q];
        if (f != 0f) {
          a[r * hw + q] = f * pv[(n * hw + q) * channels + channel[r]];
        }
      }
    }
    return new SparseSeed(shape, images, a, channel.clone(), beta, pv, null);
  }

  /**
   * The gradient at the input of a 1x1, stride-1 convolution whose output this seeds: filter
   * (1,1,Cin,C) -> (R,oh,ow,Cin), dx[r,p,:] = a[r,p]·(W[:,c_r] − β_r·W·P[n,p,:]). W·P is formed
   * once per image and shared by its targets; nothing of size (R,oh,ow,C) is made.
   */
  public FloatTensor throughConv1x1(FloatTensor filter, Loop loop) {
    // seed (R,oh,ow,C), filter (1,1,Cin,C) -> dx (R,oh,ow,Cin)
    Shape fs = filter.shape();
    if (fs.rank() != 4 || fs.dim(0) != 1 || fs.dim(1) != 1 || fs.dim(3) != channels) {
      throw new CamStepException(
          "throughConv1x1: filter " + fs + " is not (1,1,Cin," + channels + ")");
    }
    int cin = fs.dim(2);
    float[] w = filter.data();
    int rows = shape.dim(0);
    float[] wp = null; // (N, hw, Cin) = P · Wᵀ
    if (!oneHot()) {
      float[] q = new float[images * hw * cin];
      loop.parallelFor(
          images * hw,
          px -> {
            int pb = px * channels;
            for (int j = 0; j < cin; j++) {
              float acc = 0f;
              int wb = j * channels;
              for (int k = 0; k < channels; k++) {
                acc += probs[pb + k] * w[wb + k];
              }
              q[px * cin + j] = acc;
            }
          });
      wp = q;
    }
    float[] wq = wp;
    // from the CPU engine's arena when a pass is entered (the seed is the backward's to recycle)
    float[] out = dev.segcam.backend.cpu.Arena.zeros(rows * hw * cin);
    loop.parallelFor(
        rows,
        r -> {
          int c = channel[r];
          float[] wc = new float[cin];
          for (int j = 0; j < cin; j++) {
            wc[j] = w[j * channels + c];
          }
          writeRow(out, r, cin, wc, wq);
        });
    int[] dims = shape.dims();
    dims[dims.length - 1] = cin;
    return new FloatTensor(Shape.of(dims), out);
  }

  /**
   * Row r of this seed through a linear map W of the channels (C -> width): out[r,p,:] = a[r,p]·(wc
   * − β_r·wq[n,p,:]), where wc = W·e_c is the scored channel's column and wq = W·P (N,hw,width) is
   * read only for β rows.
   */
  private void writeRow(float[] out, int r, int width, float[] wc, float[] wq) {
    int n = r % images;
    for (int q = 0; q < hw; q++) {
      float a = factor[r * hw + q];
      if (a == 0f) {
        continue;
      }
      int o = (r * hw + q) * width;
      if (minusProbs[r]) {
        int pb = (n * hw + q) * width;
        for (int j = 0; j < width; j++) {
          out[o + j] = a * (wc[j] - wq[pb + j]);
        }
      } else {
        for (int j = 0; j < width; j++) {
          out[o + j] = a * wc[j];
        }
      }
    }
  }

  @Override
  public void close() {}
}
