package dev.segcam.kernels;

import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.Tolerance;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The CPU twins of the graph-op kernels ({@code kernels/activation.cu, pool.cu, ...}) against the
 * CPU engine (forward) and {@link CpuBackward} (data gradients, with K = 2 targets tiled over N = 2
 * images), called with the very arguments CudaCamBackend derives from an IR node (TF padding
 * amounts, rank-4 dims, concat offsets, tiled value sizes). The .cu kernels are line-by-line
 * transcriptions of these twins; CudaGraphOpsTest checks kernel against twin on a GPU,
 * HostCompiledKernelsTest (the .cu compiled for the host) without one.
 */
class GraphOpsTwinTest {
  /** Same arithmetic, possibly another summation order (double sums either side). */
  static final Tolerance TWIN = Tolerance.CUDA_FP32;

  static final int N = 2;
  static final int K = 2;

  private final Random rng = new Random(RandomTensors.freshSeed("GraphOpsTwinTest"));

  /** One op on input x (and optional extra inputs): forward values and dx for a random seed. */
  private record Run(
      Map<String, FloatTensor> values, FloatTensor seed, Map<String, FloatTensor> dx) {}

  private Run run(Graph g, Map<String, FloatTensor> inputs, List<String> wrt) {
    Map<String, FloatTensor> values;
    try (CpuEngine e = new CpuEngine(g, 1)) {
      values = e.forward(inputs, null);
    }
    String out = g.primaryOutput();
    Shape os = values.get(out).shape();
    FloatTensor seed = RandomTensors.normal(rng, os.withDim(0, os.dim(0) * K));
    Map<String, FloatTensor> dx = CpuBackward.backward(g, values, Map.of(out, seed), wrt);
    return new Run(values, seed, dx);
  }

  private Graph single(Op op, Shape in) {
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(in.withDim(0, -1)));
    b.add("y", op, "x");
    return b.output("y", "y").build();
  }

  private FloatTensor x(int... dims) {
    return RandomTensors.normal(rng, Shape.of(dims));
  }

  private static float[] vec(Random r, int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) r.nextGaussian();
    }
    return a;
  }

  private static int[] dims4(Shape s) {
    int[] d = {1, 1, 1, 1};
    for (int i = 0; i < s.rank(); i++) {
      d[4 - s.rank() + i] = s.dim(i);
    }
    return d;
  }

  @Test
  void channelAffineAndItsGradient() {
    FloatTensor xt = x(N, 5, 6, 7);
    float[] scale = vec(rng, 7);
    float[] offset = vec(rng, 7);
    Op.BatchNorm bn =
        new Op.BatchNorm(new FloatTensor(Shape.of(7), scale), new FloatTensor(Shape.of(7), offset));
    Run r = run(single(bn, xt.shape()), Map.of("x", xt), List.of("x"));
    float[] y = new float[xt.size()];
    ActivationKernels.channel_affine(y, xt.data(), scale, offset, y.length, 7);
    TWIN.assertClose("batch norm", r.values.get("y").data(), y);
    float[] bias = new float[xt.size()];
    ActivationKernels.channel_affine(bias, xt.data(), null, offset, y.length, 7);
    Run rb =
        run(
            single(new Op.BiasAdd(new FloatTensor(Shape.of(7), offset)), xt.shape()),
            Map.of("x", xt),
            List.of("x"));
    TWIN.assertClose("bias add", rb.values.get("y").data(), bias);
    float[] dx = new float[r.seed.size()];
    ActivationKernels.channel_scale_bwd(dx, r.seed.data(), scale, dx.length, 7);
    TWIN.assertClose("batch norm dx", r.dx.get("x").data(), dx);
  }

  @Test
  void activationsAndTheirGradients() {
    FloatTensor xt = x(N, 4, 5, 3);
    xt.data()[0] = 0f; // TF's gradient rules at the kinks
    xt.data()[1] = 6f;
    for (int i = 2; i < 12; i++) {
      xt.data()[i] *= 8f; // some values beyond Relu6's 6
    }
    for (Op.ActivationKind kind : Op.ActivationKind.values()) {
      Op.Activation op = new Op.Activation(kind, 0.15f);
      Run r = run(single(op, xt.shape()), Map.of("x", xt), List.of("x"));
      float[] y = new float[xt.size()];
      ActivationKernels.activation_fwd(y, xt.data(), y.length, kind.code, 0.15f);
      TWIN.assertClose(kind + " forward", r.values.get("y").data(), y);
      float[] v = kind.gradReads == Op.GradReads.INPUT ? xt.data() : r.values.get("y").data();
      float[] dx = new float[r.seed.size()];
      ActivationKernels.activation_bwd(dx, r.seed.data(), v, dx.length, v.length, kind.code, 0.15f);
      TWIN.assertClose(kind + " dx", r.dx.get("x").data(), dx);
    }
  }

  @Test
  void softmaxAndItsGradient() {
    FloatTensor xt = x(N, 3, 4, 5);
    Run r = run(single(new Op.Softmax(), xt.shape()), Map.of("x", xt), List.of("x"));
    int rows = xt.size() / 5;
    float[] y = new float[xt.size()];
    ActivationKernels.softmax_fwd(y, xt.data(), rows, 5);
    TWIN.assertClose("softmax", r.values.get("y").data(), y);
    float[] dx = new float[r.seed.size()];
    ActivationKernels.softmax_bwd(dx, r.seed.data(), y, rows * K, rows, 5);
    TWIN.assertClose("softmax dx", r.dx.get("x").data(), dx);
  }

  @Test
  void poolingAndItsGradients() {
    FloatTensor xt = x(N, 7, 9, 3);
    int[][] cfg = {{2, 2, 2, 2}, {3, 3, 2, 2}, {3, 2, 1, 2}, {2, 3, 3, 1}};
    for (Op.PoolKind kind : Op.PoolKind.values()) {
      for (Padding pad : Padding.values()) {
        for (int[] c : cfg) {
          Op.Pool op = new Op.Pool(kind, c[0], c[1], c[2], c[3], pad);
          String what = kind + " " + pad + " " + java.util.Arrays.toString(c);
          Run r = run(single(op, xt.shape()), Map.of("x", xt), List.of("x"));
          Shape ys = r.values.get("y").shape();
          int pt = pad.before(7, c[0], c[2], 1);
          int pl = pad.before(9, c[1], c[3], 1);
          float[] y = new float[ys.size()];
          PoolKernels.pool_fwd(
              y,
              xt.data(),
              new ConvGeometry(
                  N, 7, 9, 3, c[0], c[1], 3, 1, c[2], c[3], 1, 1, pt, pl, 0, 0, ys.dim(1),
                  ys.dim(2)),
              kind == Op.PoolKind.MAX);
          TWIN.assertClose(what, r.values.get("y").data(), y);
          float[] dx = new float[N * K * 7 * 9 * 3];
          if (kind == Op.PoolKind.MAX) {
            PoolKernels.maxpool_bwd(
                dx,
                r.seed.data(),
                xt.data(),
                N * K,
                new ConvGeometry(
                    N, 7, 9, 3, c[0], c[1], 3, 1, c[2], c[3], 1, 1, pt, pl, 0, 0, ys.dim(1),
                    ys.dim(2)));
          } else {
            PoolKernels.avgpool_bwd(
                dx,
                r.seed.data(),
                new ConvGeometry(
                    N * K, 7, 9, 3, c[0], c[1], 3, 1, c[2], c[3], 1, 1, pt, pl, 0, 0, ys.dim(1),
                    ys.dim(2)));
          }
          TWIN.assertClose(what + " dx", r.dx.get("x").data(), dx);
        }
      }
    }
  }

  @Test
  void maxPoolGradientGoesToTheFirstOfTiedMaxima() {
    FloatTensor xt = new FloatTensor(Shape.of(1, 2, 2, 1), new float[] {1f, 3f, 3f, 3f});
    Op.Pool op = new Op.Pool(Op.PoolKind.MAX, 2, 2, 2, 2, Padding.VALID);
    Run r = run(single(op, xt.shape()), Map.of("x", xt), List.of("x"));
    float[] dx = new float[K * 4];
    PoolKernels.maxpool_bwd(
        dx,
        r.seed.data(),
        xt.data(),
        K,
        new ConvGeometry(1, 2, 2, 1, 2, 2, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1));
    TWIN.assertClose("tied max dx", r.dx.get("x").data(), dx);
  }

  @Test
  void spatialMeanGradient() {
    FloatTensor xt = x(N, 5, 3, 4);
    Run r = run(single(new Op.SpatialMean(true), xt.shape()), Map.of("x", xt), List.of("x"));
    float[] dx = new float[N * K * 15 * 4];
    PoolKernels.spatial_mean_bwd(dx, r.seed.data(), N * K, 15, 4);
    TWIN.assertClose("spatial mean dx", r.dx.get("x").data(), dx);
  }

  @Test
  void nearestResizeAndItsGradient() {
    FloatTensor xt = x(N, 5, 7, 2);
    int[][] sizes = {{10, 14}, {3, 4}, {11, 5}};
    for (int[] s : sizes) {
      for (boolean[] f : new boolean[][] {{false, false}, {true, false}, {false, true}}) {
        Op.Resize op = new Op.Resize(Op.ResizeMode.NEAREST, s[0], s[1], f[0], f[1]);
        String what = "nearest " + s[0] + "x" + s[1] + " align " + f[0] + " half " + f[1];
        Run r = run(single(op, xt.shape()), Map.of("x", xt), List.of("x"));
        float[] y = new float[N * s[0] * s[1] * 2];
        ResizeKernels.resize_nearest_fwd(
            y, xt.data(), new ResizeDims(N, 5, 7, 2, s[0], s[1], f[0], f[1]));
        TWIN.assertClose(what, r.values.get("y").data(), y);
        float[] dx = new float[N * K * 5 * 7 * 2];
        ResizeKernels.resize_nearest_bwd(
            dx, r.seed.data(), new ResizeDims(N * K, 5, 7, 2, s[0], s[1], f[0], f[1]));
        TWIN.assertClose(what + " dx", r.dx.get("x").data(), dx);
      }
    }
  }

  @Test
  void concatAlongEachAxisAndItsGradient() {
    for (int axis = 1; axis <= 3; axis++) {
      int[] da = {N, 3, 4, 5};
      int[] db = {N, 3, 4, 5};
      db[axis] = 2;
      FloatTensor a = x(da);
      FloatTensor bt = x(db);
      Graph.Builder gb = Graph.builder();
      gb.add("a", new Op.Input(Shape.of(da).withDim(0, -1)));
      gb.add("b", new Op.Input(Shape.of(db).withDim(0, -1)));
      gb.add("y", new Op.Concat(axis), "a", "b");
      Graph g = gb.output("y", "y").build();
      Map<String, FloatTensor> in = new LinkedHashMap<>();
      in.put("a", a);
      in.put("b", bt);
      Run r = run(g, in, List.of("a", "b"));
      Shape ys = r.values.get("y").shape();
      int outer = 1;
      for (int d = 0; d < axis; d++) {
        outer *= ys.dim(d);
      }
      int inner = 1;
      for (int d = axis + 1; d < 4; d++) {
        inner *= ys.dim(d);
      }
      float[] y = new float[ys.size()];
      LayoutKernels.concat_copy(
          y, a.data(), new ConcatDims(outer, da[axis], inner, ys.dim(axis), 0), false);
      LayoutKernels.concat_copy(
          y, bt.data(), new ConcatDims(outer, db[axis], inner, ys.dim(axis), da[axis]), false);
      TWIN.assertClose("concat axis " + axis, r.values.get("y").data(), y);
      float[] ga = new float[a.size() * K];
      float[] gbv = new float[bt.size() * K];
      LayoutKernels.concat_copy(
          r.seed.data(), ga, new ConcatDims(outer * K, da[axis], inner, ys.dim(axis), 0), true);
      LayoutKernels.concat_copy(
          r.seed.data(),
          gbv,
          new ConcatDims(outer * K, db[axis], inner, ys.dim(axis), da[axis]),
          true);
      TWIN.assertClose("concat axis " + axis + " da", r.dx.get("a").data(), ga);
      TWIN.assertClose("concat axis " + axis + " db", r.dx.get("b").data(), gbv);
    }
  }

  @Test
  void broadcastBinaryOpsAndTheirGradients() {
    // (a shape, b shape, b is a constant)
    Object[][] cases = {
      {Shape.of(N, 4, 5, 3), Shape.of(N, 4, 5, 3), false},
      {Shape.of(N, 4, 5, 3), Shape.of(N, 1, 1, 3), false}, // squeeze-and-excitation
      {Shape.of(N, 4, 5, 3), Shape.of(3), true}, // per-channel preprocessing constant
      {Shape.of(N, 6), Shape.of(N, 6), false},
    };
    for (Op.BinaryKind kind : Op.BinaryKind.values()) {
      for (Object[] c : cases) {
        Shape as = (Shape) c[0];
        Shape bs = (Shape) c[1];
        boolean bConst = (Boolean) c[2];
        FloatTensor a = RandomTensors.normal(rng, as);
        FloatTensor bv = RandomTensors.uniform(rng, bs, 0.5f, 2f); // DIV: away from zero
        Graph.Builder gb = Graph.builder();
        gb.add("a", new Op.Input(as.withDim(0, -1)));
        if (bConst) {
          gb.add("b", new Op.Const(bv));
        } else {
          gb.add("b", new Op.Input(bs.withDim(0, -1)));
        }
        gb.add("y", new Op.Binary(kind), "a", "b");
        Graph g = gb.output("y", "y").build();
        Map<String, FloatTensor> in = new LinkedHashMap<>();
        in.put("a", a);
        if (!bConst) {
          in.put("b", bv);
        }
        List<String> wrt = bConst ? List.of("a") : List.of("a", "b");
        Run r = run(g, in, wrt);
        Shape ys = r.values.get("y").shape();
        String what = kind + " " + as + " " + bs;
        float[] y = new float[ys.size()];
        LayoutKernels.binary_fwd(
            y, a.data(), bv.data(), kind.code, dims4(ys), dims4(as), dims4(bs));
        TWIN.assertClose(what, r.values.get("y").data(), y);
        Shape dys = r.seed.shape();
        for (String side : wrt) {
          Shape gs = (side.equals("a") ? as : bs).withDim(0, dys.dim(0));
          float[] gd = new float[gs.size()];
          LayoutKernels.binary_bwd(
              gd,
              r.seed.data(),
              a.data(),
              bv.data(),
              kind.code,
              side.equals("a"),
              dims4(gs),
              dims4(dys),
              dims4(as),
              dims4(bs));
          TWIN.assertClose(what + " d" + side, r.dx.get(side).data(), gd);
        }
      }
    }
  }

  @Test
  void constantPadAndItsGradient() {
    FloatTensor xt = x(N, 4, 5, 3);
    List<int[]> p = List.of(new int[] {0, 0}, new int[] {1, 2}, new int[] {3, 0}, new int[] {0, 1});
    Run r = run(single(new Op.Pad(p, 0.5f), xt.shape()), Map.of("x", xt), List.of("x"));
    Shape ys = r.values.get("y").shape();
    int[] before = {0, 1, 3, 0};
    float[] y = new float[ys.size()];
    LayoutKernels.pad_fwd(y, xt.data(), 0.5f, dims4(ys), dims4(xt.shape()), before);
    TWIN.assertClose("pad", r.values.get("y").data(), y);
    Shape xs = xt.shape().withDim(0, N * K);
    float[] dx = new float[xs.size()];
    LayoutKernels.pad_bwd(dx, r.seed.data(), dims4(xs), dims4(r.seed.shape()), before);
    TWIN.assertClose("pad dx", r.dx.get("x").data(), dx);
  }

  @Test
  void addInPlaceAndXGradCamWeights() {
    float[] a = vec(rng, 50);
    float[] b = vec(rng, 50);
    float[] sum = new float[50];
    for (int i = 0; i < 50; i++) {
      sum[i] = a[i] + b[i];
    }
    LayoutKernels.add_inplace(a, b, 50);
    TWIN.assertClose("add_inplace", sum, a);
    // XGrad-CAM against the formula in plain double loops
    int h = 3;
    int w = 4;
    int c = 5;
    float[] acts = new float[N * h * w * c];
    float[] grads = vec(rng, acts.length);
    for (int i = 0; i < acts.length; i++) {
      acts[i] = rng.nextFloat();
    }
    float[] alpha = new float[N * c];
    CpuKernels.xgradcam_weights(alpha, acts, grads, N, h, w, c, 1e-7f);
    float[] ref = new float[N * c];
    for (int n = 0; n < N; n++) {
      for (int k = 0; k < c; k++) {
        double s = 0;
        double t = 0;
        for (int p = 0; p < h * w; p++) {
          s += acts[(n * h * w + p) * c + k];
          t += (double) grads[(n * h * w + p) * c + k] * acts[(n * h * w + p) * c + k];
        }
        ref[n * c + k] = (float) (t / (s + 1e-7f));
      }
    }
    Tolerance.SAME.assertClose("xgradcam_weights", ref, alpha);
  }

  @Test
  void directConvolutionAndItsDataGradient() {
    // {H, W, C, F or M, kh, kw, sh, sw, dh, dw, SAME?, depthwise?}
    int[][] cfg = {
      {9, 11, 4, 6, 3, 3, 1, 1, 1, 1, 1, 0},
      {9, 11, 4, 6, 3, 3, 2, 2, 1, 1, 1, 0}, // SAME with the odd row/column after
      {10, 12, 3, 5, 3, 5, 2, 2, 1, 2, 1, 0}, // dilated along W only, strided
      {8, 8, 4, 4, 3, 3, 1, 1, 2, 2, 1, 0},
      {9, 10, 3, 4, 3, 3, 2, 1, 1, 1, 0, 0}, // VALID
      {8, 9, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1}, // depthwise, multiplier 2
      {9, 9, 3, 1, 3, 3, 2, 2, 1, 1, 0, 1},
    };
    for (int[] c : cfg) {
      int h = c[0];
      int w = c[1];
      int ch = c[2];
      boolean dwise = c[11] == 1;
      Padding pad = c[10] == 1 ? Padding.SAME : Padding.VALID;
      FloatTensor xt = x(N, h, w, ch);
      int f = dwise ? ch * c[3] : c[3];
      Shape fs = dwise ? Shape.of(c[4], c[5], ch, c[3]) : Shape.of(c[4], c[5], ch, c[3]);
      FloatTensor filter = RandomTensors.normal(rng, fs);
      Op op =
          dwise
              ? new Op.DepthwiseConv2D(filter, null, c[6], c[7], c[8], c[9], pad)
              : new Op.Conv2D(filter, null, c[6], c[7], c[8], c[9], pad);
      String what = java.util.Arrays.toString(c);
      Run r = run(single(op, xt.shape()), Map.of("x", xt), List.of("x"));
      Shape ys = r.values.get("y").shape();
      int groups = dwise ? ch : 1;
      float[] krsc =
          dev.segcam.backend.cuda.CudnnConv.filterToKrsc(
              filter.data(), c[4], c[5], dwise ? 1 : ch, f);
      int pt = pad.before(h, c[4], c[6], c[8]);
      int pl = pad.before(w, c[5], c[7], c[9]);
      float[] y = new float[ys.size()];
      ConvKernels.conv2d_direct_fwd(
          y,
          xt.data(),
          krsc,
          new ConvGeometry(
              N, h, w, ch, c[4], c[5], f, groups, c[6], c[7], c[8], c[9], pt, pl, 0, 0, ys.dim(1),
              ys.dim(2)));
      new Tolerance(1e-5, 1e-5).assertClose("direct conv " + what, r.values.get("y").data(), y);
      float[] dx = new float[N * K * h * w * ch];
      ConvKernels.conv2d_direct_bwd_data(
          dx,
          r.seed.data(),
          krsc,
          new ConvGeometry(
              N * K, h, w, ch, c[4], c[5], f, groups, c[6], c[7], c[8], c[9], pt, pl, 0, 0,
              ys.dim(1), ys.dim(2)));
      new Tolerance(1e-5, 1e-5).assertClose("direct conv dx " + what, r.dx.get("x").data(), dx);
    }
  }

  @Test
  void bilinearResizeKernelsAreTheIrOpAndItsGradient() {
    // CudaCamBackend runs the IR's ResizeBilinear on resize.cu (twins resize_bilinear_fwd/bwd)
    FloatTensor xt = x(N, 5, 7, 3);
    for (int[] s : new int[][] {{10, 14}, {3, 4}, {16, 16}, {1, 1}}) {
      for (boolean[] f : new boolean[][] {{false, false}, {true, false}, {false, true}}) {
        Op.Resize op = new Op.Resize(Op.ResizeMode.BILINEAR, s[0], s[1], f[0], f[1]);
        String what = "bilinear " + s[0] + "x" + s[1] + " align " + f[0] + " half " + f[1];
        Run r = run(single(op, xt.shape()), Map.of("x", xt), List.of("x"));
        float[] y = new float[N * s[0] * s[1] * 3];
        ResizeKernels.resize_bilinear_fwd(
            y, xt.data(), new ResizeDims(N, 5, 7, 3, s[0], s[1], f[0], f[1]));
        TWIN.assertClose(what, r.values.get("y").data(), y);
        float[] dx = new float[N * K * 5 * 7 * 3];
        ResizeKernels.resize_bilinear_bwd(
            dx, r.seed.data(), new ResizeDims(N * K, 5, 7, 3, s[0], s[1], f[0], f[1]));
        TWIN.assertClose(what + " dx", r.dx.get("x").data(), dx);
      }
    }
  }
}
