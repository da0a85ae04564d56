package dev.segcam.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.OperationBuilder;
import org.tensorflow.Output;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Squeeze;
import org.tensorflow.op.image.ResizeBilinear;
import org.tensorflow.op.image.ResizeNearestNeighbor;
import org.tensorflow.op.math.Mean;
import org.tensorflow.op.nn.Conv2d;
import org.tensorflow.op.nn.DepthwiseConv2dNative;
import org.tensorflow.op.nn.FusedBatchNorm;
import org.tensorflow.op.nn.LeakyRelu;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Small NHWC float32 models built with TensorFlow Java, random (seeded) weights held in {@code
 * VariableV2}, exported as SavedModels. Between them they use every TensorFlow op the importer
 * maps; {@link #ALL_OP_TYPES} lists those ops and {@code ModelZooTest} checks the exported graphs
 * hold them all.
 *
 * <p>Each model declares the TF op names (output 0) of a few intermediate tensors (encoder,
 * bottleneck, decoder) and of its output, so tests can compare activations and gradients layer by
 * layer. Op names are readable ({@code enc1/relu}); variables are {@code <layer>/kernel}, {@code
 * <layer>/bias}.
 */
public final class ModelZoo {

  /** One exported model. inputShape has -1 for a free batch. */
  public record Model(
      String name,
      Path dir,
      String inputOp,
      long[] inputShape,
      String outputOp,
      List<String> intermediates,
      String description) {
    /** The input shape with the batch set (fixed-batch models ignore n and keep their own). */
    public int[] inputShape(int n) {
      int[] s = new int[inputShape.length];
      for (int i = 0; i < s.length; i++) {
        s[i] = (int) inputShape[i];
      }
      if (s[0] < 0) {
        s[0] = n;
      }
      return s;
    }

    /** True when the graph's input has a fixed batch (transposed convs with a constant size). */
    public boolean fixedBatch() {
      return inputShape[0] >= 0;
    }

    @Override
    public String toString() {
      return name;
    }
  }

  /** Every TensorFlow op type the zoo must cover across its graphs (function bodies included). */
  public static final List<String> ALL_OP_TYPES =
      List.of(
          "Placeholder",
          "VariableV2",
          "Const",
          "Conv2D",
          "DepthwiseConv2dNative",
          "Conv2DBackpropInput",
          "BiasAdd",
          "Relu",
          "Relu6",
          "LeakyRelu",
          "Elu",
          "Sigmoid",
          "Tanh",
          "Softmax",
          "MaxPool",
          "MaxPoolV2",
          "AvgPool",
          "Mean",
          "ResizeBilinear",
          "ResizeNearestNeighbor",
          "ConcatV2",
          "AddV2",
          "Add",
          "Sub",
          "Mul",
          "RealDiv",
          "Pad",
          "PadV2",
          "FusedBatchNormV3",
          "MatMul",
          "Reshape",
          "Squeeze",
          "ExpandDims",
          "Identity",
          "Cast",
          "StatefulPartitionedCall|PartitionedCall");

  public static final List<String> NAMES =
      List.of(
          "unet_transposed",
          "unet_bilinear",
          "deeplab_block",
          "depthwise_separable",
          "vgg_classifier",
          "misc_ops",
          "function_call",
          "binary_seg");

  /** Where models are exported: target/model-zoo (tests run from the project root). */
  public static final Path ROOT = Paths.get("target", "model-zoo");

  private static final long WEIGHT_SEED = 20261123L;
  private static final Map<String, Model> CACHE = new HashMap<>();

  private ModelZoo() {}

  /** All zoo models, exported once per JVM. */
  public static List<Model> all() {
    List<Model> out = new ArrayList<>();
    for (String n : NAMES) {
      out.add(get(n));
    }
    return out;
  }

  /** The named model, exported (once per JVM) under {@link #ROOT}. */
  public static synchronized Model get(String name) {
    Model m = CACHE.get(name);
    if (m == null) {
      m = export(name, ROOT.resolve(name));
      CACHE.put(name, m);
    }
    return m;
  }

  /** Builds the named model with fresh seeded weights and exports it to dir (replacing it). */
  public static Model export(String name, Path dir) {
    deleteRecursively(dir);
    try (Graph g = new Graph()) {
      Net net = new Net(g, new Random(WEIGHT_SEED ^ name.hashCode()));
      Spec spec =
          switch (name) {
            case "unet_transposed" -> unetTransposed(net);
            case "unet_bilinear" -> unetBilinear(net);
            case "deeplab_block" -> deeplabBlock(net);
            case "depthwise_separable" -> depthwiseSeparable(net);
            case "vgg_classifier" -> vggClassifier(net);
            case "misc_ops" -> miscOps(net);
            case "function_call" -> functionCall(net);
            case "binary_seg" -> binarySeg(net);
            default ->
                throw new IllegalArgumentException("no zoo model '" + name + "'; known: " + NAMES);
          };
      try (Session s = new Session(g)) {
        s.initialize();
        Signature sig =
            Signature.builder()
                .key(Signature.DEFAULT_KEY)
                .input("input", spec.input)
                .output("output", spec.output)
                .build();
        Files.createDirectories(dir.getParent());
        SavedModelBundle.exporter(dir.toString()).withSession(s).withSignature(sig).export();
      } catch (IOException e) {
        throw new UncheckedIOException("exporting zoo model " + name + " to " + dir, e);
      }
      return new Model(
          name,
          dir,
          spec.input.op().name(),
          spec.input.shape().asArray(),
          spec.output.op().name(),
          List.copyOf(spec.intermediates.keySet()),
          spec.description);
    }
  }

  /** What a builder returns: its input placeholder, output and named intermediate outputs. */
  private record Spec(
      Output<TFloat32> input,
      Output<TFloat32> output,
      LinkedHashMap<String, Output<TFloat32>> intermediates,
      String description) {}

  private static Spec spec(
      String description,
      Operand<TFloat32> input,
      Operand<TFloat32> output,
      List<Operand<TFloat32>> intermediates) {
    LinkedHashMap<String, Output<TFloat32>> m = new LinkedHashMap<>();
    for (Operand<TFloat32> o : intermediates) {
      m.put(o.asOutput().op().name(), o.asOutput());
    }
    return new Spec(input.asOutput(), output.asOutput(), m, description);
  }

  // ---------------------------------------------------------------- models

  private static Spec unetTransposed(Net n) {
    Operand<TFloat32> x = n.input(1, 32, 32, 3);
    Operand<TFloat32> e1 = n.relu("enc1", n.conv("enc1", x, 3, 8, 1, 1, "SAME", true));
    Operand<TFloat32> p1 = n.maxPoolV2("pool1", e1, 2, 2, "VALID");
    Operand<TFloat32> e2 = n.relu("enc2", n.conv("enc2", p1, 3, 16, 1, 1, "SAME", true));
    Operand<TFloat32> p2 = n.maxPoolV2("pool2", e2, 2, 2, "VALID");
    Operand<TFloat32> b = n.relu("bottleneck", n.conv("bottleneck", p2, 3, 32, 1, 1, "SAME", true));
    // up2: 2x2 stride-2 VALID transposed conv, 8 -> 16
    Operand<TFloat32> u2 = n.relu("up2", n.deconv("up2", b, 2, 16, 2, "VALID", 1, 16, 16));
    Operand<TFloat32> c2 = n.concat("skip2", u2, e2);
    Operand<TFloat32> d2 = n.relu("dec2", n.conv("dec2", c2, 3, 16, 1, 1, "SAME", true));
    // up1: 3x3 stride-2 SAME transposed conv, 16 -> 32
    Operand<TFloat32> u1 = n.relu("up1", n.deconv("up1", d2, 3, 8, 2, "SAME", 1, 32, 32));
    Operand<TFloat32> c1 = n.concat("skip1", u1, e1);
    Operand<TFloat32> d1 = n.relu("dec1", n.conv("dec1", c1, 3, 8, 1, 1, "SAME", true));
    Operand<TFloat32> logits = n.conv("head", d1, 1, 4, 1, 1, "SAME", true);
    Operand<TFloat32> y = n.subScope("head").withName("softmax").nn.softmax(logits);
    return spec(
        "U-Net with transposed-conv upsampling, skip concats and a softmax head",
        x,
        y,
        List.of(e1, e2, b, u2, d2, d1, logits));
  }

  private static Spec unetBilinear(Net n) {
    // not square, so that a swapped H and W shows
    Operand<TFloat32> x = n.input(-1, 32, 48, 3);
    Operand<TFloat32> e1 = n.relu("enc1", n.conv("enc1", x, 3, 8, 1, 1, "SAME", true));
    Operand<TFloat32> p1 = n.maxPoolV2("pool1", e1, 2, 2, "SAME");
    Operand<TFloat32> e2 = n.relu("enc2", n.conv("enc2", p1, 3, 16, 1, 1, "SAME", true));
    // strided conv instead of a pool: 16x24 -> 8x12
    Operand<TFloat32> d = n.relu("down2", n.conv("down2", e2, 3, 16, 2, 1, "SAME", true));
    Operand<TFloat32> b = n.relu("bottleneck", n.conv("bottleneck", d, 3, 32, 1, 1, "SAME", true));
    Operand<TFloat32> u2 = n.resizeBilinear("up2", b, 16, 24, false, true);
    Operand<TFloat32> d2 =
        n.relu("dec2", n.conv("dec2", n.concat("skip2", u2, e2), 3, 16, 1, 1, "SAME", true));
    Operand<TFloat32> u1 = n.resizeBilinear("up1", d2, 32, 48, true, false);
    Operand<TFloat32> d1 =
        n.relu("dec1", n.conv("dec1", n.concat("skip1", u1, e1), 3, 8, 1, 1, "SAME", true));
    Operand<TFloat32> logits = n.conv("head", d1, 1, 3, 1, 1, "SAME", true);
    return spec(
        "U-Net with bilinear upsampling (half-pixel and align-corners) and skip concats, logits"
            + " output",
        x,
        logits,
        List.of(e1, e2, b, u2, d2, d1));
  }

  private static Spec deeplabBlock(Net n) {
    Operand<TFloat32> x = n.input(-1, 32, 32, 3);
    Operand<TFloat32> s =
        n.relu("stem", n.batchNorm("stem_bn", n.conv("stem", x, 3, 16, 2, 1, "SAME", false)));
    Operand<TFloat32> blk =
        n.relu("block", n.batchNorm("block_bn", n.conv("block", s, 3, 16, 1, 2, "SAME", false)));
    Operand<TFloat32> a1 = n.relu("aspp_1x1", n.conv("aspp_1x1", blk, 1, 8, 1, 1, "SAME", true));
    Operand<TFloat32> a2 = n.relu("aspp_d2", n.conv("aspp_d2", blk, 3, 8, 1, 2, "SAME", true));
    Operand<TFloat32> a3 = n.relu("aspp_d4", n.conv("aspp_d4", blk, 3, 8, 1, 4, "SAME", true));
    Operand<TFloat32> gp = n.mean("aspp_pool", blk, true);
    Operand<TFloat32> gpc =
        n.relu("aspp_pool_conv", n.conv("aspp_pool_conv", gp, 1, 8, 1, 1, "VALID", true));
    Operand<TFloat32> gpu = n.resizeBilinear("aspp_pool_up", gpc, 16, 16, false, false);
    Operand<TFloat32> cat = n.concat("aspp_concat", a1, a2, a3, gpu);
    Operand<TFloat32> proj =
        n.relu(
            "project",
            n.batchNorm("project_bn", n.conv("project", cat, 1, 16, 1, 1, "SAME", false)));
    Operand<TFloat32> logits = n.conv("head", proj, 1, 5, 1, 1, "SAME", true);
    Operand<TFloat32> y = n.resizeBilinear("upsample", logits, 32, 32, false, true);
    return spec(
        "DeepLab-style block: strided stem, dilated convs, FusedBatchNormV3, ASPP with image"
            + " pooling, bilinear upsampling of the logits",
        x,
        y,
        List.of(s, blk, gpc, cat, proj, logits));
  }

  private static Spec depthwiseSeparable(Net n) {
    Operand<TFloat32> x = n.input(-1, 24, 28, 3);
    Operand<TFloat32> padded = n.pad("stem_pad", x, 1, 1, 1, 1);
    Operand<TFloat32> s = n.relu6("stem", n.conv("stem", padded, 3, 8, 2, 1, "VALID", true));
    Operand<TFloat32> dw1 = n.relu6("dw1", n.depthwise("dw1", s, 3, 1, 1, 1, "SAME"));
    Operand<TFloat32> pw1 = n.elu("pw1", n.conv("pw1", dw1, 1, 16, 1, 1, "SAME", true));
    // squeeze-and-excitation: (N,H,W,C) * (N,1,1,C), a broadcast product of two activations
    Operand<TFloat32> sq = n.mean("se", pw1, true);
    Operand<TFloat32> ex =
        n.subScope("se")
            .withName("sigmoid")
            .math
            .sigmoid(n.conv("se", sq, 1, 16, 1, 1, "VALID", true));
    Operand<TFloat32> se = n.subScope("se").withName("mul").math.mul(pw1, ex);
    Operand<TFloat32> dw2 = n.leakyRelu("dw2", n.depthwise("dw2", se, 3, 2, 2, 1, "SAME"), 0.1f);
    Operand<TFloat32> pw2 = n.relu6("pw2", n.conv("pw2", dw2, 1, 16, 1, 1, "SAME", true));
    Operand<TFloat32> dw3 = n.leakyRelu("dw3", n.depthwise("dw3", pw2, 3, 1, 1, 1, "VALID"), 0.2f);
    Operand<TFloat32> pool = n.avgPool("pool", dw3, 3, 1, "SAME");
    // a batch norm no conv precedes: it stays a BatchNorm op after folding
    Operand<TFloat32> bn = n.batchNorm("pool_bn", pool);
    Operand<TFloat32> logits = n.conv("head", bn, 1, 4, 1, 1, "SAME", true);
    return spec(
        "MobileNet-style: Pad + VALID strided conv, depthwise (multiplier 2, stride 2, VALID;"
            + " TF's CPU kernel has no dilated depthwise) + pointwise convs, squeeze-excitation"
            + " (broadcast Mul), Relu6/Elu/LeakyRelu, SAME AvgPool, a batch norm after a pool;"
            + " not square",
        x,
        logits,
        List.of(s, dw1, pw1, ex, se, dw2, pw2, dw3, pool, bn));
  }

  private static Spec vggClassifier(Net n) {
    Operand<TFloat32> x = n.input(-1, 32, 32, 3);
    Operand<TFloat32> c11 =
        n.relu("block1_conv1", n.conv("block1_conv1", x, 3, 8, 1, 1, "SAME", true));
    Operand<TFloat32> c12 =
        n.relu("block1_conv2", n.conv("block1_conv2", c11, 3, 8, 1, 1, "SAME", true));
    Operand<TFloat32> p1 = n.maxPoolV2("block1_pool", c12, 2, 2, "VALID");
    Operand<TFloat32> c21 =
        n.relu("block2_conv1", n.conv("block2_conv1", p1, 3, 16, 1, 1, "SAME", true));
    Operand<TFloat32> p2 = n.maxPoolV1("block2_pool", c21, 3, 2, "SAME");
    Operand<TFloat32> c31 =
        n.relu("block3_conv1", n.conv("block3_conv1", p2, 3, 16, 1, 1, "SAME", true));
    Operand<TFloat32> p3 = n.avgPool("block3_pool", c31, 2, 2, "VALID");
    Operand<TFloat32> flat =
        n.subScope("flatten")
            .withName("reshape")
            .reshape(p3, n.subScope("flatten").constant(new int[] {-1, 4 * 4 * 16}));
    Operand<TFloat32> fc1 = n.relu("fc1", n.dense("fc1", flat, 32));
    Operand<TFloat32> fc2 = n.dense("fc2", fc1, 10);
    Operand<TFloat32> y = n.subScope("predictions").withName("softmax").nn.softmax(fc2);
    return spec(
        "VGG-style classifier: conv/pool blocks (MaxPoolV2, MaxPool, AvgPool), Flatten, two dense"
            + " layers, softmax over 10 classes",
        x,
        y,
        List.of(c12, c21, c31, p3, fc1, fc2));
  }

  private static Spec miscOps(Net n) {
    Ops tf = n.tf;
    Operand<TFloat32> x = n.input(-1, 20, 24, 3);
    Ops pre = n.subScope("preprocess");
    Operand<TFloat32> centered =
        pre.withName("sub").math.sub(x, pre.constant(new float[] {0.485f, 0.456f, 0.406f}));
    Operand<TFloat32> scaled =
        pre.withName("div")
            .math
            .realDiv(centered, pre.constant(new float[] {0.229f, 0.224f, 0.225f}));
    Operand<TFloat32> rescaled = pre.withName("mul").math.mul(scaled, pre.constant(0.5f));
    Operand<TFloat32> cast = pre.withName("cast").dtypes.cast(rescaled, TFloat32.class);
    Operand<TFloat32> t =
        n.subScope("conv_t")
            .withName("tanh")
            .math
            .tanh(n.conv("conv_t", cast, 3, 8, 1, 1, "SAME", true));
    // a 3x5 kernel dilated only along W, stride 2: 20x24 -> 10x12
    Operand<TFloat32> down = n.conv("down", cast, 3, 5, 8, 2, 2, 1, 2, "SAME", true);
    Operand<TFloat32> near = n.resizeNearest("up_nearest", down, 20, 24, false, true);
    Operand<TFloat32> sg =
        n.subScope("conv_s")
            .withName("sigmoid")
            .math
            .sigmoid(n.conv("conv_s", near, 1, 8, 1, 1, "SAME", true));
    Operand<TFloat32> merged = n.raw("merge", "AddV2", null, t, sg);
    Operand<TFloat32> diff = n.subScope("gate").withName("sub").math.sub(t, sg);
    Operand<TFloat32> gated = n.subScope("gate").withName("mul").math.mul(merged, diff);
    Operand<TFloat32> plus = n.subScope("gate").withName("add").math.add(gated, merged);
    Operand<TFloat32> padded =
        n.subScope("pad2")
            .withName("padv2")
            .pad(
                plus,
                n.subScope("pad2").constant(new int[][] {{0, 0}, {2, 2}, {2, 2}, {0, 0}}),
                n.subScope("pad2").constant(0.5f));
    Operand<TFloat32> feat =
        n.relu("feat", n.conv("feat", padded, 3, 3, 6, 2, 1, 1, 1, "VALID", true));
    Operand<TFloat32> gap = n.mean("gap", feat, false);
    Ops head = n.subScope("head");
    Operand<TFloat32> e1 = head.withName("expand1").expandDims(gap, head.constant(1));
    Operand<TFloat32> e2 = head.withName("expand2").expandDims(e1, head.constant(2));
    Operand<TFloat32> hc = n.conv("head", e2, 1, 4, 1, 1, "VALID", true);
    Operand<TFloat32> sq = head.withName("squeeze").squeeze(hc, Squeeze.axis(1L, 2L));
    Operand<TFloat32> y = head.withName("identity").identity(sq);
    return spec(
        "Odd ops: input rescaling by constants (Sub/RealDiv/Mul), Cast, Tanh, Sigmoid, nearest"
            + " resize, AddV2/Add/Sub/Mul of activations, PadV2 with a value, Mean without"
            + " keep_dims, ExpandDims/Squeeze, Identity",
        x,
        y,
        List.of(rescaled, t, down, near, sg, gated, plus, padded, feat, gap, hc));
  }

  /** Binary segmentation: one logit channel (foreground), as sigmoid-scored Seg-Grad-CAM uses. */
  private static Spec binarySeg(Net n) {
    Operand<TFloat32> x = n.input(-1, 24, 32, 3);
    Operand<TFloat32> e1 = n.relu("enc1", n.conv("enc1", x, 3, 8, 1, 1, "SAME", true));
    Operand<TFloat32> p1 = n.maxPoolV2("pool1", e1, 2, 2, "VALID");
    Operand<TFloat32> e2 = n.relu("enc2", n.conv("enc2", p1, 3, 16, 1, 1, "SAME", true));
    Operand<TFloat32> up = n.resizeBilinear("up", e2, 24, 32, false, true);
    Operand<TFloat32> d =
        n.relu("dec", n.conv("dec", n.concat("skip", up, e1), 3, 8, 1, 1, "SAME", true));
    Operand<TFloat32> logit = n.conv("head", d, 1, 1, 1, 1, "SAME", true);
    return spec(
        "Binary segmentation net with a single foreground-logit channel",
        x,
        logit,
        List.of(e1, e2, up, d));
  }

  /**
   * Layers inside a function body: the outer graph calls it (PartitionedCall or
   * StatefulPartitionedCall with a FunctionDef in the library) and feeds the body's weights from
   * outer VariableV2 nodes, as Keras feeds captured variables.
   */
  private static Spec functionCall(Net n) {
    Ops tf = n.tf;
    Operand<TFloat32> x = n.input(-1, 16, 16, 3);
    Operand<TFloat32> stem = n.relu("stem", n.conv("stem", x, 3, 8, 1, 1, "SAME", true));
    // Body weights live in the outer graph (saved as VariableV2) and enter as call arguments.
    Operand<TFloat32> k1 = n.weight("block/conv1", "kernel", 3, 3, 8, 8);
    Operand<TFloat32> b1 = n.bias("block/conv1", 8);
    Operand<TFloat32> k2 = n.weight("block/conv2", "kernel", 3, 3, 8, 8);
    float[] constBias = n.uniform(8, 0.1f);
    ConcreteFunction fn =
        ConcreteFunction.create(
            f -> {
              Operand<TFloat32> fx =
                  f.withName("x")
                      .placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, 16, 16, 8)));
              Operand<TFloat32> fk1 =
                  f.withName("k1")
                      .placeholder(TFloat32.class, Placeholder.shape(Shape.of(3, 3, 8, 8)));
              Operand<TFloat32> fb1 =
                  f.withName("b1").placeholder(TFloat32.class, Placeholder.shape(Shape.of(8)));
              Operand<TFloat32> fk2 =
                  f.withName("k2")
                      .placeholder(TFloat32.class, Placeholder.shape(Shape.of(3, 3, 8, 8)));
              Ops c1 = f.withSubScope("conv1");
              Operand<TFloat32> h =
                  c1.withName("relu")
                      .nn
                      .relu(
                          c1.withName("bias_add")
                              .nn
                              .biasAdd(
                                  c1.withName("conv")
                                      .nn
                                      .conv2d(fx, fk1, List.of(1L, 1L, 1L, 1L), "SAME"),
                                  fb1));
              Ops c2 = f.withSubScope("conv2");
              // a constant weight inside the body: the importer must fold it from the FunctionDef
              Operand<TFloat32> h2 =
                  c2.withName("bias_add")
                      .nn
                      .biasAdd(
                          c2.withName("conv").nn.conv2d(h, fk2, List.of(1L, 1L, 1L, 1L), "SAME"),
                          c2.withName("bias").constant(constBias));
              Operand<TFloat32> res = f.withSubScope("residual").withName("add").math.add(h2, fx);
              Operand<TFloat32> out = f.withSubScope("out").withName("relu").nn.relu(res);
              return Signature.builder()
                  .key("residual_block")
                  .input("x", fx)
                  .input("k1", fk1)
                  .input("b1", fb1)
                  .input("k2", fk2)
                  .output("y", out)
                  .build();
            });
    Map<String, Operand<?>> args = new LinkedHashMap<>();
    args.put("x", stem);
    args.put("k1", k1);
    args.put("b1", b1);
    args.put("k2", k2);
    @SuppressWarnings("unchecked")
    Operand<TFloat32> blk = (Operand<TFloat32>) n.subScope("block").call(fn, args).get("y");
    Operand<TFloat32> post = n.relu("post", n.conv("post", blk, 3, 8, 1, 1, "SAME", true));
    Operand<TFloat32> logits = n.conv("head", post, 1, 3, 1, 1, "SAME", true);
    Operand<TFloat32> y = n.subScope("head").withName("softmax").nn.softmax(logits);
    return spec(
        "A residual block inside a function body (call node + FunctionDef), its weights passed in"
            + " from outer VariableV2 plus one constant inside the body",
        x,
        y,
        List.of(stem, blk, post, logits));
  }

  // ---------------------------------------------------------------- building blocks

  /** Layer helpers with readable names and seeded He-uniform weights in VariableV2. */
  static final class Net {
    final Graph g;
    final Ops tf;
    final Random rng;
    private final Map<String, Ops> scopes = new HashMap<>();

    Net(Graph g, Random rng) {
      this.g = g;
      this.tf = Ops.create(g);
      this.rng = rng;
    }

    Operand<TFloat32> input(long... shape) {
      return tf.withName("input").placeholder(TFloat32.class, Placeholder.shape(Shape.of(shape)));
    }

    float[] uniform(int size, float limit) {
      float[] a = new float[size];
      for (int i = 0; i < a.length; i++) {
        a[i] = (rng.nextFloat() * 2 - 1) * limit;
      }
      return a;
    }

    /** A VariableV2 named {@code layer/name} initialised with He-uniform values. */
    Operand<TFloat32> weight(String layer, String name, long... shape) {
      long fanIn = 1;
      for (int i = 0; i < shape.length - 1; i++) {
        fanIn *= shape[i];
      }
      int size = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
      return variable(layer, name, shape, uniform(size, (float) Math.sqrt(6.0 / fanIn)));
    }

    Operand<TFloat32> bias(String layer, int c) {
      return variable(layer, "bias", new long[] {c}, uniform(c, 0.1f));
    }

    Operand<TFloat32> variable(String layer, String name, long[] shape, float[] values) {
      Ops init = subScope(layer).withInitScope();
      Operand<TFloat32> value =
          init.withName(name + "_init").constant(Shape.of(shape), DataBuffers.of(values));
      return subScope(layer).withName(name).variable(value);
    }

    /**
     * The Ops of a name scope, made once: TF Java uniquifies a repeated withSubScope ("enc1_1"),
     * which would scatter one layer's ops over several scopes.
     */
    Ops subScope(String path) {
      Ops o = scopes.get(path);
      if (o == null) {
        int slash = path.lastIndexOf('/');
        Ops parent = slash < 0 ? tf : subScope(path.substring(0, slash));
        o = parent.withSubScope(path.substring(slash + 1));
        scopes.put(path, o);
      }
      return o;
    }

    /** Conv2D (+ BiasAdd): op names layer/conv, layer/bias_add. */
    Operand<TFloat32> conv(
        String layer,
        Operand<TFloat32> x,
        int k,
        int outC,
        int stride,
        int dilation,
        String padding,
        boolean withBias) {
      return conv(layer, x, k, k, outC, stride, stride, dilation, dilation, padding, withBias);
    }

    /** Conv2D with a rectangular kernel, strides and dilations. */
    Operand<TFloat32> conv(
        String layer,
        Operand<TFloat32> x,
        int kh,
        int kw,
        int outC,
        int strideH,
        int strideW,
        int dilationH,
        int dilationW,
        String padding,
        boolean withBias) {
      long inC = x.shape().get(3);
      Operand<TFloat32> w = weight(layer, "kernel", kh, kw, inC, outC);
      Ops s = subScope(layer);
      Operand<TFloat32> y =
          s.withName("conv")
              .nn
              .conv2d(
                  x,
                  w,
                  List.of(1L, (long) strideH, (long) strideW, 1L),
                  padding,
                  Conv2d.dilations(List.of(1L, (long) dilationH, (long) dilationW, 1L)));
      if (withBias) {
        y = s.withName("bias_add").nn.biasAdd(y, bias(layer, outC));
      }
      return y;
    }

    /** DepthwiseConv2dNative + BiasAdd. */
    Operand<TFloat32> depthwise(
        String layer,
        Operand<TFloat32> x,
        int k,
        int multiplier,
        int stride,
        int dilation,
        String padding) {
      long inC = x.shape().get(3);
      Operand<TFloat32> w = weight(layer, "depthwise_kernel", k, k, inC, multiplier);
      Ops s = subScope(layer);
      Operand<TFloat32> y =
          s.withName("depthwise")
              .nn
              .depthwiseConv2dNative(
                  x,
                  w,
                  List.of(1L, (long) stride, (long) stride, 1L),
                  padding,
                  DepthwiseConv2dNative.dilations(
                      List.of(1L, (long) dilation, (long) dilation, 1L)));
      return s.withName("bias_add").nn.biasAdd(y, bias(layer, (int) (inC * multiplier)));
    }

    /** Conv2DBackpropInput with a constant output size (batch fixed) + BiasAdd. */
    Operand<TFloat32> deconv(
        String layer,
        Operand<TFloat32> x,
        int k,
        int outC,
        int stride,
        String padding,
        int batch,
        int outH,
        int outW) {
      long inC = x.shape().get(3);
      // filter (KH,KW,outC,inC): the data gradient of a conv from outC to inC channels
      long[] shape = {k, k, outC, inC};
      int size = (int) (k * k * outC * inC);
      Operand<TFloat32> w =
          variable(layer, "kernel", shape, uniform(size, (float) Math.sqrt(6.0 / (k * k * inC))));
      Ops s = subScope(layer);
      Operand<TInt32> outShape =
          s.withName("output_shape").constant(new int[] {batch, outH, outW, outC});
      Operand<TFloat32> y =
          s.withName("conv_transpose")
              .nn
              .conv2dBackpropInput(
                  outShape, w, x, List.of(1L, (long) stride, (long) stride, 1L), padding);
      return s.withName("bias_add").nn.biasAdd(y, bias(layer, outC));
    }

    /** FusedBatchNormV3 in inference mode with random statistics. */
    Operand<TFloat32> batchNorm(String layer, Operand<TFloat32> x) {
      int c = (int) x.shape().get(3);
      Operand<TFloat32> gamma =
          variable(layer, "gamma", new long[] {c}, shifted(uniform(c, 0.5f), 1f));
      Operand<TFloat32> beta = variable(layer, "beta", new long[] {c}, uniform(c, 0.2f));
      Operand<TFloat32> mean = variable(layer, "moving_mean", new long[] {c}, uniform(c, 0.2f));
      Operand<TFloat32> var =
          variable(layer, "moving_variance", new long[] {c}, shifted(uniform(c, 0.5f), 1f));
      FusedBatchNorm<TFloat32, TFloat32> bn =
          subScope(layer)
              .withName("batch_norm")
              .nn
              .fusedBatchNorm(
                  x,
                  gamma,
                  beta,
                  mean,
                  var,
                  FusedBatchNorm.epsilon(1e-3f),
                  FusedBatchNorm.isTraining(false));
      return bn.y();
    }

    private static float[] shifted(float[] a, float by) {
      for (int i = 0; i < a.length; i++) {
        a[i] += by;
      }
      return a;
    }

    /** Dense: MatMul + BiasAdd. */
    Operand<TFloat32> dense(String layer, Operand<TFloat32> x, int units) {
      long in = x.shape().get(1);
      Operand<TFloat32> w = weight(layer, "kernel", in, units);
      Ops s = subScope(layer);
      return s.withName("bias_add")
          .nn
          .biasAdd(s.withName("matmul").linalg.matMul(x, w), bias(layer, units));
    }

    Operand<TFloat32> relu(String layer, Operand<TFloat32> x) {
      return subScope(layer).withName("relu").nn.relu(x);
    }

    Operand<TFloat32> relu6(String layer, Operand<TFloat32> x) {
      return subScope(layer).withName("relu6").nn.relu6(x);
    }

    Operand<TFloat32> elu(String layer, Operand<TFloat32> x) {
      return subScope(layer).withName("elu").nn.elu(x);
    }

    Operand<TFloat32> leakyRelu(String layer, Operand<TFloat32> x, float alpha) {
      return subScope(layer).withName("leaky_relu").nn.leakyRelu(x, LeakyRelu.alpha(alpha));
    }

    /** MaxPoolV2 (ksize and strides are inputs). */
    Operand<TFloat32> maxPoolV2(
        String layer, Operand<TFloat32> x, int k, int stride, String padding) {
      Ops s = subScope(layer);
      return s.withName("max_pool")
          .nn
          .maxPool(
              x,
              s.constant(new int[] {1, k, k, 1}),
              s.constant(new int[] {1, stride, stride, 1}),
              padding);
    }

    /** MaxPool v1 (ksize and strides are attributes), as TF1 and Keras graphs have it. */
    Operand<TFloat32> maxPoolV1(
        String layer, Operand<TFloat32> x, int k, int stride, String padding) {
      return raw(
          layer + "/max_pool",
          "MaxPool",
          b -> {
            b.setAttr("ksize", new long[] {1, k, k, 1});
            b.setAttr("strides", new long[] {1, stride, stride, 1});
            b.setAttr("padding", padding);
          },
          x);
    }

    Operand<TFloat32> avgPool(
        String layer, Operand<TFloat32> x, int k, int stride, String padding) {
      return subScope(layer)
          .withName("avg_pool")
          .nn
          .avgPool(
              x,
              List.of(1L, (long) k, (long) k, 1L),
              List.of(1L, (long) stride, (long) stride, 1L),
              padding);
    }

    /** Mean over H,W. */
    Operand<TFloat32> mean(String layer, Operand<TFloat32> x, boolean keepDims) {
      Ops s = subScope(layer);
      return s.withName("mean").math.mean(x, s.constant(new int[] {1, 2}), Mean.keepDims(keepDims));
    }

    Operand<TFloat32> resizeBilinear(
        String layer, Operand<TFloat32> x, int h, int w, boolean alignCorners, boolean halfPixel) {
      Ops s = subScope(layer);
      return s.withName("resize")
          .image
          .resizeBilinear(
              x,
              s.constant(new int[] {h, w}),
              ResizeBilinear.alignCorners(alignCorners),
              ResizeBilinear.halfPixelCenters(halfPixel));
    }

    Operand<TFloat32> resizeNearest(
        String layer, Operand<TFloat32> x, int h, int w, boolean alignCorners, boolean halfPixel) {
      Ops s = subScope(layer);
      return s.withName("resize")
          .image
          .resizeNearestNeighbor(
              x,
              s.constant(new int[] {h, w}),
              ResizeNearestNeighbor.alignCorners(alignCorners),
              ResizeNearestNeighbor.halfPixelCenters(halfPixel));
    }

    @SafeVarargs
    final Operand<TFloat32> concat(String layer, Operand<TFloat32>... xs) {
      Ops s = subScope(layer);
      return s.withName("concat").concat(List.of(xs), s.constant(3));
    }

    /** Pad v1 with zeros on H and W. */
    Operand<TFloat32> pad(
        String layer, Operand<TFloat32> x, int top, int bottom, int left, int right) {
      Operand<TInt32> p =
          subScope(layer).constant(new int[][] {{0, 0}, {top, bottom}, {left, right}, {0, 0}});
      return raw(layer + "/pad", "Pad", null, x, p);
    }

    /** An op with no Java wrapper (or a different version than the wrapper's), output 0. */
    Operand<TFloat32> raw(
        String name, String type, Consumer<OperationBuilder> attrs, Operand<?>... inputs) {
      int slash = name.lastIndexOf('/');
      Ops s = slash < 0 ? tf : subScope(name.substring(0, slash));
      OperationBuilder b = s.scope().opBuilder(type, name.substring(slash + 1));
      for (Operand<?> in : inputs) {
        b.addInput(in.asOutput());
      }
      if (attrs != null) {
        attrs.accept(b);
      }
      return b.build().output(0);
    }
  }

  public static void deleteRecursively(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (var walk = Files.walk(dir)) {
      for (Path p : walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
        Files.delete(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("deleting " + dir, e);
    }
  }
}
