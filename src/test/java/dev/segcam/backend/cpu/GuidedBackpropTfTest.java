package dev.segcam.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.cpu.grad.GradCheck;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Op.ActivationKind;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.testing.Tolerance;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.image.ResizeBilinear;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;

/**
 * Guided backpropagation (Springenberg et al.) against TensorFlow: TensorFlow has no guided ReLU,
 * so the oracle builds the guided backward graph by hand from TF ops. The net is cut at its ReLUs;
 * each linear stretch between two ReLUs (conv, bias, max pool, bilinear resize, 1x1 classifier) is
 * differentiated by TensorFlow's own registry ({@code Graph.addGradients} with the incoming
 * gradient as its seed), and each ReLU applies the guided rule with TF ops: {@code select(x > 0 [&&
 * x < 6] && dy > 0, dy, 0)}. segcam's CPU backward with guided ReLUs must give the same input
 * gradient, for K = 2 targets batched over N = 2 images.
 */
class GuidedBackpropTfTest {
  private static final int N = 2;
  private static final int H = 12;
  private static final int W = 10;
  private static final int C = 3;
  private static final int F1 = 8;
  private static final int F2 = 6;
  private static final int CLASSES = 4;

  /** Keeps conv outputs of order 1, so Relu6 both passes and clips. */
  private static final float WEIGHT_SCALE = 0.6f;

  @Test
  void guidedInputGradientMatchesAHandBuiltTensorFlowGraph() {
    long seed = System.nanoTime();
    Random rnd = new Random(seed);
    FloatTensor x = scaled(rnd, 2f, N, H, W, C);
    FloatTensor f1 = scaled(rnd, WEIGHT_SCALE, 3, 3, C, F1);
    FloatTensor b1 = scaled(rnd, 0.3f, F1);
    FloatTensor f2 = scaled(rnd, WEIGHT_SCALE, 3, 3, F1, F2);
    FloatTensor b2 = scaled(rnd, 0.3f, F2);
    FloatTensor f3 = scaled(rnd, 1f, 1, 1, F2, CLASSES);
    Graph.Builder b = Graph.builder();
    b.add("x", new Op.Input(x.shape()));
    b.add("c1", new Op.Conv2D(f1, null, 1, 1, 1, 1, Padding.SAME), "x");
    b.add("b1", new Op.BiasAdd(b1), "c1");
    b.add("r1", new Op.Activation(ActivationKind.RELU, 0), "b1");
    b.add("p", new Op.Pool(Op.PoolKind.MAX, 2, 2, 2, 2, Padding.VALID), "r1");
    b.add("c2", new Op.Conv2D(f2, null, 1, 1, 1, 1, Padding.SAME), "p");
    b.add("b2", new Op.BiasAdd(b2), "c2");
    b.add("r2", new Op.Activation(ActivationKind.RELU6, 0), "b2");
    b.add("u", new Op.Resize(Op.ResizeMode.BILINEAR, H, W, false, true), "r2");
    b.add("y", new Op.Conv2D(f3, null, 1, 1, 1, 1, Padding.VALID), "u");
    Graph ir = b.output("y", "y").build();

    // one seed per target: a random signed mask on one class channel, as Seg-Grad-CAM seeds are
    List<FloatTensor> seeds = new ArrayList<>();
    for (int k = 0; k < 2; k++) {
      FloatTensor s = new FloatTensor(Shape.of(N, H, W, CLASSES), new float[N * H * W * CLASSES]);
      int cls = rnd.nextInt(CLASSES);
      for (int p = 0; p < N * H * W; p++) {
        s.data()[p * CLASSES + cls] = rnd.nextFloat() * 2 - 1;
      }
      seeds.add(s);
    }

    try (org.tensorflow.Graph g = new org.tensorflow.Graph();
        Session sess = new Session(g)) {
      Ops tf = Ops.create(g);
      Placeholder<TFloat32> xp = tf.placeholder(TFloat32.class, Placeholder.shape(tfShape(x)));
      Placeholder<TFloat32> dyp =
          tf.placeholder(TFloat32.class, Placeholder.shape(tfShape(seeds.get(0))));
      Operand<TFloat32> c1 = conv(tf, xp, f1, "SAME");
      Operand<TFloat32> bb1 = tf.nn.biasAdd(c1, constant(tf, b1));
      Operand<TFloat32> r1 = tf.nn.relu(bb1);
      Operand<TFloat32> p =
          tf.nn.maxPool(
              r1,
              tf.constant(new int[] {1, 2, 2, 1}),
              tf.constant(new int[] {1, 2, 2, 1}),
              "VALID");
      Operand<TFloat32> c2 = conv(tf, p, f2, "SAME");
      Operand<TFloat32> bb2 = tf.nn.biasAdd(c2, constant(tf, b2));
      Operand<TFloat32> r2 = tf.nn.relu6(bb2);
      Operand<TFloat32> u =
          tf.image.resizeBilinear(
              r2,
              tf.constant(new int[] {H, W}),
              ResizeBilinear.alignCorners(false),
              ResizeBilinear.halfPixelCenters(true));
      Operand<TFloat32> y = conv(tf, u, f3, "VALID");

      // the guided backward, stretch by stretch
      Output<?> dR2 = grad(g, "g_r2", y, r2, dyp);
      Operand<TFloat32> dB2 = guided(tf, bb2, dR2, true);
      Output<?> dR1 = grad(g, "g_r1", bb2, r1, dB2);
      Operand<TFloat32> dB1 = guided(tf, bb1, dR1, false);
      Output<?> dX = grad(g, "g_x", bb1, xp, dB1);

      List<Operand<TFloat32>> fetch = List.of(c1, bb1, r1, p, c2, bb2, r2, u, y);
      List<String> names = List.of("c1", "b1", "r1", "p", "c2", "b2", "r2", "u", "y");
      Map<String, FloatTensor> values = new HashMap<>();
      values.put("x", x);
      List<FloatTensor> tfGrads = new ArrayList<>();
      for (FloatTensor s : seeds) {
        try (TFloat32 xt = toTf(x);
            TFloat32 st = toTf(s)) {
          Session.Runner r = sess.runner().feed(xp, xt).feed(dyp, st);
          fetch.forEach(r::fetch);
          r.fetch(dX);
          try (Result res = r.run()) {
            for (int i = 0; i < names.size(); i++) {
              values.put(names.get(i), fromTf(res.get(i)));
            }
            tfGrads.add(fromTf(res.get(names.size())));
          }
        }
      }

      float[] batched = new float[2 * N * H * W * CLASSES];
      System.arraycopy(seeds.get(0).data(), 0, batched, 0, seeds.get(0).size());
      System.arraycopy(seeds.get(1).data(), 0, batched, seeds.get(0).size(), seeds.get(1).size());
      FloatTensor seed2 = new FloatTensor(Shape.of(2 * N, H, W, CLASSES), batched);
      FloatTensor got =
          CpuBackward.backward(
                  ir, values, Map.of("y", seed2), List.of("x"), null, CpuOpTable.TABLE, true)
              .get("x");
      int per = N * H * W * C;
      int nonzero = 0;
      for (int k = 0; k < 2; k++) {
        float[] part = java.util.Arrays.copyOfRange(got.data(), k * per, (k + 1) * per);
        Tolerance.CPU_VS_TF.assertClose(
            "guided d/dx, target " + k + " (seed " + seed + ")", tfGrads.get(k).data(), part);
        for (float v : tfGrads.get(k).data()) {
          nonzero += v != 0f ? 1 : 0;
        }
      }
      // the check means something only when the guided gradient is not all zero
      assertTrue(nonzero > per / 4, "guided gradient mostly zero: " + nonzero + " of " + 2 * per);

      // and guided differs from the plain gradient (the rule did something)
      FloatTensor plain =
          CpuBackward.backward(
                  ir, values, Map.of("y", seed2), List.of("x"), null, CpuOpTable.TABLE, false)
              .get("x");
      double diff = 0;
      for (int i = 0; i < plain.size(); i++) {
        diff = Math.max(diff, Math.abs(plain.data()[i] - got.data()[i]));
      }
      assertTrue(diff > 1e-3, "guided and plain gradients are equal (seed " + seed + ")");
    }
  }

  /** select(x > 0 [&& x < 6] && dy > 0, dy, 0): the guided ReLU in TF ops. */
  private static Operand<TFloat32> guided(
      Ops tf, Operand<TFloat32> x, Output<?> dyOut, boolean six) {
    @SuppressWarnings("unchecked")
    Operand<TFloat32> dy = (Operand<TFloat32>) dyOut;
    Operand<TFloat32> zero = tf.zerosLike(dy);
    Operand<TBool> open = tf.math.greater(x, tf.zerosLike(x));
    if (six) {
      open = tf.math.logicalAnd(open, tf.math.less(x, tf.fill(tf.shape(x), tf.constant(6f))));
    }
    Operand<TBool> pass = tf.math.logicalAnd(open, tf.math.greater(dy, zero));
    return tf.select(pass, dy, zero);
  }

  /** d(sum(seed · y))/dx by TensorFlow's gradient registry. */
  private static Output<?> grad(
      org.tensorflow.Graph g, String prefix, Operand<?> y, Operand<?> x, Operand<?> seed) {
    return g.addGradients(
            prefix,
            new Output<?>[] {y.asOutput()},
            new Output<?>[] {x.asOutput()},
            new Output<?>[] {seed.asOutput()})[0];
  }

  private static Operand<TFloat32> conv(
      Ops tf, Operand<TFloat32> x, FloatTensor f, String padding) {
    return tf.nn.conv2d(x, constant(tf, f), List.of(1L, 1L, 1L, 1L), padding);
  }

  private static Operand<TFloat32> constant(Ops tf, FloatTensor t) {
    return tf.constant(tfShape(t), DataBuffers.of(t.data(), true, false));
  }

  private static FloatTensor scaled(Random rnd, float scale, int... dims) {
    FloatTensor t = GradCheck.tensor(rnd, Shape.of(dims));
    for (int i = 0; i < t.size(); i++) {
      t.data()[i] *= scale;
    }
    return t;
  }

  private static org.tensorflow.ndarray.Shape tfShape(FloatTensor t) {
    long[] d = new long[t.shape().rank()];
    for (int i = 0; i < d.length; i++) {
      d[i] = t.shape().dim(i);
    }
    return org.tensorflow.ndarray.Shape.of(d);
  }

  private static TFloat32 toTf(FloatTensor t) {
    return TFloat32.tensorOf(tfShape(t), DataBuffers.of(t.data(), true, false));
  }

  private static FloatTensor fromTf(org.tensorflow.Tensor t) {
    TFloat32 f = (TFloat32) t;
    long[] d = f.shape().asArray();
    int[] dims = new int[d.length];
    for (int i = 0; i < d.length; i++) {
      dims[i] = (int) d[i];
    }
    float[] out = new float[(int) f.size()];
    f.copyTo(DataBuffers.of(out, false, false));
    return new FloatTensor(Shape.of(dims), out);
  }
}
