package dev.segcam.backend.cuda;

import dev.segcam.kernels.ConvGeometry;
import dev.segcam.testing.RequiresGpu;
import dev.segcam.testing.Tolerance;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * cuDNN forward and backward-data against a direct convolution in double, on fresh random data:
 * plain, strided, dilated and depthwise (groups = C, multiplier 2), strict FP32 math.
 */
@RequiresGpu
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CudnnConvTest {
  /**
   * cuDNN may choose Winograd or FFT algorithms, whose transforms round differently from a direct
   * sum; 1e-4 relative still catches any indexing or layout error (those are O(1) wrong).
   */
  private static final Tolerance CUDNN_FP32 = new Tolerance(1e-4, 1e-5);

  private final long seed = System.nanoTime();
  private final Random rnd = new Random(seed);
  private CudaContext ctx;
  private CudnnConv conv;

  @BeforeAll
  void open() {
    ctx = CudaContext.open(0);
    conv = new CudnnConv(ctx, CudnnConv.Precision.FP32);
    System.out.println("[cudnn] " + ctx.describe() + ", random seed " + seed);
  }

  @AfterAll
  void close() {
    if (conv != null) {
      conv.close();
    }
    if (ctx != null) {
      ctx.close();
    }
  }

  private float[] random(int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = 2 * rnd.nextFloat() - 1;
    }
    return a;
  }

  @Test
  void forwardAndBackwardDataMatchDirectConvolution() {
    ConvGeometry[] shapes = {
      shape(2, 11, 13, 5, 3, 3, 7, 1, 1, 1, 1, 1, 1, 1),
      shape(2, 9, 9, 6, 3, 3, 4, 1, 1, 2, 2, 1, 1, 1),
      shape(1, 12, 10, 3, 3, 3, 8, 2, 2, 1, 1, 2, 2, 1),
      shape(2, 10, 10, 4, 3, 3, 8, 1, 1, 1, 1, 1, 1, 4), // depthwise, M = 2
      shape(1, 8, 8, 16, 1, 1, 32, 0, 0, 1, 1, 1, 1, 1),
    };
    for (ConvGeometry s : shapes) {
      int cin = s.c() / s.groups();
      float[] x = random(s.n() * s.h() * s.w() * s.c());
      float[] hwio = random(s.kh() * s.kw() * cin * s.f());
      float[] dy = random(s.n() * s.oh() * s.ow() * s.f());
      float[] yRef = new float[dy.length];
      float[] dxRef = new float[x.length];
      direct(s, x, hwio, yRef, dy, dxRef);
      float[] krsc = CudnnConv.filterToKrsc(hwio, s.kh(), s.kw(), cin, s.f());
      DeviceArena a = ctx.arena();
      try (DeviceBuffer dX = a.upload(x);
          DeviceBuffer dW = a.upload(krsc);
          DeviceBuffer dY = a.floats(yRef.length);
          DeviceBuffer dDy = a.upload(dy);
          DeviceBuffer dDx = a.floats(x.length)) {
        conv.forward(s, dY, dX, dW);
        CUDNN_FP32.assertClose("forward " + s, yRef, dY.downloadFloats(yRef.length));
        conv.backwardData(s, dDx, dDy, dW);
        CUDNN_FP32.assertClose("backward data " + s, dxRef, dDx.downloadFloats(x.length));
      }
    }
  }

  /** A geometry with symmetric padding ph, pw (ConvGeometry's order of components differs). */
  private static ConvGeometry shape(
      int n,
      int h,
      int w,
      int c,
      int kh,
      int kw,
      int f,
      int ph,
      int pw,
      int sh,
      int sw,
      int dh,
      int dw,
      int groups) {
    int oh = (h + 2 * ph - ((kh - 1) * dh + 1)) / sh + 1;
    int ow = (w + 2 * pw - ((kw - 1) * dw + 1)) / sw + 1;
    return new ConvGeometry(n, h, w, c, kh, kw, f, groups, sh, sw, dh, dw, ph, pw, ph, pw, oh, ow);
  }

  /** y = conv(x, w) and dx = conv^T(dy, w), directly, in double. w is HWIO (I = C/groups). */
  private static void direct(
      ConvGeometry s, float[] x, float[] w, float[] y, float[] dy, float[] dx) {
    int cin = s.c() / s.groups();
    int fpg = s.f() / s.groups();
    double[] acc = new double[dx.length];
    for (int n = 0; n < s.n(); n++) {
      for (int oy = 0; oy < s.oh(); oy++) {
        for (int ox = 0; ox < s.ow(); ox++) {
          for (int f = 0; f < s.f(); f++) {
            int g = f / fpg;
            int o = ((n * s.oh() + oy) * s.ow() + ox) * s.f() + f;
            double sum = 0;
            for (int ky = 0; ky < s.kh(); ky++) {
              int iy = oy * s.sh() - s.padT() + ky * s.dh();
              if (iy < 0 || iy >= s.h()) {
                continue;
              }
              for (int kx = 0; kx < s.kw(); kx++) {
                int ix = ox * s.sw() - s.padL() + kx * s.dw();
                if (ix < 0 || ix >= s.w()) {
                  continue;
                }
                for (int ci = 0; ci < cin; ci++) {
                  int xi = ((n * s.h() + iy) * s.w() + ix) * s.c() + g * cin + ci;
                  double wv = w[((ky * s.kw() + kx) * cin + ci) * s.f() + f];
                  sum += x[xi] * wv;
                  acc[xi] += dy[o] * wv;
                }
              }
            }
            y[o] = (float) sum;
          }
        }
      }
    }
    for (int i = 0; i < dx.length; i++) {
      dx[i] = (float) acc[i];
    }
  }
}
