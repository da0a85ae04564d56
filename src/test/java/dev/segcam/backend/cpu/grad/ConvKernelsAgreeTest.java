package dev.segcam.backend.cpu.grad;

import dev.segcam.backend.cpu.CpuBackwardConv;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.ir.Padding;
import dev.segcam.kernels.ConvGeometry;
import dev.segcam.testing.Tolerance;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The two Conv2D data-gradient kernels (pixel-major with zero skipping, channel-major GEMM) agree
 * on every stride-1 geometry, dilations included, also where the dispatcher would not send it to
 * one of them; both sum the same products in a different order: float32 rounding only. A strided
 * gradient asked of the channel-major entry is the pixel-major kernel's (the strided rows check
 * that hand-off).
 */
class ConvKernelsAgreeTest {
  private static final Tolerance SAME_SUM_OTHER_ORDER = new Tolerance(1e-5, 1e-5);

  @ParameterizedTest
  @CsvSource({
    "9,8,3,4,3,3,1,1,1,1,SAME",
    "9,8,5,3,3,3,2,2,1,1,SAME",
    "8,9,4,6,3,2,2,3,1,1,SAME",
    "9,9,3,2,3,3,1,1,2,2,SAME",
    "9,10,2,3,3,3,1,1,2,1,VALID",
    "16,12,130,5,3,3,1,1,1,1,SAME",
    "20,7,3,17,5,5,1,1,1,1,SAME",
    "6,6,2,2,4,4,2,2,1,1,SAME"
  })
  void pixelMajorAndChannelMajorAgree(
      int h, int w, int c, int f, int kh, int kw, int sh, int sw, int dh, int dw, Padding pad) {
    long seed = System.nanoTime();
    Random rnd = new Random(seed);
    int oh = pad.outputSize(h, kh, sh, dh);
    int ow = pad.outputSize(w, kw, sw, dw);
    int batch = 2;
    float[] dy = GradCheck.uniform(rnd, batch * oh * ow * f, -1, 1);
    for (int i = 0; i < dy.length; i += 3) {
      dy[i] = 0f; // ReLU-like zeros exercise the pixel-major skip
    }
    float[] filter = GradCheck.uniform(rnd, kh * kw * c * f, -1, 1);
    ConvGeometry g =
        ConvGeometry.forward(
            batch, h, w, c, f, 1, new ConvGeometry.Window(kh, kw, sh, sw, dh, dw), pad);
    try (Parallel pool = new Parallel(3);
        Parallel serial = new Parallel(1)) {
      float[] a = ConvGrad.conv2dDataPixelMajor(dy, filter, g, serial);
      float[] b = CpuBackwardConv.conv2dData(pool, dy, filter, g);
      SAME_SUM_OTHER_ORDER.assertClose("kernels (seed " + seed + ")", a, b);
    }
  }
}
