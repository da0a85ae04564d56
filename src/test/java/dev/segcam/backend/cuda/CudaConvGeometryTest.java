package dev.segcam.backend.cuda;

import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.ConvGeometry;
import dev.segcam.kernels.ConvKernels;
import dev.segcam.kernels.LayoutKernels;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.Tolerance;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * No GPU needed: the convolution geometry and filter layout CudaCamBackend derives from a Conv2D,
 * DepthwiseConv2D or Conv2DTranspose node ({@code convGeom}, {@code krsc}) — TensorFlow's
 * SAME/VALID split into before/after padding, the transposed conv as the data gradient of the conv
 * from its output grid, depthwise as groups — run through the direct-convolution twins give the CPU
 * engine's forward values and {@link CpuBackward}'s data gradients (K = 2 targets). cuDNN gets the
 * same geometry ({@code ConvGeometry.padded()}), so this pins down everything but cuDNN itself.
 */
class CudaConvGeometryTest {
  static final Tolerance SUMS = new Tolerance(1e-5, 1e-5);
  static final int N = 2;
  static final int K = 2;

  private final Random rng = new Random(RandomTensors.freshSeed("CudaConvGeometryTest"));

  private void check(String what, Op op, Shape xs) {
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(xs.withDim(0, -1)));
    b.add("y", op, "x");
    Graph g = b.output("y", "y").build();
    FloatTensor x = RandomTensors.normal(rng, xs);
    Map<String, FloatTensor> values;
    try (CpuEngine e = new CpuEngine(g, 1)) {
      values = e.forward(Map.of("x", x), null);
    }
    Shape ys = values.get("y").shape();
    FloatTensor seed = RandomTensors.normal(rng, ys.withDim(0, N * K));
    FloatTensor dxRef = CpuBackward.backward(g, values, Map.of("y", seed), List.of("x")).get("x");

    ConvGeometry geo = CudaConvolution.convGeom(g.node("y"), xs, ys);
    float[] w = CudaWeights.krsc(op);
    boolean transposed = op instanceof Op.Conv2DTranspose;
    float[] y = new float[ys.size()];
    float[] dx = new float[xs.size() * K];
    // the direct kernel's route: padding inside the kernel, top/left given
    direct(!transposed, y, x.data(), w, geo);
    direct(transposed, dx, seed.data(), w, geo.withBatch(N * K));
    SUMS.assertClose(what + " forward " + geo, values.get("y").data(), y);
    SUMS.assertClose(what + " dx " + geo, dxRef.data(), dx);

    // the cuDNN route: symmetric padding inside the convolution, or explicit padding (pad_fwd)
    // then an unpadded convolution, and for the data gradient a crop (pad_bwd) of the padded one
    float[] y2 = new float[ys.size()];
    float[] dx2 = new float[xs.size() * K];
    if (transposed) {
      cudnnBackwardData(geo, y2, x.data(), w);
      cudnnForward(geo.withBatch(N * K), dx2, seed.data(), w);
    } else {
      cudnnForward(geo, y2, x.data(), w);
      cudnnBackwardData(geo.withBatch(N * K), dx2, seed.data(), w);
    }
    SUMS.assertClose(what + " forward, cuDNN route " + geo, values.get("y").data(), y2);
    SUMS.assertClose(what + " dx, cuDNN route " + geo, dxRef.data(), dx2);
  }

  /** The direct twin forward (out on the output grid) or backward-data (out on the input grid). */
  private static void direct(boolean forward, float[] out, float[] in, float[] w, ConvGeometry g) {
    if (forward) {
      ConvKernels.conv2d_direct_fwd(out, in, w, g);
    } else {
      ConvKernels.conv2d_direct_bwd_data(out, in, w, g);
    }
  }

  private static int[][] padDims(ConvGeometry g) {
    return new int[][] {
      {g.n(), g.h(), g.w(), g.c()}, {g.n(), g.hp(), g.wp(), g.c()}, {0, g.padT(), g.padL(), 0}
    };
  }

  /** CudaConvolution.cudnnForward with the direct twin in place of cuDNN. */
  private static void cudnnForward(ConvGeometry g, float[] y, float[] x, float[] w) {
    float[] in = x;
    if (!g.symmetric()) {
      int[][] d = padDims(g);
      in = new float[g.n() * g.hp() * g.wp() * g.c()];
      LayoutKernels.pad_fwd(in, x, 0f, d[1], d[0], d[2]);
    }
    direct(true, y, in, w, g.padded());
  }

  /** CudaConvolution.cudnnBackwardData with the direct twin in place of cuDNN. */
  private static void cudnnBackwardData(ConvGeometry g, float[] dx, float[] dy, float[] w) {
    float[] out = g.symmetric() ? dx : new float[g.n() * g.hp() * g.wp() * g.c()];
    direct(false, out, dy, w, g.padded());
    if (!g.symmetric()) {
      int[][] d = padDims(g);
      LayoutKernels.pad_bwd(dx, out, d[0], d[1], d[2]);
    }
  }

  private FloatTensor filter(int... dims) {
    return RandomTensors.normal(rng, Shape.of(dims));
  }

  @Test
  void conv2d() {
    Shape xs = Shape.of(N, 9, 11, 4);
    check("3x3 s1 SAME", new Op.Conv2D(filter(3, 3, 4, 6), null, 1, 1, 1, 1, Padding.SAME), xs);
    check("3x3 s2 SAME", new Op.Conv2D(filter(3, 3, 4, 6), null, 2, 2, 1, 1, Padding.SAME), xs);
    check("3x5 s2 d(1,2)", new Op.Conv2D(filter(3, 5, 4, 5), null, 2, 2, 1, 2, Padding.SAME), xs);
    check("3x3 d2 SAME", new Op.Conv2D(filter(3, 3, 4, 3), null, 1, 1, 2, 2, Padding.SAME), xs);
    check("3x3 s2 VALID", new Op.Conv2D(filter(3, 3, 4, 6), null, 2, 2, 1, 1, Padding.VALID), xs);
    check("1x1", new Op.Conv2D(filter(1, 1, 4, 7), null, 1, 1, 1, 1, Padding.VALID), xs);
  }

  @Test
  void depthwise() {
    Shape xs = Shape.of(N, 9, 10, 3);
    check(
        "dw M=2 SAME",
        new Op.DepthwiseConv2D(filter(3, 3, 3, 2), null, 1, 1, 1, 1, Padding.SAME),
        xs);
    check(
        "dw s2 SAME",
        new Op.DepthwiseConv2D(filter(3, 3, 3, 1), null, 2, 2, 1, 1, Padding.SAME),
        xs);
    check(
        "dw s2 VALID M=2",
        new Op.DepthwiseConv2D(filter(3, 3, 3, 2), null, 2, 2, 1, 1, Padding.VALID),
        xs);
  }

  @Test
  void transposed() {
    Shape xs = Shape.of(N, 8, 7, 6);
    // filter (KH,KW,F,C): C = 6 input channels, F output channels
    check(
        "2x2 s2 VALID",
        new Op.Conv2DTranspose(filter(2, 2, 4, 6), null, 2, 2, Padding.VALID, -1, -1),
        xs);
    check(
        "3x3 s2 SAME (pads 0 before, 1 after)",
        new Op.Conv2DTranspose(filter(3, 3, 4, 6), null, 2, 2, Padding.SAME, -1, -1),
        xs);
    check(
        "4x4 s2 SAME",
        new Op.Conv2DTranspose(filter(4, 4, 5, 6), null, 2, 2, Padding.SAME, -1, -1),
        xs);
    check(
        "3x3 s2 SAME explicit 15x13",
        new Op.Conv2DTranspose(filter(3, 3, 4, 6), null, 2, 2, Padding.SAME, 15, 13),
        xs);
    check(
        "3x3 s2 VALID explicit 18x16",
        new Op.Conv2DTranspose(filter(3, 3, 3, 6), null, 2, 2, Padding.VALID, 18, 16),
        xs);
    check(
        "3x3 s1 SAME",
        new Op.Conv2DTranspose(filter(3, 3, 3, 6), null, 1, 1, Padding.SAME, -1, -1),
        xs);
  }
}
