package dev.segcam.savedmodel;

import static dev.segcam.ir.Op.BinaryKind.ADD;
import static dev.segcam.ir.Op.BinaryKind.DIV;
import static dev.segcam.ir.Op.BinaryKind.MUL;
import static dev.segcam.ir.Op.BinaryKind.SUB;

import dev.segcam.ir.Op;
import dev.segcam.savedmodel.Converter.Val;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * Which conversion each TensorFlow op name takes, once its inputs are known not to be all constant
 * (those fold at import). Ops not listed here go to {@link ElementwiseConversions} and {@link
 * ArrayConversions}.
 */
final class ConversionTable {
  private static final Map<String, Function<Converter, Val>> BY_OP = new HashMap<>();

  static {
    for (Op.ActivationKind k : Op.ActivationKind.values()) {
      add(c -> activation(c, k), k.tfName);
    }
    // TensorFlow's two-input arithmetic (the others are in ElementwiseConversions)
    add(c -> c.binary(ADD), "AddV2", "Add");
    add(c -> c.binary(SUB), "Sub");
    add(c -> c.binary(MUL), "Mul");
    add(c -> c.binary(DIV), "RealDiv");
    add(c -> ConvConversions.conv2d(c, false), "Conv2D");
    add(c -> ConvConversions.conv2d(c, true), "DepthwiseConv2dNative");
    add(ConvConversions::convTranspose, "Conv2DBackpropInput");
    add(ConvConversions::biasAdd, "BiasAdd");
    add(c -> c.emit(new Op.Softmax(), c.act(0)), "Softmax");
    add(c -> c.emit(new Op.LogSoftmax(), c.act(0)), "LogSoftmax");
    add(c -> c.emit(new Op.Exp(), c.act(0)), "Exp");
    add(ConvConversions::pool, "MaxPool", "AvgPool", "MaxPoolV2");
    add(LayoutConversions::mean, "Mean");
    add(c -> LayoutConversions.reduce(c, Op.ReduceKind.SUM), "Sum");
    add(c -> LayoutConversions.reduce(c, Op.ReduceKind.MAX), "Max");
    add(c -> LayoutConversions.reduce(c, Op.ReduceKind.MIN), "Min");
    add(LayoutConversions::resize, "ResizeBilinear", "ResizeNearestNeighbor");
    add(LayoutConversions::concat, "ConcatV2");
    add(LayoutConversions::pad, "Pad", "PadV2");
    add(RearrangeConversions::mirrorPad, "MirrorPad");
    add(RearrangeConversions::depthToSpace, "DepthToSpace");
    add(DilationConversions::spaceToBatch, "SpaceToBatchND");
    add(DilationConversions::batchToSpace, "BatchToSpaceND");
    add(LayerNormConversions::batchNorm, "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3");
    add(ConvConversions::matmul, "MatMul");
    add(
        c -> MatMulConversions.product(c, c.current().op),
        "BatchMatMul",
        "BatchMatMulV2",
        "BatchMatMulV3",
        "Einsum");
    add(TensordotConversions::reshape, "Reshape");
    add(LayoutConversions::squeeze, "Squeeze");
    add(LayoutConversions::expandDims, "ExpandDims");
    add(c -> LayoutConversions.slice(c, c.current().op), "StridedSlice", "Slice");
    add(LayoutConversions::transpose, "Transpose");
  }

  private ConversionTable() {}

  private static void add(Function<Converter, Val> conversion, String... ops) {
    for (String op : ops) {
      BY_OP.put(op, conversion);
    }
  }

  /** The conversion of TensorFlow op {@code op}, or null when this table does not list it. */
  static Function<Converter, Val> of(String op) {
    return BY_OP.get(op);
  }

  private static Val activation(Converter c, Op.ActivationKind k) {
    // LeakyRelu's slope is an attribute (TensorFlow's default 0.2); the others have none
    float alpha = k == Op.ActivationKind.LEAKY_RELU ? c.attrF("alpha", 0.2f) : 0f;
    return c.emit(new Op.Activation(k, alpha), c.act(0));
  }
}
