package dev.segcam.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.function.Function;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Small TensorFlow-Java-built SavedModels for the importer's own checks (gaps listed at once,
 * non-differentiable serving outputs, token layers), exported under target/import-zoo. Weights are
 * seeded He-uniform VariableV2 as in {@link ModelZoo}.
 */
public final class ImportZoo {
  /** Where models are exported (tests run from the project root). */
  public static final Path ROOT = ModelZoo.ROOT.resolveSibling("import-zoo");

  private static final long WEIGHT_SEED = 20261205L;

  private ImportZoo() {}

  /** What a builder returns: the input placeholder and the signature's "output". */
  private record Built(Operand<TFloat32> input, Operand<?> output) {}

  /**
   * Three op types the importer has no conversion for (Sin twice, Cos behind one of the Sins,
   * Cumsum) on branches of one conv, summed into the output.
   */
  public static Path threeGaps() {
    return export(
        "three_gaps",
        n -> {
          Operand<TFloat32> x = n.input(-1, 8, 8, 3);
          Operand<TFloat32> a = n.conv("stem", x, 3, 4, 1, 1, "SAME", true);
          Ops g = n.subScope("gaps");
          Operand<TFloat32> s1 = g.withName("sin_a").math.sin(a);
          Operand<TFloat32> s2 = g.withName("sin_b").math.sin(n.relu("act", a));
          Operand<TFloat32> c = g.withName("cos").math.cos(s1);
          Operand<TFloat32> k = g.withName("cumsum").math.cumsum(a, g.constant(3));
          Operand<TFloat32> y = g.withName("sum2").math.add(g.withName("sum1").math.add(s2, c), k);
          return new Built(x, n.conv("head", y, 1, 2, 1, 1, "SAME", true));
        });
  }

  /**
   * A segmentation net whose serving output is the per-pixel class: ArgMax over the softmax's class
   * axis, as a custom Keras layer after the softmax exports it.
   */
  public static Path argmaxHead() {
    return export(
        "argmax_head",
        n -> {
          Operand<TFloat32> x = n.input(-1, 12, 10, 3);
          Operand<TFloat32> e = n.relu("enc", n.conv("enc", x, 3, 8, 1, 1, "SAME", true));
          Operand<TFloat32> logits = n.conv("head", e, 1, 3, 1, 1, "SAME", true);
          Operand<TFloat32> p = n.subScope("head").withName("softmax").nn.softmax(logits);
          Ops s = n.subScope("classes");
          return new Built(x, s.withName("argmax").math.argMax(p, s.constant(3)));
        });
  }

  /**
   * A fully dynamic input (None, None, None, 3) whose upsampling size is computed from the
   * activation's run-time shape (Shape, StridedSlice, Mul), as Keras layers that read their input's
   * size export it: imports only at a concrete image size.
   */
  public static Path dynamicResize() {
    return export(
        "dynamic_resize",
        n -> {
          Operand<TFloat32> x = n.input(-1, -1, -1, 3);
          Operand<TFloat32> e = n.relu("enc", n.conv("enc", x, 3, 6, 2, 1, "SAME", true));
          Ops s = n.subScope("up");
          Operand<TInt32> hw =
              s.withName("hw")
                  .stridedSlice(
                      s.withName("shape").shape(e),
                      s.constant(new int[] {1}),
                      s.constant(new int[] {3}),
                      s.constant(new int[] {1}));
          Operand<TInt32> size = s.withName("size").math.mul(hw, s.constant(2));
          Operand<TFloat32> u = s.withName("resize").image.resizeBilinear(e, size);
          Operand<TFloat32> d = n.relu("dec", n.conv("dec", u, 3, 6, 1, 1, "SAME", true));
          return new Built(x, n.conv("head", d, 1, 3, 1, 1, "SAME", true));
        });
  }

  private static Path export(String name, Function<ModelZoo.Net, Built> build) {
    Path dir = ROOT.resolve(name);
    ModelZoo.deleteRecursively(dir);
    try (Graph g = new Graph()) {
      ModelZoo.Net net = new ModelZoo.Net(g, new Random(WEIGHT_SEED ^ name.hashCode()));
      Built b = build.apply(net);
      save(g, dir, b.input(), b.output());
    }
    return dir;
  }

  /** Initialises g's variables and exports it to dir with one signature, input -> output. */
  static void save(Graph g, Path dir, Operand<?> input, Operand<?> output) {
    try (Session s = new Session(g)) {
      s.initialize();
      Signature sig =
          Signature.builder()
              .key(Signature.DEFAULT_KEY)
              .input("input", input)
              .output("output", output)
              .build();
      Files.createDirectories(dir.getParent());
      SavedModelBundle.exporter(dir.toString()).withSession(s).withSignature(sig).export();
    } catch (IOException e) {
      throw new UncheckedIOException("exporting " + dir.getFileName() + " to " + dir, e);
    }
  }
}
