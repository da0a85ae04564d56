package dev.segcam.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.op.Ops;
import org.tensorflow.op.math.Mean;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.types.TFloat32;

/**
 * A MiT-B0-style SegFormer built with TensorFlow Java as Keras exports one, exported under
 * target/segformer-zoo: two stages, each an overlapping patch embedding (7x7 stride 4, then 3x3
 * stride 2) to tokens (N, h·w, C), LayerNorm from moments, efficient self-attention whose keys and
 * values come from a spatial-reduction conv (sr_ratio 4, then 2), a Mix-FFN (Dense, depthwise 3x3
 * on the token grid, exact GELU through Erf, Dense), and the all-MLP decoder (Dense per stage on
 * the grid, bilinear upsampling to H/4, concat, fuse, classify, bilinear to the image).
 *
 * <p>Stage 1's attention is written as Keras MultiHeadAttention exports it (Einsum "abc,cde->abde",
 * "aecd,abcd->acbe", "acbe,aecd->abcd", "abcd,cde->abe"), stage 2's with Transpose and BatchMatMul
 * (adj_y) as hand-written attention does; stage 1's LayerNorm is tf.nn.moments' (SquaredDifference
 * of the stopped mean), stage 2's Keras 3's (mean of squares minus the squared stopped mean). Dense
 * layers on tokens are BatchMatMul of (N,L,C) by (C,O).
 */
public final class SegFormerZoo {
  /** Where the model is exported (tests run from the project root). */
  public static final Path DIR = ModelZoo.ROOT.resolveSibling("segformer-zoo").resolve("mit_b0");

  /** Image size and classes. */
  public static final int SIZE = 32;

  public static final int CLASSES = 3;

  /** Each stage's output reshaped to its grid (H/s, W/s, C): the declared CAM layers. */
  public static final List<String> GRID_LAYERS = List.of("stage1/grid", "stage2/grid");

  /** Token layers (N, L, C) whose grid the following reshape gives. */
  public static final List<String> TOKEN_LAYERS = List.of("stage1/norm/out", "stage2/norm/out");

  /** Intermediate tensors inside the blocks, also compared with TensorFlow. */
  public static final List<String> INNER =
      List.of(
          "stage1/block/attn/softmax",
          "stage1/block/ffn/gelu/out",
          "stage2/block/attn/context",
          "stage2/block/out");

  /**
   * Sum of the float32 fan-ins along the longest path through the model (patch embeddings 147 and
   * 144, spatial-reduction convs 256 and 128, Dense and LayerNorm sums of 16 to 64 per block,
   * scores and contexts, the decoder's 32-wide fuse, 4-tap resizes; about 2000), rounded up: the
   * accumulation length of {@link Tolerance#reassociated}. TensorFlow sums in another order, and a
   * gradient that cancels (the softmax's) keeps the absolute error of its terms.
   */
  public static final long PATH_FAN_IN = 4096;

  private static final long WEIGHT_SEED = 20261205L;

  /** base, with its absolute part widened to the reassociation bound at ref's magnitude. */
  public static Tolerance tolerance(Tolerance base, dev.segcam.ir.FloatTensor ref) {
    double atol = Tolerance.reassociated(PATH_FAN_IN, Tolerance.maxAbs(ref.data())).atol();
    return new Tolerance(base.rtol(), Math.max(base.atol(), atol));
  }

  private static final float LN_EPS = 1e-5f;

  private SegFormerZoo() {}

  /** Exports the model once per JVM. */
  public static synchronized Path get() {
    if (!Files.exists(DIR.resolve("saved_model.pb"))) {
      export();
    }
    return DIR;
  }

  private static void export() {
    ModelZoo.deleteRecursively(DIR);
    try (Graph g = new Graph()) {
      B b = new B(new ModelZoo.Net(g, new Random(WEIGHT_SEED)));
      Operand<TFloat32> x = b.n.input(-1, SIZE, SIZE, 3);
      int h1 = SIZE / 4;
      int h2 = SIZE / 8;
      Operand<TFloat32> t1 = b.patchEmbed("stage1/patch", x, 7, 4, 16, h1, false);
      t1 = b.block("stage1/block", t1, h1, 16, 1, 4, true);
      t1 = b.layerNorm("stage1/norm", t1, false);
      Operand<TFloat32> g1 = b.grid("stage1/grid", t1, h1, 16);
      Operand<TFloat32> t2 = b.patchEmbed("stage2/patch", g1, 3, 2, 32, h2, true);
      t2 = b.block("stage2/block", t2, h2, 32, 2, 2, false);
      t2 = b.layerNorm("stage2/norm", t2, true);
      Operand<TFloat32> g2 = b.grid("stage2/grid", t2, h2, 32);
      // all-MLP decoder
      Operand<TFloat32> d1 = b.dense("decoder/mlp1", g1, 16);
      Operand<TFloat32> d2 =
          b.n.resizeBilinear("decoder/up2", b.dense("decoder/mlp2", g2, 16), h1, h1, false, true);
      Operand<TFloat32> cat = b.n.concat("decoder/concat", d2, d1);
      Operand<TFloat32> fused =
          b.n.relu("decoder/fuse", b.n.conv("decoder/fuse", cat, 1, 16, 1, 1, "SAME", true));
      Operand<TFloat32> logits = b.n.conv("decoder/head", fused, 1, CLASSES, 1, 1, "SAME", true);
      Operand<TFloat32> y = b.n.resizeBilinear("decoder/up", logits, SIZE, SIZE, false, true);
      try (Session s = new Session(g)) {
        s.initialize();
        Signature sig =
            Signature.builder()
                .key(Signature.DEFAULT_KEY)
                .input("input", x)
                .output("output", y)
                .build();
        Files.createDirectories(DIR.getParent());
        SavedModelBundle.exporter(DIR.toString()).withSession(s).withSignature(sig).export();
      } catch (IOException e) {
        throw new UncheckedIOException("exporting the SegFormer to " + DIR, e);
      }
    }
  }

  /** The SegFormer's layers over a {@link ModelZoo.Net}. */
  private static final class B {
    final ModelZoo.Net n;

    B(ModelZoo.Net n) {
      this.n = n;
    }

    Ops s(String layer) {
      return n.subScope(layer);
    }

    Operand<TFloat32> tokens(String name, Operand<TFloat32> x, int l, int c) {
      return s(name).withName("tokens").reshape(x, s(name).constant(new int[] {-1, l, c}));
    }

    Operand<TFloat32> grid(String name, Operand<TFloat32> t, int h, int c) {
      int slash = name.lastIndexOf('/');
      Ops o = s(name.substring(0, slash));
      return o.withName(name.substring(slash + 1)).reshape(t, o.constant(new int[] {-1, h, h, c}));
    }

    Operand<TFloat32> patchEmbed(
        String layer, Operand<TFloat32> x, int k, int stride, int c, int h, boolean keras3) {
      Operand<TFloat32> p = n.conv(layer, x, k, c, stride, 1, "SAME", true);
      return layerNorm(layer + "/norm", tokens(layer, p, h * h, c), keras3);
    }

    /**
     * LayerNorm over the last axis from moments: tf.nn.moments' variance (SquaredDifference of the
     * stopped mean) or Keras 3's (E[x²] − stopped mean²); then x·inv + (beta − mean·inv).
     */
    Operand<TFloat32> layerNorm(String layer, Operand<TFloat32> x, boolean keras3) {
      int c = (int) x.shape().get(-1);
      Ops o = s(layer);
      Operand<TFloat32> gamma =
          n.variable(layer, "gamma", new long[] {c}, plusOne(n.uniform(c, 0.3f)));
      Operand<TFloat32> beta = n.variable(layer, "beta", new long[] {c}, n.uniform(c, 0.2f));
      var axis = o.constant(new int[] {2});
      Operand<TFloat32> mean = o.withName("mean").math.mean(x, axis, Mean.keepDims(true));
      Operand<TFloat32> stopped = o.withName("stop").stopGradient(mean);
      Operand<TFloat32> var;
      if (keras3) {
        Operand<TFloat32> ms =
            o.withName("mean_sq")
                .math
                .mean(o.withName("sq").math.square(x), axis, Mean.keepDims(true));
        var = o.withName("variance").math.sub(ms, o.withName("mean2").math.square(stopped));
      } else {
        var =
            o.withName("variance")
                .math
                .mean(
                    o.withName("sqdiff").math.squaredDifference(x, stopped),
                    axis,
                    Mean.keepDims(true));
      }
      Operand<TFloat32> inv =
          o.withName("inv")
              .math
              .mul(
                  o.withName("rsqrt")
                      .math
                      .rsqrt(o.withName("var_eps").math.add(var, o.constant(LN_EPS))),
                  o.withName("gamma_read").identity(gamma));
      Operand<TFloat32> shift =
          o.withName("shift")
              .math
              .sub(
                  o.withName("beta_read").identity(beta),
                  o.withName("mean_inv").math.mul(mean, inv));
      return o.withName("out").math.add(o.withName("scaled").math.mul(x, inv), shift);
    }

    /** Keras 3 Dense on the last axis: BatchMatMul of (N,...,C) by (C,O), then Add bias. */
    Operand<TFloat32> dense(String layer, Operand<TFloat32> x, int units) {
      long in = x.shape().get(-1);
      Ops o = s(layer);
      // read the variable as Keras does (a ref-typed input breaks the gradient's attrs)
      Operand<TFloat32> w =
          o.withName("kernel_read").identity(n.weight(layer, "kernel", in, units));
      Operand<TFloat32> y = o.withName("matmul").train.batchMatMul(x, w, TFloat32.class);
      return o.withName("bias_add")
          .math
          .add(y, o.withName("bias_read").identity(n.bias(layer, units)));
    }

    /** EinsumDense: Einsum(x, kernel) + bias of the kernel's output dims. */
    Operand<TFloat32> einsumDense(String layer, String eq, Operand<TFloat32> x, long... kernel) {
      Ops o = s(layer);
      Operand<TFloat32> w = o.withName("kernel_read").identity(n.weight(layer, "kernel", kernel));
      Operand<TFloat32> y = o.withName("einsum").linalg.einsum(List.of(x, w), eq);
      int outSize = 1;
      long[] biasShape =
          eq.endsWith("abde") ? new long[] {kernel[1], kernel[2]} : new long[] {kernel[2]};
      for (long d : biasShape) {
        outSize *= (int) d;
      }
      Operand<TFloat32> bias = n.variable(layer, "bias", biasShape, n.uniform(outSize, 0.1f));
      return o.withName("add").math.add(y, o.withName("bias_read").identity(bias));
    }

    Operand<TFloat32> block(
        String layer, Operand<TFloat32> t, int h, int c, int heads, int sr, boolean einsum) {
      int l = h * h;
      int d = c / heads;
      String at = layer + "/attn";
      Ops ao = s(at);
      Operand<TFloat32> a = layerNorm(layer + "/attn_norm", t, !einsum);
      // spatial reduction: keys and values from a strided conv over the token grid
      Operand<TFloat32> ag =
          ao.withName("sr_grid").reshape(a, ao.constant(new int[] {-1, h, h, c}));
      int hs = h / sr;
      Operand<TFloat32> kv =
          layerNorm(
              at + "/sr_norm",
              tokens(at + "/sr", n.conv(at + "/sr", ag, sr, c, sr, 1, "VALID", true), hs * hs, c),
              !einsum);
      Operand<TFloat32> scale = ao.constant((float) (1 / Math.sqrt(d)));
      Operand<TFloat32> ctx;
      if (einsum) {
        Operand<TFloat32> q = einsumDense(at + "/query", "abc,cde->abde", a, c, heads, d);
        Operand<TFloat32> k = einsumDense(at + "/key", "abc,cde->abde", kv, c, heads, d);
        Operand<TFloat32> v = einsumDense(at + "/value", "abc,cde->abde", kv, c, heads, d);
        Operand<TFloat32> qs = ao.withName("q_scaled").math.mul(q, scale);
        Operand<TFloat32> scores =
            ao.withName("scores").linalg.einsum(List.of(k, qs), "aecd,abcd->acbe");
        Operand<TFloat32> p = ao.withName("softmax").nn.softmax(scores);
        Operand<TFloat32> mixed =
            ao.withName("context").linalg.einsum(List.of(p, v), "acbe,aecd->abcd");
        ctx = einsumDense(at + "/output", "abcd,cde->abe", mixed, heads, d, c);
      } else {
        Operand<TFloat32> q = heads(at + "/q", dense(at + "/query", a, c), l, heads, d);
        Operand<TFloat32> k = heads(at + "/k", dense(at + "/key", kv, c), hs * hs, heads, d);
        Operand<TFloat32> v = heads(at + "/v", dense(at + "/value", kv, c), hs * hs, heads, d);
        Operand<TFloat32> scores =
            ao.withName("scores").train.batchMatMul(q, k, TFloat32.class, BatchMatMul.adjY(true));
        Operand<TFloat32> p =
            ao.withName("softmax").nn.softmax(ao.withName("scaled").math.mul(scores, scale));
        Operand<TFloat32> mixed = ao.withName("context").train.batchMatMul(p, v, TFloat32.class);
        Operand<TFloat32> back =
            ao.withName("merge")
                .reshape(
                    ao.withName("unheads")
                        .linalg
                        .transpose(mixed, ao.constant(new int[] {0, 2, 1, 3})),
                    ao.constant(new int[] {-1, l, c}));
        ctx = dense(at + "/output", back, c);
      }
      Ops lo = s(layer);
      t = lo.withName("add_attn").math.add(t, ctx);
      // Mix-FFN
      String ff = layer + "/ffn";
      Ops fo = s(ff);
      int hidden = 2 * c;
      Operand<TFloat32> f = dense(ff + "/fc1", layerNorm(layer + "/ffn_norm", t, !einsum), hidden);
      Operand<TFloat32> fg =
          fo.withName("grid").reshape(f, fo.constant(new int[] {-1, h, h, hidden}));
      Operand<TFloat32> dw = n.depthwise(ff + "/dw", fg, 3, 1, 1, 1, "SAME");
      Operand<TFloat32> ft = tokens(ff + "/dw", dw, l, hidden);
      Operand<TFloat32> gl = gelu(ff + "/gelu", ft);
      f = dense(ff + "/fc2", gl, c);
      return lo.withName("out").math.add(t, f);
    }

    /** (N, L, heads·d) -> (N, heads, L, d). */
    Operand<TFloat32> heads(String layer, Operand<TFloat32> x, int l, int heads, int d) {
      Ops o = s(layer);
      Operand<TFloat32> r = o.withName("split").reshape(x, o.constant(new int[] {-1, l, heads, d}));
      return o.withName("heads").linalg.transpose(r, o.constant(new int[] {0, 2, 1, 3}));
    }

    /** Exact GELU: 0.5·x·(1 + erf(x/√2)). */
    Operand<TFloat32> gelu(String layer, Operand<TFloat32> x) {
      Ops o = s(layer);
      Operand<TFloat32> e =
          o.withName("erf")
              .math
              .erf(o.withName("div").math.mul(x, o.constant((float) (1 / Math.sqrt(2)))));
      Operand<TFloat32> onePlus = o.withName("one_plus").math.add(e, o.constant(1f));
      return o.withName("out")
          .math
          .mul(o.withName("half_x").math.mul(x, o.constant(0.5f)), onePlus);
    }

    private static float[] plusOne(float[] a) {
      for (int i = 0; i < a.length; i++) {
        a[i] += 1f;
      }
      return a;
    }
  }
}
