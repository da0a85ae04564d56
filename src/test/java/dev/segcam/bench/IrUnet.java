package dev.segcam.bench;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import java.util.Random;

/**
 * The benchmark U-Nets as segcam IR graphs with He-uniform random weights, no TensorFlow needed
 * (for per-op benchmarks; {@link BenchUnet} builds the same layout with TensorFlow Java for the
 * whole-step benchmark against TensorFlow). Per level two 3x3 SAME conv+bias+ReLU, 2x2 VALID max
 * pool down, 2x2 stride-2 VALID Conv2DTranspose+ReLU up, concat (up, skip), a 1x1 conv head with
 * the class logits.
 *
 * <ul>
 *   <li>{@link #MEDIUM}: 32/64/128/256 channels, 4 classes — the 1.9M cpu-vs-tensorflow U-Net
 *       ({@link BenchUnet}'s layout).
 *   <li>{@link #CLASSES_124}: the same body with a 124-class head.
 *   <li>{@link #CLASSIC}: Ronneberger's 64/128/256/512/1024 (4 downsamplings), 2 classes, 31M.
 * </ul>
 */
final class IrUnet {
  private IrUnet() {}

  record Spec(String name, int[] channels, int classes) {}

  static final Spec MEDIUM = new Spec("unet-1.9M", new int[] {32, 64, 128, 256}, 4);
  static final Spec CLASSES_124 = new Spec("unet-124class", new int[] {32, 64, 128, 256}, 124);
  static final Spec CLASSIC = new Spec("unet-classic-31M", new int[] {64, 128, 256, 512, 1024}, 2);

  static final String INPUT = "image";

  /** The graph for (N,H,W,3) images; output "logits". */
  static Graph build(Spec spec, long seed) {
    Random rng = new Random(seed);
    Graph.Builder g = Graph.builder();
    g.add(INPUT, new Op.Input(Shape.of(-1, -1, -1, 3)));
    int[] ch = spec.channels();
    String h = INPUT;
    int c = 3;
    String[] skips = new String[ch.length - 1];
    int[] skipC = new int[ch.length - 1];
    for (int l = 0; l < ch.length; l++) {
      String lvl = l == ch.length - 1 ? "bottleneck" : "enc" + l;
      h = convRelu(g, rng, lvl + "_a", h, c, ch[l]);
      h = convRelu(g, rng, lvl + "_b", h, ch[l], ch[l]);
      c = ch[l];
      if (l < ch.length - 1) {
        skips[l] = h;
        skipC[l] = c;
        g.add("pool" + l, new Op.Pool(Op.PoolKind.MAX, 2, 2, 2, 2, Padding.VALID), h);
        h = "pool" + l;
      }
    }
    for (int l = ch.length - 2; l >= 0; l--) {
      g.add(
          "up" + l + "/deconv",
          new Op.Conv2DTranspose(
              he(rng, 4 * c, 2, 2, ch[l], c), bias(rng, ch[l]), 2, 2, Padding.VALID, -1, -1),
          h);
      g.add(
          "up" + l + "/relu", new Op.Activation(Op.ActivationKind.RELU, 0f), "up" + l + "/deconv");
      g.add("cat" + l, new Op.Concat(3), "up" + l + "/relu", skips[l]);
      h = convRelu(g, rng, "dec" + l + "_a", "cat" + l, skipC[l] + ch[l], ch[l]);
      h = convRelu(g, rng, "dec" + l + "_b", h, ch[l], ch[l]);
      c = ch[l];
    }
    g.add(
        "head/conv",
        new Op.Conv2D(
            he(rng, c, 1, 1, c, spec.classes()),
            bias(rng, spec.classes()),
            1,
            1,
            1,
            1,
            Padding.SAME),
        h);
    g.output("logits", "head/conv");
    return g.build();
  }

  private static String convRelu(
      Graph.Builder g, Random rng, String layer, String x, int in, int out) {
    g.add(
        layer + "/conv",
        new Op.Conv2D(he(rng, 9 * in, 3, 3, in, out), bias(rng, out), 1, 1, 1, 1, Padding.SAME),
        x);
    g.add(layer + "/relu", new Op.Activation(Op.ActivationKind.RELU, 0f), layer + "/conv");
    return layer + "/relu";
  }

  // He-uniform: U(-sqrt(6/fanIn), +sqrt(6/fanIn))
  private static FloatTensor he(Random rng, int fanIn, int... dims) {
    Shape s = Shape.of(dims);
    float limit = (float) Math.sqrt(6.0 / fanIn);
    float[] v = new float[s.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (rng.nextFloat() * 2 - 1) * limit;
    }
    return new FloatTensor(s, v);
  }

  private static FloatTensor bias(Random rng, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (rng.nextFloat() * 2 - 1) * 0.1f;
    }
    return new FloatTensor(Shape.of(n), v);
  }

  static long parameters(Graph g) {
    long p = 0;
    for (var n : g.nodes()) {
      p += n.op().parameterCount();
    }
    return p;
  }
}
