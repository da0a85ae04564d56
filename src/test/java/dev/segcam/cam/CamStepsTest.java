package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.segcam.backend.CamBackend;
import dev.segcam.backend.CamTensor;
import dev.segcam.backend.HostCamBackend;
import dev.segcam.backend.Normalization;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.CpuKernels;
import dev.segcam.testing.Tolerance;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A backend's CAM steps against the methods' formulas written out directly, in double. Runs on the
 * host steps; to check another backend (CUDA), subclass and override {@link #backend()} (and {@link
 * #stepTolerance()} if its math is looser).
 */
public class CamStepsTest {
  /** float accumulation order vs a double reference. */
  private final Tolerance stepTol = stepTolerance();

  protected Tolerance stepTolerance() {
    return new Tolerance(1e-5, 1e-6);
  }

  /** The backend under test; only its small steps are used. */
  protected CamBackend backend() {
    return new PixelwiseNetBackend(2, 2, false, 1);
  }

  private CamTensor up(FloatTensor t) {
    return b.upload(t);
  }

  private static final int N = 2;
  private static final int K = 3;
  private static final int H = 4;
  private static final int W = 5;
  private static final int C = 6;

  private final Random rnd = new Random(7);
  private final CamBackend b = backend();

  private FloatTensor rand(boolean nonNegative, int... dims) {
    Shape s = Shape.of(dims);
    float[] v = new float[s.size()];
    for (int i = 0; i < v.length; i++) {
      float x = (float) rnd.nextGaussian();
      v[i] = nonNegative ? Math.abs(x) : x;
    }
    return new FloatTensor(s, v);
  }

  private static double at(FloatTensor t, int n, int y, int x, int c) {
    return t.data()[((n * H + y) * W + x) * C + c];
  }

  private final FloatTensor acts = rand(true, N, H, W, C); // post-ReLU activations
  private final FloatTensor grads = rand(false, N * K, H, W, C);

  private float[] run(CamMethod m) {
    CamTensor a = up(acts);
    CamTensor g = up(grads);
    return m.map(b, a, g, m.weights(b, a, g)).toHost().data();
  }

  private float[] weights(CamMethod m) {
    return m.weights(b, up(acts), up(grads)).toHost().data();
  }

  // direct (N*K,C) weights from a per-(r,c) formula
  private interface ChannelFormula {
    double weight(int r, int img, int c);
  }

  private float[] perChannel(ChannelFormula f) {
    float[] w = new float[N * K * C];
    for (int r = 0; r < N * K; r++) {
      for (int c = 0; c < C; c++) {
        w[r * C + c] = (float) f.weight(r, r % N, c);
      }
    }
    return w;
  }

  private float[] weightedMap(float[] w) {
    float[] m = new float[N * K * H * W];
    for (int r = 0; r < N * K; r++) {
      for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
          double s = 0;
          for (int c = 0; c < C; c++) {
            s += w[r * C + c] * at(acts, r % N, y, x, c);
          }
          m[(r * H + y) * W + x] = (float) Math.max(0, s);
        }
      }
    }
    return m;
  }

  private double sumA(int img, int c) {
    double s = 0;
    for (int y = 0; y < H; y++) {
      for (int x = 0; x < W; x++) {
        s += at(acts, img, y, x, c);
      }
    }
    return s;
  }

  @Test
  void gradCamIsTheChannelMeanOfGradients() {
    float[] w =
        perChannel(
            (r, img, c) -> {
              double s = 0;
              for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) {
                  s += at(grads, r, y, x, c);
                }
              }
              return s / (H * W);
            });
    stepTol.assertClose("Grad-CAM weights", w, weights(CamMethod.GRAD_CAM));
    stepTol.assertClose("Grad-CAM map", weightedMap(w), run(CamMethod.GRAD_CAM));
  }

  @Test
  void gradCamPlusPlusClosedForm() {
    float[] w =
        perChannel(
            (r, img, c) -> {
              double sa = sumA(img, c);
              double s = 0;
              for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) {
                  double g = at(grads, r, y, x, c);
                  double alpha =
                      g == 0 ? 0 : g * g / (2 * g * g + sa * g * g * g + CpuKernels.GRADCAMPP_EPS);
                  s += Math.max(g, 0) * alpha;
                }
              }
              return s;
            });
    stepTol.assertClose("Grad-CAM++ weights", w, weights(CamMethod.GRAD_CAM_PLUS_PLUS));
    stepTol.assertClose("Grad-CAM++ map", weightedMap(w), run(CamMethod.GRAD_CAM_PLUS_PLUS));
  }

  @Test
  void xGradCamWeights() {
    float[] w =
        perChannel(
            (r, img, c) -> {
              double s = 0;
              for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) {
                  s += at(grads, r, y, x, c) * at(acts, img, y, x, c);
                }
              }
              return s / (sumA(img, c) + HostCamBackend.XGRADCAM_EPS);
            });
    stepTol.assertClose("XGrad-CAM weights", w, weights(CamMethod.XGRAD_CAM));
    stepTol.assertClose("XGrad-CAM map", weightedMap(w), run(CamMethod.XGRAD_CAM));
  }

  private float[] elementwise(boolean reluGrads) {
    float[] m = new float[N * K * H * W];
    for (int r = 0; r < N * K; r++) {
      for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
          double s = 0;
          for (int c = 0; c < C; c++) {
            double g = at(grads, r, y, x, c);
            s += (reluGrads ? Math.max(g, 0) : g) * at(acts, r % N, y, x, c);
          }
          m[(r * H + y) * W + x] = (float) Math.max(0, s);
        }
      }
    }
    return m;
  }

  @Test
  void hiResCamAndLayerCamAreElementWise() {
    assertEquals(null, CamMethod.HIRES_CAM.weights(b, null, null));
    stepTol.assertClose("HiResCAM map", elementwise(false), run(CamMethod.HIRES_CAM));
    stepTol.assertClose("LayerCAM map", elementwise(true), run(CamMethod.LAYER_CAM));
  }

  @Test
  void classificationFeaturesAreTheOneByOneCase() {
    // (N,C) acts/grads behave as (N,1,1,C)
    FloatTensor a2 = rand(true, N, C);
    FloatTensor g2 = rand(false, N * K, C);
    FloatTensor a4 = a2.reshape(Shape.of(N, 1, 1, C));
    FloatTensor g4 = g2.reshape(Shape.of(N * K, 1, 1, C));
    for (CamMethod m : CamMethod.values()) {
      CamTensor w2 = m.weights(b, up(a2), up(g2));
      CamTensor w4 = m.weights(b, up(a4), up(g4));
      stepTol.assertClose(
          m + " 1x1",
          m.map(b, up(a4), up(g4), w4).toHost().data(),
          m.map(b, up(a2), up(g2), w2).toHost().data());
    }
  }

  @Test
  void bilinearResizeUsesHalfPixelCentres() {
    // 2x2 -> 4x4: output centres map to input coordinates -0.25, 0.25, 0.75, 1.25 (clamped)
    FloatTensor m = new FloatTensor(Shape.of(1, 2, 2), new float[] {0, 4, 8, 12});
    float[] got = b.resizeBilinear(up(m), 4, 4).toHost().data();
    float[] want = {
      0, 1, 3, 4, //
      2, 3, 5, 6, //
      6, 7, 9, 10, //
      8, 9, 11, 12
    };
    stepTol.assertClose("resize", want, got);
    // same size is the identity, random maps
    FloatTensor r = rand(false, 3, H, W);
    stepTol.assertClose("identity resize", r.data(), b.resizeBilinear(up(r), H, W).toHost().data());
  }

  @Test
  void normalisationPerMapAndFixed() {
    FloatTensor m = new FloatTensor(Shape.of(2, 1, 3), new float[] {1, 2, 3, 5, 5, 5});
    stepTol.assertClose(
        "per map",
        new float[] {0, 0.5f, 1, 0, 0, 0},
        b.normalize(up(m), Normalization.perMap()).toHost().data());
    stepTol.assertClose(
        "fixed",
        new float[] {0.25f, 0.5f, 0.75f, 1, 1, 1},
        b.normalize(up(m), Normalization.fixed(4)).toHost().data());
  }
}
