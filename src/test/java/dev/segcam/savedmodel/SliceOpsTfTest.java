package dev.segcam.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuEngine;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.Tolerance;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Max;
import org.tensorflow.op.core.Min;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.StridedSlice;
import org.tensorflow.op.core.Sum;
import org.tensorflow.op.math.Mean;
import org.tensorflow.types.TFloat32;

/**
 * StridedSlice, Slice, Transpose, Sum and Mean of an activation against TensorFlow: the importer's
 * mask expansion ({@link SliceConversions}), the CPU engine's forward and its data gradient against
 * TF's forward and {@code addGradients}, every element, on fresh random inputs.
 */
class SliceOpsTfTest {
  private static final Shape X = Shape.of(2, 6, 7, 3);

  /** One case: the TF op on the placeholder and the IR op the importer makes of it. */
  private record Case(
      String what, Function<Ops, Function<Operand<TFloat32>, Operand<TFloat32>>> tf, Op ir) {}

  private static Case strided(
      String what, int[] begin, int[] end, int[] strides, int bm, int em, int el, int na, int sm) {
    return new Case(
        what,
        tf ->
            x ->
                tf.stridedSlice(
                    x,
                    tf.constant(begin),
                    tf.constant(end),
                    tf.constant(strides),
                    StridedSlice.beginMask((long) bm),
                    StridedSlice.endMask((long) em),
                    StridedSlice.ellipsisMask((long) el),
                    StridedSlice.newAxisMask((long) na),
                    StridedSlice.shrinkAxisMask((long) sm)),
        SliceConversions.stridedSlice(X.rank(), begin, end, strides, bm, em, el, na, sm));
  }

  private static List<Case> cases() {
    return List.of(
        // Keras Cropping2D((1, 2), (2, 1)): x[:, 1:-2, 2:-1, :]
        strided(
            "crop",
            new int[] {0, 1, 2, 0},
            new int[] {0, -2, -1, 0},
            new int[] {1, 1, 1, 1},
            0b1001,
            0b1001,
            0,
            0,
            0),
        // x[:, ::-1, 5:0:-2, :] (negative strides, a masked reversed axis)
        strided(
            "reverse",
            new int[] {0, 0, 5, 0},
            new int[] {0, 0, 0, 0},
            new int[] {1, -1, -2, 1},
            0b1011,
            0b1011,
            0,
            0,
            0),
        // x[..., 1, tf.newaxis] (ellipsis, shrink, new axis)
        strided(
            "ellipsis",
            new int[] {0, 1, 0},
            new int[] {0, 2, 0},
            new int[] {1, 1, 1},
            0,
            0,
            0b001,
            0b100,
            0b010),
        // x[:, -2, ::3] (negative shrink index, stride, implicit trailing axes)
        strided(
            "shrink",
            new int[] {0, -2, 0},
            new int[] {0, -1, 0},
            new int[] {1, 1, 3},
            0b101,
            0b101,
            0,
            0,
            0b010),
        // x[:, tf.newaxis, -100:100:2, 4:1] (a new axis, begin and end clamped to the axis)
        strided(
            "clamp",
            new int[] {0, 0, -100, 1},
            new int[] {0, 0, 100, 5},
            new int[] {1, 1, 2, 2},
            0b0001,
            0b0001,
            0,
            0b0010,
            0),
        new Case(
            "Slice",
            tf ->
                x ->
                    tf.slice(
                        x,
                        tf.constant(new int[] {0, 1, 2, 1}),
                        tf.constant(new int[] {-1, 4, -1, 2})),
            SliceConversions.slice(X.rank(), new int[] {0, 1, 2, 1}, new int[] {-1, 4, -1, 2})),
        new Case(
            "Transpose(0,2,3,1)",
            tf -> x -> tf.linalg.transpose(x, tf.constant(new int[] {0, 2, 3, 1})),
            SliceConversions.transpose(X.rank(), new int[] {0, 2, 3, 1})),
        new Case(
            "Transpose(0,3,1,2)",
            tf -> x -> tf.linalg.transpose(x, tf.constant(new int[] {0, 3, 1, 2})),
            SliceConversions.transpose(X.rank(), new int[] {0, 3, 1, 2})),
        // LayerNorm / InstanceNorm moments: mean over the channels, over H,W,C, and a Sum
        new Case(
            "Mean(-1, keep)",
            tf -> x -> tf.math.mean(x, tf.constant(new int[] {-1}), Mean.keepDims(true)),
            SliceConversions.reduce(Op.ReduceKind.MEAN, X.rank(), new int[] {-1}, true)),
        new Case(
            "Mean(1,2,3)",
            tf -> x -> tf.math.mean(x, tf.constant(new int[] {1, 2, 3}), Mean.keepDims(false)),
            SliceConversions.reduce(Op.ReduceKind.MEAN, X.rank(), new int[] {1, 2, 3}, false)),
        new Case(
            "Sum(3,1)",
            tf -> x -> tf.sum(x, tf.constant(new int[] {3, 1}), Sum.keepDims(false)),
            SliceConversions.reduce(Op.ReduceKind.SUM, X.rank(), new int[] {3, 1}, false)),
        new Case(
            "Sum(2, keep)",
            tf -> x -> tf.sum(x, tf.constant(new int[] {2}), Sum.keepDims(true)),
            SliceConversions.reduce(Op.ReduceKind.SUM, X.rank(), new int[] {2}, true)),
        // reduce_max/reduce_min (Keras GlobalMaxPooling, logsumexp's shift)
        new Case(
            "Max(-1, keep)",
            tf -> x -> tf.max(x, tf.constant(new int[] {-1}), Max.keepDims(true)),
            SliceConversions.reduce(Op.ReduceKind.MAX, X.rank(), new int[] {-1}, true)),
        new Case(
            "Max(1,2)",
            tf -> x -> tf.max(x, tf.constant(new int[] {1, 2}), Max.keepDims(false)),
            SliceConversions.reduce(Op.ReduceKind.MAX, X.rank(), new int[] {1, 2}, false)),
        new Case(
            "Min(3,1)",
            tf -> x -> tf.min(x, tf.constant(new int[] {3, 1}), Min.keepDims(false)),
            SliceConversions.reduce(Op.ReduceKind.MIN, X.rank(), new int[] {3, 1}, false)),
        // ties: Max over a ReLU's zeros shares dy equally among them, as TF
        new Case(
            "Max(2) of ReLU",
            tf -> x -> tf.max(tf.nn.relu(x), tf.constant(new int[] {2}), Max.keepDims(true)),
            null));
  }

  @Test
  void forwardAndGradientMatchTensorFlow() {
    long seed = RandomTensors.freshSeed("SliceOpsTfTest");
    Random rnd = new Random(seed);
    for (Case c : cases()) {
      FloatTensor x = RandomTensors.normal(rnd, X);
      Graph.Builder gb = Graph.builder();
      gb.add("x", new Op.Input(X));
      if (c.ir() == null) { // Max(2) of ReLU
        gb.add("r", new Op.Activation(Op.ActivationKind.RELU, 0f), "x");
        gb.add("y", new Op.Reduce(Op.ReduceKind.MAX, 0b0100, true), "r");
      } else {
        gb.add("y", c.ir(), "x");
      }
      Graph ir = gb.output("y", "y").build();
      try (org.tensorflow.Graph g = new org.tensorflow.Graph();
          Session s = new Session(g);
          CpuEngine engine = new CpuEngine(ir, 2)) {
        Ops tf = Ops.create(g);
        Placeholder<TFloat32> xp = tf.placeholder(TFloat32.class, Placeholder.shape(tfShape(X)));
        Operand<TFloat32> y = c.tf().apply(tf).apply(xp);
        FloatTensor got = engine.forward(Map.of("x", x), List.of("y")).get("y");
        FloatTensor dy = RandomTensors.normal(rnd, got.shape());
        Placeholder<TFloat32> dyp =
            tf.placeholder(TFloat32.class, Placeholder.shape(tfShape(got.shape())));
        Output<?>[] grads =
            g.addGradients(
                "grads",
                new Output<?>[] {y.asOutput()},
                new Output<?>[] {xp.asOutput()},
                new Output<?>[] {dyp.asOutput()});
        try (TFloat32 xt = toTf(x);
            TFloat32 dyt = toTf(dy);
            Result res = s.runner().feed(xp, xt).feed(dyp, dyt).fetch(y).fetch(grads[0]).run()) {
          String at = c.what() + " " + c.ir() + " (seed " + seed + ")";
          FloatTensor ref = fromTf(res.get(0));
          assertEquals(ref.shape(), got.shape(), at);
          // slices copy (exact); sums are formed in double, TF's in float
          Tolerance.CPU_VS_TF.assertClose(at + " forward", ref, got);
          FloatTensor dx =
              CpuBackward.backward(
                      ir, engine.forward(Map.of("x", x), null), Map.of("y", dy), List.of("x"))
                  .get("x");
          Tolerance.CPU_VS_TF.assertClose(at + " d/dx", fromTf(res.get(1)), dx);
        }
      }
    }
  }

  /** A Keras Cropping2D node and a Slice import as StridedSlice with the masks expanded. */
  @Test
  void importMapsStridedSliceAndSlice(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) {
    org.tensorflow.proto.AttrValue mask1001 =
        org.tensorflow.proto.AttrValue.newBuilder().setI(0b1001).build();
    SyntheticModel m =
        new SyntheticModel()
            .input("x", "in", -1, 9, 11, 3)
            .intConstant("crop/b", new int[] {4}, 0, 1, 2, 0)
            .intConstant("crop/e", new int[] {4}, 0, -2, -1, 0)
            .intConstant("crop/s", new int[] {4}, 1, 1, 1, 1)
            .node(
                SyntheticModel.op(
                        "crop/StridedSlice", "StridedSlice", "in", "crop/b", "crop/e", "crop/s")
                    .putAttr("begin_mask", mask1001)
                    .putAttr("end_mask", mask1001))
            .intConstant("sl/b", new int[] {4}, 0, 1, 0, 1)
            .intConstant("sl/s", new int[] {4}, -1, 3, -1, 2)
            .node(SyntheticModel.op("sl/Slice", "Slice", "crop/StridedSlice", "sl/b", "sl/s"))
            .output("y", "sl/Slice");
    Graph g = SavedModelImporter.load(m.write(tmp.resolve("m")), null).graph();
    assertEquals(
        new Op.StridedSlice(
            new int[] {0, 1, 2, 0},
            new int[] {0, -2, -1, 0},
            new int[] {1, 1, 1, 1},
            0b1001,
            0b1001,
            0,
            new int[0]),
        g.node("crop").op());
    assertEquals(Shape.of(-1, 6, 8, 3), g.node("crop").shape());
    assertEquals(Shape.of(-1, 3, 8, 2), g.node("sl").shape());
  }

  @Test
  void reduceKindCodesAreTheKernels() {
    assertEquals(dev.segcam.kernels.ReduceKernels.RED_SUM, Op.ReduceKind.SUM.code);
    assertEquals(dev.segcam.kernels.ReduceKernels.RED_MEAN, Op.ReduceKind.MEAN.code);
  }

  @Test
  void movingTheBatchIsRefused() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> SliceConversions.transpose(3, new int[] {1, 0, 2}));
    assertTrue(e.getMessage().contains("batch axis"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> SliceConversions.transpose(3, new int[] {0, 1}));
  }

  @Test
  void reducingTheBatchIsRefused() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> SliceConversions.reduce(Op.ReduceKind.MEAN, 3, new int[] {0, 2}, false));
    assertTrue(e.getMessage().contains("batch axis"), e.getMessage());
  }

  @Test
  void slicingTheBatchIsRefused() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                SliceConversions.stridedSlice(
                    4, new int[] {1}, new int[] {2}, new int[] {1}, 0, 0, 0, 0, 0));
    assertTrue(e.getMessage().contains("batch axis"), e.getMessage());
  }

  private static org.tensorflow.ndarray.Shape tfShape(Shape s) {
    return org.tensorflow.ndarray.Shape.of(Arrays.stream(s.dims()).asLongStream().toArray());
  }

  private static TFloat32 toTf(FloatTensor t) {
    return TFloat32.tensorOf(tfShape(t.shape()), DataBuffers.of(t.data(), true, false));
  }

  private static FloatTensor fromTf(org.tensorflow.Tensor t) {
    TFloat32 f = (TFloat32) t;
    int[] dims = Arrays.stream(f.shape().asArray()).mapToInt(Math::toIntExact).toArray();
    float[] out = new float[(int) f.size()];
    f.copyTo(DataBuffers.of(out, false, false));
    return new FloatTensor(Shape.of(dims), out);
  }
}
