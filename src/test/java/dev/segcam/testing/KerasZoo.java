package dev.segcam.testing;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.function.Supplier;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.StridedSlice;
import org.tensorflow.op.math.Mean;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

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

  /** The models by name, for tests that walk them all. */
  public static final Map<String, Supplier<Model>> MODELS =
      Map.of(
          "pix2pix", KerasZoo::pix2pix,
          "valid_unet", KerasZoo::validUnet,
          "argmax_serving", KerasZoo::argmaxServing,
          "efficient_block", KerasZoo::efficientBlock,
          "deeplab_v3plus", KerasZoo::deeplabV3Plus,
          "pixel_shuffle", KerasZoo::pixelShuffle,
          "mirror_pads", KerasZoo::mirrorPads,
          "dynamic_dilated", KerasZoo::dynamicDilated);

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
   * Valid-padding U-Net on a fully dynamic input (None, None, None, 1): VALID convs, a max pool, a
   * Keras Conv2DTranspose, the encoder's skip center-cropped to the decoder's size with offsets
   * computed from both run-time shapes (Shape/StridedSlice/Sub/FloorDiv/Pack → Slice), a concat,
   * and a Keras Cropping2D (constant StridedSlice with masks) before the head. Imports only at a
   * concrete image size; run at 30x34 (not square).
   */
  public static Model validUnet() {
    return export(
        "valid_unet",
        new int[] {2, 30, 34, 1},
        n -> {
          Operand<TFloat32> x = n.input(-1, -1, -1, 1);
          Operand<TFloat32> e1 = n.relu("enc1", n.conv("enc1", x, 3, 8, 1, 1, "VALID", true));
          Operand<TFloat32> e2 = n.relu("enc2", n.conv("enc2", e1, 3, 8, 1, 1, "VALID", true));
          Operand<TFloat32> p = n.maxPoolV2("pool", e2, 2, 2, "VALID");
          Operand<TFloat32> b1 = n.relu("mid1", n.conv("mid1", p, 3, 16, 1, 1, "VALID", true));
          Operand<TFloat32> b2 = n.relu("mid2", n.conv("mid2", b1, 3, 16, 1, 1, "VALID", true));
          Operand<TFloat32> up = kerasDeconv(n, "up", b2, 2, 8, "VALID");
          Operand<TFloat32> skip = centerCrop(n, "crop_skip", e2, up);
          Operand<TFloat32> cat = n.concat("concat", up, skip);
          Operand<TFloat32> d = n.relu("dec", n.conv("dec", cat, 3, 8, 1, 1, "VALID", true));
          Ops c = n.subScope("cropping2d");
          Operand<TFloat32> cropped =
              c.withName("strided_slice")
                  .stridedSlice(
                      d,
                      c.constant(new int[] {0, 1, 2, 0}),
                      c.constant(new int[] {0, -1, -2, 0}),
                      c.constant(new int[] {1, 1, 1, 1}),
                      StridedSlice.beginMask(9L),
                      StridedSlice.endMask(9L));
          Operand<TFloat32> y = n.conv("head", cropped, 1, 2, 1, 1, "SAME", true);
          return new Built(x, y, List.of(e2, b2, up, skip, d, cropped), null);
        });
  }

  /**
   * skip center-cropped to ref's H and W, offsets from both run-time shapes: the crop-and-concat of
   * valid-padding U-Nets (Shape, StridedSlice, Sub, FloorDiv, Pack, Slice).
   */
  static Operand<TFloat32> centerCrop(
      ModelZoo.Net n, String layer, Operand<TFloat32> skip, Operand<TFloat32> ref) {
    Ops s = n.subScope(layer);
    Operand<TInt32> ss = s.withName("Shape").shape(skip);
    Operand<TInt32> rs = s.withName("Shape_1").shape(ref);
    Operand<TInt32> rh = dim(s, "strided_slice", rs, 1);
    Operand<TInt32> rw = dim(s, "strided_slice_1", rs, 2);
    Operand<TInt32> oh =
        s.withName("floordiv")
            .math
            .floorDiv(
                s.withName("sub").math.sub(dim(s, "strided_slice_2", ss, 1), rh), s.constant(2));
    Operand<TInt32> ow =
        s.withName("floordiv_1")
            .math
            .floorDiv(
                s.withName("sub_1").math.sub(dim(s, "strided_slice_3", ss, 2), rw), s.constant(2));
    Operand<TInt32> begin =
        s.withName("stack").stack(List.of(s.constant(0), oh, ow, s.constant(0)));
    Operand<TInt32> size =
        s.withName("stack_1")
            .stack(List.of(s.constant(-1), rh, rw, s.constant((int) skip.shape().get(3))));
    return s.withName("slice").slice(skip, begin, size);
  }

  /**
   * A segmentation net whose serving output is a custom Keras layer after the softmax: ArgMax over
   * the last axis (-1) as int64. segcam scores the softmax's logits and says so.
   */
  public static Model argmaxServing() {
    return export(
        "argmax_serving",
        new int[] {2, 14, 18, 3},
        n -> {
          Operand<TFloat32> x = n.input(-1, 14, 18, 3);
          Operand<TFloat32> e1 = n.relu("enc1", n.conv("enc1", x, 3, 8, 1, 1, "SAME", true));
          Operand<TFloat32> e2 = n.relu("enc2", n.conv("enc2", e1, 3, 8, 2, 1, "SAME", true));
          Operand<TFloat32> u = n.resizeBilinear("up", e2, 14, 18, false, true);
          Operand<TFloat32> d =
              n.relu("dec", n.conv("dec", n.concat("skip", u, e1), 3, 8, 1, 1, "SAME", true));
          Operand<TFloat32> logits = n.conv("head", d, 1, 4, 1, 1, "SAME", true);
          Operand<TFloat32> prob = n.subScope("head").withName("softmax").nn.softmax(logits);
          Ops a = n.subScope("predicted_class");
          Operand<?> cls = a.withName("ArgMax").math.argMax(prob, a.constant(-1), TInt64.class);
          return new Built(x, cls, List.of(e1, e2, u, d), prob.asOutput().op().name());
        });
  }

  /**
   * EfficientNet-style MBConv block: stem conv + BN + swish (x·sigmoid(x)), 1x1 expansion + BN +
   * swish, depthwise 3x3 + BN + swish, squeeze-excite (GlobalAveragePooling as Mean over H,W, two
   * 1x1 convs with swish and sigmoid, Multiply broadcast over H,W), 1x1 projection + BN, the
   * residual add, and a 1x1 head.
   */
  public static Model efficientBlock() {
    return export(
        "efficient_block",
        new int[] {2, 16, 20, 3},
        n -> {
          Operand<TFloat32> x = n.input(-1, 16, 20, 3);
          Operand<TFloat32> stem =
              swish(
                  n, "stem", n.batchNorm("stem_bn", n.conv("stem", x, 3, 8, 2, 1, "SAME", false)));
          Operand<TFloat32> ex =
              swish(
                  n,
                  "expand",
                  n.batchNorm("expand_bn", n.conv("expand", stem, 1, 16, 1, 1, "SAME", false)));
          Operand<TFloat32> dw =
              swish(n, "dwconv", n.batchNorm("dwconv_bn", depthwiseNoBias(n, "dwconv", ex, 3, 1)));
          Ops se = n.subScope("se");
          Operand<TFloat32> sq =
              se.withName("squeeze")
                  .math
                  .mean(dw, se.constant(new int[] {1, 2}), Mean.keepDims(true));
          Operand<TFloat32> r =
              swish(n, "se_reduce", n.conv("se_reduce", sq, 1, 4, 1, 1, "SAME", true));
          Operand<TFloat32> gate =
              n.subScope("se_expand")
                  .withName("sigmoid")
                  .math
                  .sigmoid(n.conv("se_expand", r, 1, 16, 1, 1, "SAME", true));
          Operand<TFloat32> excited = se.withName("excite").math.mul(dw, gate);
          Operand<TFloat32> proj =
              n.batchNorm("project_bn", n.conv("project", excited, 1, 8, 1, 1, "SAME", false));
          Operand<TFloat32> res = n.subScope("add").withName("add").math.add(proj, stem);
          Operand<TFloat32> y = n.conv("head", res, 1, 3, 1, 1, "SAME", true);
          return new Built(x, y, List.of(stem, ex, dw, gate, excited, res), null);
        });
  }

  /** swish as Keras exports tf.nn.silu: x · sigmoid(x). */
  static Operand<TFloat32> swish(ModelZoo.Net n, String layer, Operand<TFloat32> x) {
    Ops s = n.subScope(layer);
    return s.withName("swish").math.mul(x, s.withName("sigmoid").math.sigmoid(x));
  }

  /** DepthwiseConv2dNative without bias (Keras' use_bias=False before a BN), SAME. */
  static Operand<TFloat32> depthwiseNoBias(
      ModelZoo.Net n, String layer, Operand<TFloat32> x, int k, int stride) {
    long c = x.shape().get(3);
    Operand<TFloat32> w = n.weight(layer, "depthwise_kernel", k, k, c, 1);
    return n.subScope(layer)
        .withName("depthwise")
        .nn
        .depthwiseConv2dNative(x, w, List.of(1L, (long) stride, (long) stride, 1L), "SAME");
  }

  /**
   * DeepLabV3+ on a MobileNetV2-style backbone: ZeroPadding2D + VALID stride-2 conv + BN + ReLU6,
   * an inverted residual (1x1 expand, depthwise, 1x1 project, BN, ReLU6), a stride-2 block, a
   * dilated depthwise written by tf.nn.depthwise_conv2d with rate 2 (SpaceToBatchND →
   * DepthwiseConv2dNative → BatchToSpaceND, as TensorFlow's CPU kernel has no dilated depthwise),
   * ASPP (1x1, a dilated Conv2D, an atrous conv written as SpaceToBatchND → Conv2D →
   * BatchToSpaceND, image pooling: Mean + 1x1 + bilinear resize), concat, projection, the decoder
   * (bilinear upsampling to the low-level features, concat with their 1x1 reduction, conv) and
   * logits resized to the input.
   */
  public static Model deeplabV3Plus() {
    return export(
        "deeplab_v3plus",
        new int[] {2, 32, 32, 3},
        n -> {
          Operand<TFloat32> x = n.input(-1, 32, 32, 3);
          Operand<TFloat32> padded = n.pad("stem_pad", x, 0, 1, 0, 1);
          Operand<TFloat32> stem =
              n.relu6(
                  "stem",
                  n.batchNorm("stem_bn", n.conv("stem", padded, 3, 8, 2, 1, "VALID", false)));
          // inverted residual at 16x16 (the decoder's low-level features)
          Operand<TFloat32> b1e =
              n.relu6(
                  "block1_expand",
                  n.batchNorm(
                      "block1_expand_bn",
                      n.conv("block1_expand", stem, 1, 16, 1, 1, "SAME", false)));
          Operand<TFloat32> b1d =
              n.relu6(
                  "block1_dw",
                  n.batchNorm("block1_dw_bn", depthwiseNoBias(n, "block1_dw", b1e, 3, 1)));
          Operand<TFloat32> b1p =
              n.batchNorm(
                  "block1_project_bn", n.conv("block1_project", b1d, 1, 8, 1, 1, "SAME", false));
          Operand<TFloat32> low = n.subScope("block1_add").withName("add").math.add(stem, b1p);
          // stride-2 block to 8x8, then the dilated depthwise (rate 2)
          Operand<TFloat32> b2 =
              n.relu6(
                  "block2_dw",
                  n.batchNorm("block2_dw_bn", depthwiseNoBias(n, "block2_dw", low, 3, 2)));
          Operand<TFloat32> b2p =
              n.relu6(
                  "block2_project",
                  n.batchNorm(
                      "block2_project_bn",
                      n.conv("block2_project", b2, 1, 16, 1, 1, "SAME", false)));
          Operand<TFloat32> b3 =
              n.relu6(
                  "block3_dw",
                  n.batchNorm("block3_dw_bn", spaceToBatchConv(n, "block3_dw", b2p, 3, 2, true)));
          Operand<TFloat32> a1 = n.relu("aspp0", n.conv("aspp0", b3, 1, 8, 1, 1, "SAME", true));
          Operand<TFloat32> a2 = n.relu("aspp1", n.conv("aspp1", b3, 3, 8, 1, 2, "SAME", true));
          Operand<TFloat32> a3 =
              n.relu(
                  "aspp2",
                  n.subScope("aspp2")
                      .withName("bias_add")
                      .nn
                      .biasAdd(spaceToBatchConv(n, "aspp2", b3, 3, 3, false), n.bias("aspp2", 8)));
          Operand<TFloat32> gp = n.mean("image_pool", b3, true);
          Operand<TFloat32> gpc =
              n.relu("image_pool_conv", n.conv("image_pool_conv", gp, 1, 8, 1, 1, "VALID", true));
          Operand<TFloat32> gpu = n.resizeBilinear("image_pool_up", gpc, 8, 8, false, true);
          Operand<TFloat32> aspp = n.concat("aspp_concat", gpu, a1, a2, a3);
          Operand<TFloat32> proj =
              n.relu(
                  "aspp_project",
                  n.batchNorm(
                      "aspp_project_bn", n.conv("aspp_project", aspp, 1, 16, 1, 1, "SAME", false)));
          Operand<TFloat32> up = n.resizeBilinear("decoder_up", proj, 16, 16, false, true);
          Operand<TFloat32> lowr =
              n.relu("low_reduce", n.conv("low_reduce", low, 1, 4, 1, 1, "SAME", true));
          Operand<TFloat32> dec =
              n.relu(
                  "decoder",
                  n.conv(
                      "decoder", n.concat("decoder_concat", up, lowr), 3, 8, 1, 1, "SAME", true));
          Operand<TFloat32> logits = n.conv("logits", dec, 1, 5, 1, 1, "SAME", true);
          Operand<TFloat32> y = n.resizeBilinear("logits_up", logits, 32, 32, false, true);
          return new Built(x, y, List.of(stem, low, b2p, b3, a3, aspp, proj, dec), null);
        });
  }

  /**
   * A SAME stride-1 conv (depthwise, or a regular conv to 8 channels) dilated by rate, written as
   * tf.nn's with_space_to_batch writes it for a static input: SpaceToBatchND with TensorFlow's
   * paddings (SAME's total (k-1)·rate split low-first, the end grown to a multiple of the rate),
   * the undilated VALID conv, and BatchToSpaceND cropping that growth.
   */
  static Operand<TFloat32> spaceToBatchConv(
      ModelZoo.Net n, String layer, Operand<TFloat32> x, int k, int rate, boolean depthwise) {
    long c = x.shape().get(3);
    int[] padsAndCrops = new int[8];
    for (int a = 0; a < 2; a++) {
      int size = (int) x.shape().get(1 + a);
      int total = (k - 1) * rate;
      int start = total / 2;
      int end = total - start;
      int extra = (rate - (size + start + end) % rate) % rate;
      padsAndCrops[2 * a] = start;
      padsAndCrops[2 * a + 1] = end + extra;
      padsAndCrops[4 + 2 * a + 1] = extra;
    }
    Ops s = n.subScope(layer);
    Operand<TInt32> block = s.withName("block_shape").constant(new int[] {rate, rate});
    Operand<TInt32> pads =
        s.withName("paddings")
            .constant(
                new int[][] {
                  {padsAndCrops[0], padsAndCrops[1]}, {padsAndCrops[2], padsAndCrops[3]}
                });
    Operand<TInt32> crops =
        s.withName("crops")
            .constant(
                new int[][] {
                  {padsAndCrops[4], padsAndCrops[5]}, {padsAndCrops[6], padsAndCrops[7]}
                });
    Operand<TFloat32> b = n.raw(layer + "/SpaceToBatchND", "SpaceToBatchND", null, x, block, pads);
    Operand<TFloat32> y;
    if (depthwise) {
      Operand<TFloat32> w = n.weight(layer, "depthwise_kernel", k, k, c, 1);
      y = s.withName("depthwise").nn.depthwiseConv2dNative(b, w, List.of(1L, 1L, 1L, 1L), "VALID");
    } else {
      Operand<TFloat32> w = n.weight(layer, "kernel", k, k, c, 8);
      y = s.withName("Conv2D").nn.conv2d(b, w, List.of(1L, 1L, 1L, 1L), "VALID");
    }
    return n.raw(layer + "/BatchToSpaceND", "BatchToSpaceND", null, y, block, crops);
  }

  /**
   * SpaceToBatchND used outside tf.nn's dilated-conv pattern (a ReLU between it and the
   * BatchToSpaceND): segcam refuses it with the reason rather than computing something else.
   */
  public static Model spaceToBatchMisuse() {
    return export(
        "space_to_batch_misuse",
        new int[] {2, 8, 8, 3},
        n -> {
          Operand<TFloat32> x = n.input(-1, 8, 8, 3);
          Operand<TFloat32> e = n.relu("enc", n.conv("enc", x, 3, 4, 1, 1, "SAME", true));
          Ops s = n.subScope("s2b");
          Operand<TInt32> block = s.withName("block_shape").constant(new int[] {2, 2});
          Operand<TInt32> zeros = s.withName("paddings").constant(new int[][] {{0, 0}, {0, 0}});
          Operand<TFloat32> b =
              n.raw("s2b/SpaceToBatchND", "SpaceToBatchND", null, e, block, zeros);
          Operand<TFloat32> r = n.relu("s2b", b);
          Operand<TFloat32> y =
              n.raw("s2b/BatchToSpaceND", "BatchToSpaceND", null, r, block, zeros);
          return new Built(x, y, List.of(e), null);
        });
  }

  /**
   * tf.nn.depthwise_conv2d with rate 2 on a fully dynamic input (None, None, None, 3): the
   * SpaceToBatchND paddings and BatchToSpaceND crops are computed from the run-time shape as
   * required_space_to_batch_paddings does (Shape, StridedSlice, Add, FloorMod, Sub, Pack), so the
   * pattern folds only at a concrete image size; run at 13x10 (odd: the crop is not empty).
   */
  public static Model dynamicDilated() {
    return export(
        "dynamic_dilated",
        new int[] {2, 13, 10, 3},
        n -> {
          Operand<TFloat32> x = n.input(-1, -1, -1, 3);
          Operand<TFloat32> e = n.relu("enc", n.conv("enc", x, 3, 6, 1, 1, "SAME", true));
          int rate = 2;
          int k = 3;
          int start = (k - 1) * rate / 2;
          int end = (k - 1) * rate - start;
          Ops s = n.subScope("dilated");
          Operand<TInt32> shape = s.withName("Shape").shape(e);
          Operand<TInt32> hw =
              s.withName("strided_slice")
                  .stridedSlice(
                      shape,
                      s.constant(new int[] {1}),
                      s.constant(new int[] {3}),
                      s.constant(new int[] {1}));
          Operand<TInt32> r = s.withName("rate").constant(new int[] {rate, rate});
          Operand<TInt32> full =
              s.withName("add").math.add(hw, s.constant(new int[] {start + end, start + end}));
          Operand<TInt32> extra =
              s.withName("mod")
                  .math
                  .floorMod(
                      s.withName("sub").math.sub(r, s.withName("mod_1").math.floorMod(full, r)), r);
          Operand<TInt32> padEnd =
              s.withName("add_1").math.add(extra, s.constant(new int[] {end, end}));
          // stack([[pad_start[i], pad_end[i]] for i]) and stack([[0, extra[i]] for i]), as
          // required_space_to_batch_paddings writes them
          List<Operand<TInt32>> padRows = new ArrayList<>();
          List<Operand<TInt32>> cropRows = new ArrayList<>();
          for (int i = 0; i < 2; i++) {
            padRows.add(
                s.withName("pad_row_" + i)
                    .stack(List.of(s.constant(start), dim(s, "pad_end_" + i, padEnd, i))));
            cropRows.add(
                s.withName("crop_row_" + i)
                    .stack(List.of(s.constant(0), dim(s, "extra_" + i, extra, i))));
          }
          Operand<TInt32> pads = s.withName("paddings").stack(padRows);
          Operand<TInt32> crops = s.withName("crops").stack(cropRows);
          Operand<TFloat32> b = n.raw("dilated/SpaceToBatchND", "SpaceToBatchND", null, e, r, pads);
          Operand<TFloat32> w = n.weight("dilated", "depthwise_kernel", k, k, 6, 1);
          Operand<TFloat32> dw =
              s.withName("depthwise")
                  .nn
                  .depthwiseConv2dNative(b, w, List.of(1L, 1L, 1L, 1L), "VALID");
          Operand<TFloat32> back =
              n.raw("dilated/BatchToSpaceND", "BatchToSpaceND", null, dw, r, crops);
          Operand<TFloat32> d =
              n.relu(
                  "dilated",
                  n.subScope("dilated")
                      .withName("bias_add")
                      .nn
                      .biasAdd(back, n.bias("dilated", 6)));
          Operand<TFloat32> y = n.conv("head", d, 1, 3, 1, 1, "SAME", true);
          return new Built(x, y, List.of(e, back, d), null);
        });
  }

  /**
   * An op segcam has no conversion for (Sin) feeding a Keras Conv2DTranspose whose output size is
   * computed from its input's shape: only Sin is the gap, not the shape arithmetic behind it.
   */
  public static Model gapBeforeShapeArithmetic() {
    return export(
        "gap_before_shape_arithmetic",
        new int[] {2, 8, 8, 3},
        n -> {
          Operand<TFloat32> x = n.input(-1, 8, 8, 3);
          Operand<TFloat32> e = n.relu("enc", n.conv("enc", x, 3, 4, 2, 1, "SAME", true));
          Operand<TFloat32> g = n.subScope("odd").withName("sin").math.sin(e);
          return new Built(x, kerasDeconv(n, "up", g, 4, 2), List.of(e), null);
        });
  }

  /**
   * Sub-pixel upsampling (pixel shuffle): a conv to 4·C channels, DepthToSpace with block 2, as
   * super-resolution and some segmentation decoders export it.
   */
  public static Model pixelShuffle() {
    return export(
        "pixel_shuffle",
        new int[] {2, 10, 12, 3},
        n -> {
          Operand<TFloat32> x = n.input(-1, 10, 12, 3);
          Operand<TFloat32> e = n.relu("enc", n.conv("enc", x, 3, 8, 2, 1, "SAME", true));
          Operand<TFloat32> c = n.relu("pre", n.conv("pre", e, 3, 12, 1, 1, "SAME", true));
          Operand<TFloat32> ps =
              n.raw("shuffle/DepthToSpace", "DepthToSpace", b -> b.setAttr("block_size", 2L), c);
          Operand<TFloat32> d = n.relu("dec", n.conv("dec", ps, 3, 8, 1, 1, "SAME", true));
          Operand<TFloat32> y = n.conv("head", d, 1, 3, 1, 1, "SAME", true);
          return new Built(x, y, List.of(e, c, ps, d), null);
        });
  }

  /**
   * MirrorPad at TensorFlow's limits: REFLECT by (2, 3) on H of 6 and (1, 4) on W of 5 (at most
   * size - 1), then SYMMETRIC by (4, 0) on H of 9 and (0, 8) on W of 8 (at most the size).
   */
  public static Model mirrorPads() {
    return export(
        "mirror_pads",
        new int[] {2, 6, 5, 2},
        n -> {
          Operand<TFloat32> x = n.input(-1, 6, 5, 2);
          Operand<TFloat32> a = n.relu("conv1", n.conv("conv1", x, 3, 4, 1, 1, "SAME", true));
          Operand<TFloat32> p1 = mirrorPad(n, "pad1", a, "REFLECT", 2, 3, 1, 4);
          Operand<TFloat32> b = n.relu("conv2", n.conv("conv2", p1, 3, 4, 1, 1, "VALID", true));
          Operand<TFloat32> p2 = mirrorPad(n, "pad2", b, "SYMMETRIC", 4, 0, 0, 8);
          Operand<TFloat32> y = n.conv("head", p2, 3, 3, 1, 1, "VALID", true);
          return new Built(x, y, List.of(a, p1, b, p2), null);
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
    return mirrorPad(n, layer, x, mode, 1, 1, 1, 1);
  }

  /** MirrorPad on H and W by (top, bottom, left, right). */
  static Operand<TFloat32> mirrorPad(
      ModelZoo.Net n,
      String layer,
      Operand<TFloat32> x,
      String mode,
      int top,
      int bottom,
      int left,
      int right) {
    Operand<TInt32> p =
        n.subScope(layer).constant(new int[][] {{0, 0}, {top, bottom}, {left, right}, {0, 0}});
    return n.raw(layer + "/mirror_pad", "MirrorPad", b -> b.setAttr("mode", mode), x, p);
  }

  /**
   * Keras Conv2DTranspose (stride 2, SAME) + bias: the output size is computed from the input's
   * run-time shape (batch from Shape, H and W times the stride) and packed into output_shape.
   */
  static Operand<TFloat32> kerasDeconv(
      ModelZoo.Net n, String layer, Operand<TFloat32> x, int k, int outC) {
    return kerasDeconv(n, layer, x, k, outC, "SAME");
  }

  /** As above with the padding; stride 2 (VALID needs k = 2 for an output of twice the input). */
  static Operand<TFloat32> kerasDeconv(
      ModelZoo.Net n, String layer, Operand<TFloat32> x, int k, int outC, String padding) {
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
            .conv2dBackpropInput(outShape, w, x, List.of(1L, 2L, 2L, 1L), padding);
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
