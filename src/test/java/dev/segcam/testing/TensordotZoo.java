package dev.segcam.testing;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Sum;
import org.tensorflow.op.nn.FusedBatchNorm;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Token models whose Dense layers are Keras 2's: tf.tensordot on an (N, L, C) input, built op by op
 * as TensorFlow's math_ops.tensordot builds it when the input's shape is only partly known (Shape
 * of the activation, GatherV2 of the free and contracted axes, Prod, Pack, an identity Transpose,
 * Reshape to (N·L, C), MatMul by the kernel, ConcatV2 of the gathered free sizes and the units,
 * Reshape back), then BiasAdd as Keras' Dense adds it. Exported under target/tensordot-zoo with
 * seeded He-uniform VariableV2 weights.
 */
public final class TensordotZoo {
  public static final Path ROOT = ModelZoo.ROOT.resolveSibling("tensordot-zoo");

  private static final long WEIGHT_SEED = 20261205L;

  private TensordotZoo() {}

  /**
   * Conv stem (stride 2) to a (4, 5) grid of 8 channels, tokens (N, 20, 8), Keras 2 Dense 16 +
   * ReLU, Keras 2 Dense 8, tokens back to the grid, a 1x1 head of 3 classes. Declared layers: the
   * stem, the tokens, both tensordot outputs, the ReLU and the grid.
   */
  public static KerasZoo.Model denseOnTokens() {
    Path dir = ROOT.resolve("dense_on_tokens");
    ModelZoo.deleteRecursively(dir);
    try (Graph g = new Graph()) {
      ModelZoo.Net n = new ModelZoo.Net(g, new Random(WEIGHT_SEED));
      Operand<TFloat32> x = n.input(-1, 8, 10, 3);
      Operand<TFloat32> stem = n.relu("stem", n.conv("stem", x, 3, 8, 2, 1, "SAME", true));
      Operand<TFloat32> tokens = tokens(n, stem, 20, 8);
      Operand<TFloat32> d1 = tensordot(n, "dense", tokens, 16);
      Operand<TFloat32> h =
          n.subScope("dense").withName("Relu").nn.relu(biasAdd(n, "dense", d1, 16));
      Operand<TFloat32> d2 = tensordot(n, "dense_1", h, 8);
      Operand<TFloat32> o = biasAdd(n, "dense_1", d2, 8);
      return gridHead(g, n, dir, x, o, List.of(stem, tokens, d1, h, d2));
    }
  }

  /**
   * Keras 2's fused LayerNormalization on tokens, then a Keras 2 Dense: stem conv to a (4, 5) grid
   * of 8 channels, tokens (N, 20, 8), the norm, Dense 8, the grid, a 1x1 head. Declared layers: the
   * tokens, the normalised tokens (before gamma), the norm's output, the Dense and the grid.
   */
  public static KerasZoo.Model fusedLayerNorm() {
    Path dir = ROOT.resolve("fused_layer_norm");
    ModelZoo.deleteRecursively(dir);
    try (Graph g = new Graph()) {
      ModelZoo.Net n = new ModelZoo.Net(g, new Random(WEIGHT_SEED ^ 1));
      Operand<TFloat32> x = n.input(-1, 8, 10, 3);
      Operand<TFloat32> tokens =
          tokens(n, n.relu("stem", n.conv("stem", x, 3, 8, 2, 1, "SAME", true)), 20, 8);
      Operand<TFloat32>[] norm = kerasLayerNorm(n, "layer_normalization", tokens);
      Operand<TFloat32> o = biasAdd(n, "dense", tensordot(n, "dense", norm[1], 8), 8);
      return gridHead(g, n, dir, x, o, List.of(tokens, norm[0], norm[1], o));
    }
  }

  /**
   * Keras 2 LayerNormalization(axis=-1) on a rank-3 input as it exports it (the fused path): rows =
   * shape[0]·shape[1] and C from Shape/StridedSlice/Mul, Reshape to (1, rows, C, 1), ones and zeros
   * of length rows (Fill), FusedBatchNormV3 in training mode, NCHW, Reshape back to the input's
   * shape, Mul gamma, AddV2 beta. Returns {normalised, output}.
   */
  @SuppressWarnings("unchecked")
  static Operand<TFloat32>[] kerasLayerNorm(ModelZoo.Net n, String layer, Operand<TFloat32> x) {
    int c = (int) x.shape().get(2);
    Ops s = n.subScope(layer);
    Operand<TInt32> shape = s.withName("Shape").shape(x);
    Operand<TInt32> pre =
        s.withName("mul").math.mul(s.constant(1), KerasZoo.dim(s, "d0", shape, 0));
    pre = s.withName("mul_1").math.mul(pre, KerasZoo.dim(s, "d1", shape, 1));
    Operand<TInt32> in =
        s.withName("mul_2").math.mul(s.constant(1), KerasZoo.dim(s, "d2", shape, 2));
    Operand<TInt32> squeezed =
        s.withName("Reshape_shape").stack(List.of(s.constant(1), pre, in, s.constant(1)));
    Operand<TFloat32> r = s.withName("Reshape").reshape(x, squeezed);
    Operand<TInt32> rows = s.withName("ones_shape").stack(List.of(pre));
    Operand<TFloat32> ones = s.withName("ones").fill(rows, s.constant(1f));
    Operand<TFloat32> zeros = s.withName("zeros").fill(rows, s.constant(0f));
    Operand<TFloat32> empty = s.withName("Const").constant(new float[0]);
    FusedBatchNorm<TFloat32, TFloat32> bn =
        s.withName("FusedBatchNormV3")
            .nn
            .fusedBatchNorm(
                r,
                ones,
                zeros,
                empty,
                empty,
                FusedBatchNorm.epsilon(1e-3f),
                FusedBatchNorm.dataFormat("NCHW"),
                FusedBatchNorm.isTraining(true));
    Operand<TFloat32> normed = s.withName("Reshape_1").reshape(bn.y(), shape);
    Operand<TFloat32> gamma = n.variable(layer, "gamma", new long[] {c}, n.uniform(c, 1.5f));
    Operand<TFloat32> beta = n.variable(layer, "beta", new long[] {c}, n.uniform(c, 0.5f));
    Operand<TFloat32> out =
        s.withName("add").math.add(s.withName("mul_3").math.mul(normed, gamma), beta);
    return new Operand[] {normed, out};
  }

  /**
   * The tensordot merge (N·L, C) read by an op that mixes rows (Sum over the merged axis): segcam
   * refuses it naming the reader.
   */
  public static Path mergeReadAcrossRows() {
    Path dir = ROOT.resolve("merge_across_rows");
    ModelZoo.deleteRecursively(dir);
    try (Graph g = new Graph()) {
      ModelZoo.Net n = new ModelZoo.Net(g, new Random(WEIGHT_SEED));
      Operand<TFloat32> x = n.input(-1, 4, 6, 3);
      Operand<TFloat32> tokens =
          tokens(n, n.relu("stem", n.conv("stem", x, 3, 4, 1, 1, "SAME", true)), 24, 4);
      Ops t = n.subScope("tokens");
      Operand<TFloat32> rows =
          t.withName("rows").reshape(tokens, t.withName("rows_shape").constant(new int[] {-1, 4}));
      Operand<TFloat32> total =
          t.withName("total").sum(rows, t.constant(new int[] {0}), Sum.keepDims(true));
      ImportZoo.save(g, dir, x, total);
    }
    return dir;
  }

  /** Keras 2 Dense's tf.tensordot(x, kernel, [[rank-1], [0]]), named as TensorFlow names it. */
  static Operand<TFloat32> tensordot(ModelZoo.Net n, String layer, Operand<TFloat32> x, int units) {
    int r = x.shape().numDimensions();
    long c = x.shape().get(r - 1);
    Operand<TFloat32> w = n.weight(layer, "kernel", c, units);
    Ops s = n.subScope(layer + "/Tensordot");
    int[] free = new int[r - 1];
    for (int i = 0; i < free.length; i++) {
      free[i] = i;
    }
    Operand<TInt32> freeC = s.withName("free").constant(free);
    Operand<TInt32> axesC = s.withName("axes").constant(new int[] {r - 1});
    Operand<TInt32> shape = s.withName("Shape").shape(x);
    Operand<TInt32> freeDims =
        s.withName("GatherV2").gather(shape, freeC, s.withName("GatherV2_axis").constant(0));
    Operand<TInt32> axesDims =
        s.withName("GatherV2_1").gather(shape, axesC, s.withName("GatherV2_1_axis").constant(0));
    Operand<TInt32> prodFree =
        s.withName("Prod").prod(freeDims, s.withName("Const").constant(new int[] {0}));
    Operand<TInt32> prodAxes =
        s.withName("Prod_1").prod(axesDims, s.withName("Const_1").constant(new int[] {0}));
    Operand<TInt32> perm =
        s.withName("concat").concat(List.of(freeC, axesC), s.withName("concat_axis").constant(0));
    Operand<TInt32> newShape = s.withName("stack").stack(List.of(prodFree, prodAxes));
    Operand<TFloat32> moved = s.withName("transpose").linalg.transpose(x, perm);
    Operand<TFloat32> merged = s.withName("Reshape").reshape(moved, newShape);
    Operand<TFloat32> mm = s.withName("MatMul").linalg.matMul(merged, w);
    Operand<TInt32> outShape =
        s.withName("concat_1")
            .concat(
                List.of(freeDims, s.withName("Const_2").constant(new int[] {units})),
                s.withName("concat_1_axis").constant(0));
    return n.subScope(layer).withName("Tensordot").reshape(mm, outShape);
  }

  /**
   * Tokens (N, 20, 8) back to the (4, 5) grid and a 1x1 head of 3 classes; exports the model with
   * the given layers and the grid declared, run at (2, 8, 10, 3).
   */
  private static KerasZoo.Model gridHead(
      Graph g,
      ModelZoo.Net n,
      Path dir,
      Operand<TFloat32> x,
      Operand<TFloat32> tokens,
      List<Operand<TFloat32>> declared) {
    Ops gr = n.subScope("grid");
    Operand<TFloat32> grid =
        gr.withName("Reshape").reshape(tokens, gr.constant(new int[] {-1, 4, 5, 8}));
    Operand<TFloat32> y = n.conv("head", grid, 1, 3, 1, 1, "SAME", true);
    ImportZoo.save(g, dir, x, y);
    List<String> layers = new ArrayList<>();
    for (Operand<TFloat32> l : declared) {
      layers.add(l.asOutput().op().name());
    }
    layers.add(grid.asOutput().op().name());
    String name = dir.getFileName().toString();
    return new KerasZoo.Model(name, dir, new int[] {2, 8, 10, 3}, List.copyOf(layers), null);
  }

  /** The grid as tokens (N, l, c), named tokens/Reshape. */
  private static Operand<TFloat32> tokens(ModelZoo.Net n, Operand<TFloat32> grid, int l, int c) {
    Ops t = n.subScope("tokens");
    return t.withName("Reshape").reshape(grid, t.constant(new int[] {-1, l, c}));
  }

  private static Operand<TFloat32> biasAdd(
      ModelZoo.Net n, String layer, Operand<TFloat32> x, int units) {
    return n.subScope(layer).withName("BiasAdd").nn.biasAdd(x, n.bias(layer, units));
  }
}
