package dev.segcam.backend.onednn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.cpu.CpuBackwardConv;
import dev.segcam.backend.cpu.CpuConv;
import dev.segcam.backend.cpu.CpuOps;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.backend.cpu.grad.ConvGrad;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.kernels.ConvGeometry;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.RequiresOneDnn;
import dev.segcam.testing.Tolerance;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * oneDNN convolutions against the Java engine's ops (CpuOps, CpuBackwardConv, ConvGrad) on fresh
 * random inputs, every element, with tolerances from the reduction length.
 */
@RequiresOneDnn
class OneDnnConvTest {
  static Parallel par;
  static OneDnnContext ctx;
  static Random rng;

  // {N,H,W,C, KH,KW,F, sh,sw, dh,dw, same?}: plain, strided, dilated, uneven SAME, VALID with a
  // stride that drops rows, 1x1, kernel larger than the input
  static final int[][] CASES = {
    {2, 9, 11, 3, 3, 3, 5, 1, 1, 1, 1, 1},
    {1, 9, 11, 3, 3, 3, 5, 2, 2, 1, 1, 1},
    {2, 10, 7, 4, 3, 3, 6, 2, 1, 1, 1, 1},
    {1, 13, 12, 5, 3, 3, 7, 1, 1, 2, 2, 1},
    {1, 13, 12, 5, 5, 3, 3, 2, 2, 1, 1, 0},
    {1, 12, 12, 2, 4, 4, 3, 2, 2, 1, 1, 1},
    {1, 7, 8, 3, 2, 3, 4, 3, 2, 1, 2, 0},
    {2, 9, 13, 6, 1, 1, 5, 1, 1, 1, 1, 1},
    {1, 6, 6, 1, 7, 7, 2, 1, 1, 1, 1, 1},
    {1, 16, 16, 32, 3, 3, 32, 1, 1, 1, 1, 1},
    {2, 11, 9, 17, 3, 3, 19, 2, 2, 1, 1, 0},
  };

  @BeforeAll
  static void start() {
    par = new Parallel(2);
    ctx = OneDnnContext.open();
    rng = new Random(RandomTensors.freshSeed("OneDnnConvTest"));
  }

  @AfterAll
  static void stop() {
    if (ctx != null) {
      ctx.close();
    }
    par.close();
  }

  static FloatTensor rand(int... dims) {
    return RandomTensors.uniform(rng, Shape.of(dims), -1f, 1f);
  }

  static Padding pad(int same) {
    return same == 1 ? Padding.SAME : Padding.VALID;
  }

  static String name(int[] k) {
    return java.util.Arrays.toString(k);
  }

  @Test
  void conv2dForwardAndDataGradient() {
    for (int[] k : CASES) {
      FloatTensor x = rand(k[0], k[1], k[2], k[3]);
      Op.Conv2D op =
          new Op.Conv2D(
              rand(k[4], k[5], k[3], k[6]), rand(k[6]), k[7], k[8], k[9], k[10], pad(k[11]));
      FloatTensor ref = CpuConv.conv2d(par, x, op);
      OneDnnConv fwd = OneDnnConv.conv2d(ctx, op, x.shape());
      float[] got = fwd.run(x.data());
      Accumulation.overTerms(k[4] * k[5] * k[3] + 1)
          .assertClose("conv2d " + name(k), ref.data(), got);
      assertSame(fwd, OneDnnConv.conv2d(ctx, op, x.shape()), "primitive reused per (op, shape)");

      Shape ys = ref.shape();
      FloatTensor dy = rand(ys.dim(0), ys.dim(1), ys.dim(2), ys.dim(3));
      ConvGeometry g = fwd.geometry();
      float[] dxRef = CpuBackwardConv.conv2dData(par, dy.data(), op.filter().data(), g);
      float[] dx = OneDnnConv.conv2dData(ctx, op, x.shape()).run(dy.data());
      Accumulation.overTerms(k[4] * k[5] * k[6]).assertClose("conv2d data " + name(k), dxRef, dx);
    }
  }

  @Test
  void conv2dWithFusedActivation() {
    for (Op.ActivationKind kind : Op.ActivationKind.values()) {
      int[] k = CASES[(kind.ordinal() * 3) % CASES.length];
      FloatTensor x = rand(k[0], k[1], k[2], k[3]);
      Op.Conv2D op =
          new Op.Conv2D(
              rand(k[4], k[5], k[3], k[6]), rand(k[6]), k[7], k[8], k[9], k[10], pad(k[11]));
      // Relu6's clip is only exercised when pre-activations exceed 6: scale the filter up
      if (kind == Op.ActivationKind.RELU6) {
        float[] f = op.filter().data();
        for (int i = 0; i < f.length; i++) {
          f[i] *= 8;
        }
      }
      Op.Activation act = new Op.Activation(kind, kind == Op.ActivationKind.LEAKY_RELU ? 0.2f : 0f);
      FloatTensor ref = CpuOps.activation(par, CpuConv.conv2d(par, x, op), act.kind(), act.alpha());
      float[] got = OneDnnConv.conv2d(ctx, op, x.shape(), act).run(x.data());
      // the activations' slopes are at most 1, so the conv's rounding does not grow
      float scale = kind == Op.ActivationKind.RELU6 ? 8 : 1;
      new Tolerance(
              Accumulation.RTOL + 1e-6,
              scale * Accumulation.overTerms(k[4] * k[5] * k[3] + 1).atol())
          .assertClose("conv2d + " + kind + " " + name(k), ref.data(), got);
    }
  }

  @Test
  void depthwiseForwardAndDataGradient() {
    for (int[] k : CASES) {
      int m = 1 + (k[6] % 3); // channel multiplier 1..3
      FloatTensor x = rand(k[0], k[1], k[2], k[3]);
      Op.DepthwiseConv2D op =
          new Op.DepthwiseConv2D(
              rand(k[4], k[5], k[3], m), rand(k[3] * m), k[7], k[8], k[9], k[10], pad(k[11]));
      FloatTensor ref = CpuConv.depthwiseConv2d(par, x, op);
      OneDnnConv fwd = OneDnnConv.depthwise(ctx, op, x.shape());
      Accumulation.overTerms(k[4] * k[5] + 1)
          .assertClose("depthwise " + name(k), ref.data(), fwd.run(x.data()));

      Shape ys = ref.shape();
      FloatTensor dy = rand(ys.dim(0), ys.dim(1), ys.dim(2), ys.dim(3));
      ConvGeometry g = fwd.geometry();
      float[] dxRef = ConvGrad.depthwiseData(dy.data(), op.filter().data(), g, par);
      float[] dx = OneDnnConv.depthwiseData(ctx, op, x.shape()).run(dy.data());
      Accumulation.overTerms(k[4] * k[5] * m).assertClose("depthwise data " + name(k), dxRef, dx);
    }
  }

  @Test
  void groupedConvolutionAgainstPerGroupConvs() {
    // {N,H,W,C,KH,KW,F,G,stride,same}: each group is a Conv2D of its channel slice
    int[][] cases = {{1, 9, 10, 8, 3, 3, 12, 4, 1, 1}, {2, 11, 7, 6, 3, 3, 6, 2, 2, 0}};
    for (int[] k : cases) {
      int n = k[0], h = k[1], w = k[2], c = k[3], kh = k[4], kw = k[5], f = k[6], gr = k[7];
      int cg = c / gr;
      int fg = f / gr;
      FloatTensor x = rand(n, h, w, c);
      FloatTensor filter = rand(kh, kw, cg, f);
      ConvGeometry.Window win = new ConvGeometry.Window(kh, kw, k[8], k[8], 1, 1);
      ConvGeometry g = ConvGeometry.forward(n, h, w, c, f, gr, win, pad(k[9]));
      float[] got;
      try (OneDnnConv conv =
          new OneDnnConv(
              ctx,
              OneDnnConv.Kind.FORWARD,
              g,
              OneDnnConv.FilterLayout.HWIO,
              filter.data(),
              null,
              null)) {
        got = conv.run(x.data());
      }
      float[] ref = new float[got.length];
      for (int grp = 0; grp < gr; grp++) {
        FloatTensor xs = slice(x, grp * cg, cg);
        FloatTensor fs = slice(filter, grp * fg, fg);
        FloatTensor y =
            CpuConv.conv2d(par, xs, new Op.Conv2D(fs, null, k[8], k[8], 1, 1, pad(k[9])));
        int pixels = y.size() / fg;
        for (int p = 0; p < pixels; p++) {
          System.arraycopy(y.data(), p * fg, ref, p * f + grp * fg, fg);
        }
      }
      Accumulation.overTerms(kh * kw * cg).assertClose("grouped " + name(k), ref, got);
    }
  }

  // channels [from, from+count) of the last axis
  static FloatTensor slice(FloatTensor t, int from, int count) {
    Shape s = t.shape();
    int last = s.dim(s.rank() - 1);
    int rows = t.size() / last;
    float[] out = new float[rows * count];
    for (int r = 0; r < rows; r++) {
      System.arraycopy(t.data(), r * last + from, out, r * count, count);
    }
    int[] dims = s.dims();
    dims[dims.length - 1] = count;
    return new FloatTensor(Shape.of(dims), out);
  }

  @Test
  void transposedForwardAndDataGradient() {
    // {N,H,W,C, K, F, stride, same?, outH (-1 = derived)}
    int[][] cases = {
      {1, 5, 6, 4, 3, 3, 2, 1, -1},
      {2, 4, 4, 6, 2, 5, 2, 1, -1},
      {1, 5, 5, 3, 3, 4, 2, 0, -1},
      {1, 6, 7, 8, 4, 3, 2, 1, -1},
      {1, 5, 5, 3, 3, 2, 1, 1, -1},
      {1, 4, 4, 3, 3, 2, 2, 1, 7},
      {1, 8, 8, 16, 3, 8, 2, 1, -1},
      {1, 4, 4, 2, 1, 3, 2, 1, -1}, // 1x1 stride 2 SAME: the last output row gets nothing
      {1, 4, 5, 2, 3, 3, 2, 0, -1},
    };
    for (int[] k : cases) {
      FloatTensor x = rand(k[0], k[1], k[2], k[3]);
      Op.Conv2DTranspose op =
          new Op.Conv2DTranspose(
              rand(k[4], k[4], k[5], k[3]), rand(k[5]), k[6], k[6], pad(k[7]), k[8], k[8]);
      Shape out = CpuConv.conv2dTransposeShape(x.shape(), op);
      FloatTensor ref = CpuConv.conv2dTranspose(par, x, op, out);
      float[] got = OneDnnConv.transpose(ctx, op, x.shape()).run(x.data());
      int terms = k[4] * k[4] * k[3] + 1;
      Accumulation.overTerms(terms).assertClose("transposed " + name(k), ref.data(), got);

      FloatTensor dy = rand(out.dims());
      FloatTensor dxRef =
          CpuConv.conv2d(par, dy, new Op.Conv2D(op.filter(), null, k[6], k[6], 1, 1, op.padding()));
      float[] dx = OneDnnConv.transposeData(ctx, op, x.shape()).run(dy.data());
      assertEquals(x.size(), dx.length);
      Accumulation.overTerms(k[4] * k[4] * k[5])
          .assertClose("transposed data " + name(k), dxRef.data(), dx);
    }
  }

  @Test
  void geometryOneDnnCannotExpressIsRefusedAtPlanTime() {
    // an output size no padding explains (TensorFlow would reject it too)
    ConvGeometry g =
        ConvGeometry.withOutput(
            1, 12, 12, 2, 2, 1, new ConvGeometry.Window(3, 3, 2, 2, 1, 1), Padding.VALID, 4, 4);
    OneDnnUnsupportedException e =
        assertThrows(
            OneDnnUnsupportedException.class,
            () ->
                new OneDnnConv(
                    ctx,
                    OneDnnConv.Kind.TRANSPOSED,
                    g,
                    OneDnnConv.FilterLayout.HWIO,
                    new float[3 * 3 * 2 * 2],
                    null,
                    null));
    assertTrue(e.getMessage().contains("padding"), e.getMessage());
  }
}
