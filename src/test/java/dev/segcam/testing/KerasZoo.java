package dev.segcam.testing;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.StridedSlice;
import org.tensorflow.op.math.Mean;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Models written the way Keras layers and the converters export them, built with TensorFlow Java
 * under target/keras-zoo: InstanceNorm from moments, Conv2DTranspose with a shape-computed output
 * size, reflection padding, Cropping2D, valid-padding crop-and-concat with offsets from the dynamic
 * input shape, an ArgMax serving output, swish and squeeze-excite, tf.nn's dilated depthwise
 * (SpaceToBatchND / BatchToSpaceND) and pixel shuffle. Weights are seeded He-uniform VariableV2 as
 * in {@link ModelZoo}; each model declares the TF tensors its tests compare.
 */
public final class KerasZoo {
  /** Where models are exported (tests run from the project root). */
  public static final Path ROOT = ModelZoo.ROOT.resolveSibling("keras-zoo");

  private static final long WEIGHT_SEED = 20261205L;

  /** Keras' default epsilons (InstanceNormalization 1e-3, BatchNormalization 1e-3). */
  private static final float NORM_EPSILON = 1e-3f;

  private KerasZoo() {}

  /**
   * One exported model: its directory, the input shape it is run at (batch first), the TF tensors
   * (op names, output 0) to compare, and the tensor the score is on when the serving output is not
   * differentiable (null: the signature's output).
   */
  public record Model(String name, Path dir, int[] runShape, List<String> layers, String scored) {}

  /** What a builder returns. */
  private record Built(
      Operand<TFloat32> input, Operand<?> output, List<Operand<TFloat32>> layers, String scored) {}

  /**
   * pix2pix-style generator: strided 4x4 convs with InstanceNorm written as moments (Mean over H,W
   * keep_dims, SquaredDifference from the stop-gradient mean, Rsqrt, Mul/Sub/AddV2) and LeakyReLU,
   * a ResNet block with reflection (and symmetric) padding and VALID convs, Conv2DTranspose whose
   * output size is computed from the input's shape (Shape/StridedSlice/Mul/Pack) as Keras does, a
   * skip concat, and a tanh output.
   */
  public static Model pix2pix() {
    return export(
        "pix2pix",
        new int[] {2, 16, 16, 3},
        n -> {
          Operand<TFloat32> x = n.input(-1, 16, 16, 3);
          Operand<TFloat32> d1 =
              n.leakyRelu("down1", n.conv("down1", x, 4, 8, 2, 1, "SAME", true), 0.2f);
          Operand<TFloat32> d2 =
              n.leakyRelu(
                  "down2",
                  instanceNorm(n, "down2_norm", n.conv("down2", d1, 4, 16, 2, 1, "SAME", false)),
                  0.2f);
          // ResNet block: reflect-pad, 3x3 VALID, norm, ReLU, symmetric-pad, 3x3 VALID, norm, add
          Operand<TFloat32> r1 =
              n.relu(
                  "res1",
                  instanceNorm(
                      n,
                      "res1_norm",
                      n.conv(
                          "res1",
                          mirrorPad(n, "res1_pad", d2, "REFLECT"),
                          3,
                          16,
                          1,
                          1,
                          "VALID",
                          true)));
          Operand<TFloat32> r2 =
              instanceNorm(
                  n,
                  "res2_norm",
                  n.conv(
                      "res2",
                      mirrorPad(n, "res2_pad", r1, "SYMMETRIC"),
                      3,
                      16,
                      1,
                      1,
                      "VALID",
                      true));
          Operand<TFloat32> res = n.subScope("res_add").withName("add").math.add(d2, r2);
          Operand<TFloat32> u1 =
              n.relu("up1", instanceNorm(n, "up1_norm", kerasDeconv(n, "up1", res, 4, 8)));
          Operand<TFloat32> cat = n.concat("skip1", u1, d1);
          Operand<TFloat32> u2 = kerasDeconv(n, "up2", cat, 4, 3);
          Operand<TFloat32> y = n.subScope("out").withName("tanh").math.tanh(u2);
          return new Built(x, y, List.of(d1, d2, r1, res, u1, cat), null);
        });
  }

  /**
   * InstanceNormalization as tfa/Keras write it: tf.nn.moments over H,W with keep_dims (the
   * variance from the stop-gradient mean) and tf.nn.batch_normalization's algebra with a learned
   * per-channel gamma and beta.
   */
  static Operand<TFloat32> instanceNorm(ModelZoo.Net n, String layer, Operand<TFloat32> x) {
    int c = (int) x.shape().get(3);
    Ops s = n.subScope(layer);
    Operand<TInt32> axes = s.withName("axes").constant(new int[] {1, 2});
    Operand<TFloat32> mean = s.withName("mean").math.mean(x, axes, Mean.keepDims(true));
    Operand<TFloat32> sq =
        s.withName("squared_difference")
            .math
            .squaredDifference(x, s.withName("stop_gradient").stopGradient(mean));
    Operand<TFloat32> var = s.withName("variance").math.mean(sq, axes, Mean.keepDims(true));
    Operand<TFloat32> gamma = n.variable(layer, "gamma", new long[] {c}, shiftedUniform(n, c));
    Operand<TFloat32> beta = n.variable(layer, "beta", new long[] {c}, n.uniform(c, 0.2f));
    Operand<TFloat32> inv =
        s.withName("mul")
            .math
            .mul(
                s.withName("rsqrt")
                    .math
                    .rsqrt(s.withName("add").math.add(var, s.constant(NORM_EPSILON))),
                gamma);
    Operand<TFloat32> xs = s.withName("mul_1").math.mul(x, inv);
    Operand<TFloat32> shift =
        s.withName("sub").math.sub(beta, s.withName("mul_2").math.mul(mean, inv));
    return s.withName("add_1").math.add(xs, shift);
  }

  private static float[] shiftedUniform(ModelZoo.Net n, int c) {
    float[] a = n.uniform(c, 0.5f);
    for (int i = 0; i < c; i++) {
      a[i] += 1f;
    }
    return a;
  }

  /** MirrorPad by one pixel on H and W (REFLECT or SYMMETRIC), as reflection-padding layers. */
  static Operand<TFloat32> mirrorPad(
      ModelZoo.Net n, String layer, Operand<TFloat32> x, String mode) {
    Operand<TInt32> p = n.subScope(layer).constant(new int[][] {{0, 0}, {1, 1}, {1, 1}, {0, 0}});
    return n.raw(layer + "/mirror_pad", "MirrorPad", b -> b.setAttr("mode", mode), x, p);
  }

  /**
   * Keras Conv2DTranspose (stride 2, SAME) + bias: the output size is computed from the input's
   * run-time shape (batch from Shape, H and W times the stride) and packed into output_shape.
   */
  static Operand<TFloat32> kerasDeconv(
      ModelZoo.Net n, String layer, Operand<TFloat32> x, int k, int outC) {
    long inC = x.shape().get(3);
    Operand<TFloat32> w =
        n.variable(
            layer,
            "kernel",
            new long[] {k, k, outC, inC},
            n.uniform((int) (k * k * outC * inC), (float) Math.sqrt(6.0 / (k * k * inC))));
    Ops s = n.subScope(layer);
    Operand<TInt32> shape = s.withName("Shape").shape(x);
    Operand<TInt32> batch = dim(s, "strided_slice", shape, 0);
    Operand<TInt32> h =
        s.withName("mul").math.mul(dim(s, "strided_slice_1", shape, 1), s.constant(2));
    Operand<TInt32> wd =
        s.withName("mul_1").math.mul(dim(s, "strided_slice_2", shape, 2), s.constant(2));
    Operand<TInt32> outShape =
        s.withName("stack").stack(List.of(batch, h, wd, s.constant((int) outC)));
    Operand<TFloat32> y =
        s.withName("conv2d_transpose")
            .nn
            .conv2dBackpropInput(outShape, w, x, List.of(1L, 2L, 2L, 1L), "SAME");
    return s.withName("bias_add").nn.biasAdd(y, n.bias(layer, outC));
  }

  /** shape[i] as a scalar (StridedSlice with shrink_axis_mask), as Python indexing exports it. */
  static Operand<TInt32> dim(Ops s, String name, Operand<TInt32> shape, int i) {
    return s.withName(name)
        .stridedSlice(
            shape,
            s.constant(new int[] {i}),
            s.constant(new int[] {i + 1}),
            s.constant(new int[] {1}),
            StridedSlice.shrinkAxisMask(1L));
  }

  private static Model export(String name, int[] runShape, Function<ModelZoo.Net, Built> build) {
    Path dir = ROOT.resolve(name);
    ModelZoo.deleteRecursively(dir);
    try (Graph g = new Graph()) {
      ModelZoo.Net net = new ModelZoo.Net(g, new Random(WEIGHT_SEED ^ name.hashCode()));
      Built b = build.apply(net);
      ImportZoo.save(g, dir, b.input(), b.output());
      List<String> layers = new ArrayList<>();
      for (Operand<TFloat32> o : b.layers()) {
        layers.add(o.asOutput().op().name());
      }
      return new Model(name, dir, runShape, List.copyOf(layers), b.scored());
    }
  }
}
