package dev.segcam.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/**
 * The benchmark's segmentation net, built with TensorFlow Java and exported as a SavedModel: a
 * 4-level U-Net (32/64/128/256 channels, two 3x3 SAME conv+ReLU per level, 2x2 max pool down, 2x2
 * stride-2 transposed conv up, skip concat) with a 1x1 conv head giving K class logits. About 1.9M
 * parameters. Weights are He-uniform from a fixed seed, held in VariableV2 (the only variable kind
 * TF Java's exporter saves).
 *
 * <p>Layer names (TF op names) are {@code <layer>/conv}, {@code <layer>/bias_add}, {@code
 * <layer>/relu}: e.g. {@code bottleneck_b/relu} is the bottleneck's output, {@code dec2_b/relu} the
 * first decoder block's (128 channels at 1/4 of the input).
 */
final class BenchUnet {
  /** What the export gives back. Batch is fixed (the transposed convs have constant shapes). */
  record Exported(
      Path dir,
      String inputOp,
      String outputOp,
      int size,
      int classes,
      long parameters,
      List<String> layers) {}

  static final int[] CHANNELS = {32, 64, 128, 256};

  private final Ops tf;
  private final Random rng;
  private long parameters;
  private final Map<String, Ops> scopes = new HashMap<>();

  private BenchUnet(Graph g, long seed) {
    this.tf = Ops.create(g);
    this.rng = new Random(seed);
  }

  /** Builds the net for a (1, size, size, 3) input and exports it to dir (replacing it). */
  static Exported export(Path dir, int size, int classes, long seed) {
    return export(dir, size, CHANNELS, classes, false, seed);
  }

  /**
   * The same layout with other channel counts per level (the last is the bottleneck's) and, with
   * softmax, a "probs" output (Softmax over the classes) next to "logits". E.g. {64, 128, 256, 512,
   * 1024} with 2 classes is Ronneberger's 31M U-Net (4 downsamplings).
   */
  static Exported export(
      Path dir, int size, int[] channels, int classes, boolean softmax, long seed) {
    return export(dir, size, 1, channels, classes, softmax, seed);
  }

  /**
   * As {@link #export(Path, int, int[], int, boolean, long)} for a (batch, size, size, 3) input:
   * the same weights for the same seed whatever the batch.
   */
  static Exported export(
      Path dir, int size, int batch, int[] channels, int classes, boolean softmax, long seed) {
    int pools = channels.length - 1;
    if (size % (1 << pools) != 0) {
      throw new IllegalArgumentException(
          "size must be a multiple of " + (1 << pools) + " (" + pools + " pools), got " + size);
    }
    deleteRecursively(dir);
    try (Graph g = new Graph()) {
      BenchUnet n = new BenchUnet(g, seed);
      Operand<TFloat32> x =
          n.tf
              .withName("input")
              .placeholder(TFloat32.class, Placeholder.shape(Shape.of(batch, size, size, 3)));
      Operand<TFloat32>[] skips = newArray(pools);
      Operand<TFloat32> h = x;
      int s = size;
      for (int l = 0; l < pools; l++) {
        h = n.convRelu("enc" + l + "_a", h, channels[l]);
        h = n.convRelu("enc" + l + "_b", h, channels[l]);
        skips[l] = h;
        h = n.maxPool("pool" + l, h);
        s /= 2;
      }
      h = n.convRelu("bottleneck_a", h, channels[pools]);
      h = n.convRelu("bottleneck_b", h, channels[pools]);
      for (int l = pools - 1; l >= 0; l--) {
        s *= 2;
        Operand<TFloat32> up = n.relu("up" + l, n.deconv("up" + l, h, channels[l], batch, s));
        Ops cat = n.scope("skip" + l);
        h = cat.withName("concat").concat(List.of(up, skips[l]), cat.constant(3));
        h = n.convRelu("dec" + l + "_a", h, channels[l]);
        h = n.convRelu("dec" + l + "_b", h, channels[l]);
      }
      Operand<TFloat32> logits = n.conv("head", h, 1, classes);
      try (Session sess = new Session(g)) {
        sess.initialize();
        Signature.Builder sb =
            Signature.builder()
                .key(Signature.DEFAULT_KEY)
                .input("input", x)
                .output("logits", logits);
        if (softmax) {
          sb.output("probs", n.scope("head").withName("softmax").nn.softmax(logits));
        }
        Signature sig = sb.build();
        Files.createDirectories(dir.getParent());
        SavedModelBundle.exporter(dir.toString()).withSession(sess).withSignature(sig).export();
      } catch (IOException e) {
        throw new UncheckedIOException("exporting the benchmark U-Net to " + dir, e);
      }
      return new Exported(
          dir,
          x.asOutput().op().name(),
          logits.asOutput().op().name(),
          size,
          classes,
          n.parameters,
          layers(pools));
    }
  }

  // the bottleneck's output, then each decoder level's, deepest first
  private static List<String> layers(int pools) {
    List<String> l = new java.util.ArrayList<>();
    l.add("bottleneck_b/relu");
    for (int i = pools - 1; i >= 0; i--) {
      l.add("dec" + i + "_b/relu");
    }
    return List.copyOf(l);
  }

  @SuppressWarnings("unchecked")
  private static Operand<TFloat32>[] newArray(int n) {
    return (Operand<TFloat32>[]) new Operand<?>[n];
  }

  /**
   * The Ops of a layer's name scope, made once: TF Java uniquifies a repeated withSubScope
   * ("enc0_a_1"), which would scatter one layer's ops over several scopes.
   */
  private Ops scope(String layer) {
    return scopes.computeIfAbsent(layer, tf::withSubScope);
  }

  private Operand<TFloat32> convRelu(String layer, Operand<TFloat32> x, int outC) {
    return relu(layer, conv(layer, x, 3, outC));
  }

  private Operand<TFloat32> relu(String layer, Operand<TFloat32> x) {
    return scope(layer).withName("relu").nn.relu(x);
  }

  /** Conv2D (SAME, stride 1) + BiasAdd. */
  private Operand<TFloat32> conv(String layer, Operand<TFloat32> x, int k, int outC) {
    long inC = x.shape().get(3);
    Ops s = scope(layer);
    Operand<TFloat32> w = variable(s, "kernel", new long[] {k, k, inC, outC}, k * k * inC);
    Operand<TFloat32> y = s.withName("conv").nn.conv2d(x, w, List.of(1L, 1L, 1L, 1L), "SAME");
    return s.withName("bias_add").nn.biasAdd(y, bias(s, outC));
  }

  /** 2x2 stride-2 VALID transposed conv (Conv2DBackpropInput, constant output size) + BiasAdd. */
  private Operand<TFloat32> deconv(
      String layer, Operand<TFloat32> x, int outC, int batch, int outSize) {
    long inC = x.shape().get(3);
    Ops s = scope(layer);
    // filter (KH,KW,outC,inC): the data gradient of a conv from outC to inC channels
    Operand<TFloat32> w = variable(s, "kernel", new long[] {2, 2, outC, inC}, 4 * inC);
    Operand<TFloat32> y =
        s.withName("conv_transpose")
            .nn
            .conv2dBackpropInput(
                s.withName("output_shape").constant(new int[] {batch, outSize, outSize, outC}),
                w,
                x,
                List.of(1L, 2L, 2L, 1L),
                "VALID");
    return s.withName("bias_add").nn.biasAdd(y, bias(s, outC));
  }

  private Operand<TFloat32> maxPool(String layer, Operand<TFloat32> x) {
    Ops s = scope(layer);
    return s.withName("max_pool")
        .nn
        .maxPool(
            x, s.constant(new int[] {1, 2, 2, 1}), s.constant(new int[] {1, 2, 2, 1}), "VALID");
  }

  /** He-uniform VariableV2. */
  private Operand<TFloat32> variable(Ops s, String name, long[] shape, long fanIn) {
    float limit = (float) Math.sqrt(6.0 / fanIn);
    int size = 1;
    for (long d : shape) {
      size *= (int) d;
    }
    float[] v = new float[size];
    for (int i = 0; i < size; i++) {
      v[i] = (rng.nextFloat() * 2 - 1) * limit;
    }
    parameters += size;
    return s.withName(name)
        .variable(
            s.withInitScope()
                .withName(name + "_init")
                .constant(Shape.of(shape), DataBuffers.of(v)));
  }

  private Operand<TFloat32> bias(Ops s, int c) {
    float[] v = new float[c];
    for (int i = 0; i < c; i++) {
      v[i] = (rng.nextFloat() * 2 - 1) * 0.1f;
    }
    parameters += c;
    return s.withName("bias")
        .variable(s.withInitScope().withName("bias_init").constant(Shape.of(c), DataBuffers.of(v)));
  }

  static void deleteRecursively(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("deleting " + dir, e);
    }
  }
}
