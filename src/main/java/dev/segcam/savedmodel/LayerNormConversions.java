package dev.segcam.savedmodel;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;

/**
 * Keras 2's fused LayerNormalization on the last axis of an (N, ..., C) input: Reshape to (1,
 * N·..., C, 1), FusedBatchNorm in training mode in NCHW with scale ones and offset zeros (Fill of
 * the run-time row count), Reshape back, then Mul gamma and AddV2 beta. The IR keeps the input
 * unmerged (the first Reshape is the identity) and the batch norm becomes its moments over the last
 * axis: d = x − mean(x), y = d · rsqrt(mean(d²) + ε), TensorFlow's training-mode normalisation
 * (biased variance).
 */
final class LayerNormConversions {
  private LayerNormConversions() {}

  /** Whether target is (1, rows, C, 1) for x = (N, d1..dk, C), k ≥ 1, rows = N·d1..dk. */
  static boolean mergesForNorm(Shape x, Cst target) {
    int r = x.rank();
    if (r < 3 || target.rank() != 1 || target.size() != 4) {
      return false;
    }
    if (target.get(0) != 1 || target.get(3) != 1) {
      return false;
    }
    Cst rowsAndC = Cst.ints(new int[] {2}, new double[] {target.get(1), target.get(2)});
    return TensordotConversions.mergesBatch(x, rowsAndC);
  }

  /** Whether every reader of the current node is a training-mode NCHW FusedBatchNorm. */
  static boolean readByNormsOnly(Converter cv) {
    var readers = cv.consumersOf(cv.current());
    if (readers.isEmpty()) {
      return false;
    }
    for (TfNode c : readers) {
      if (!isLayerNorm(c) || c.inputs.get(0).node() != cv.current()) {
        return false;
      }
    }
    return true;
  }

  private static boolean isLayerNorm(TfNode n) {
    if (!n.op.startsWith("FusedBatchNorm")) {
      return false;
    }
    boolean training = n.attr("is_training") == null || n.attr("is_training").getB();
    String format =
        n.attr("data_format") == null ? "NHWC" : n.attr("data_format").getS().toStringUtf8();
    return training && format.equals("NCHW");
  }

  /**
   * FusedBatchNorm: the moments form when it normalises the rows of a kept (N, ..., C) tensor (see
   * {@link #mergesForNorm}), else the inference-mode conversion.
   */
  static Converter.Val batchNorm(Converter cv) {
    TfNode cur = cv.current();
    if (!isLayerNorm(cur) || !(cv.in(0) instanceof Converter.Act a)) {
      return ConvConversions.batchNorm(cv);
    }
    String x = a.node();
    Shape xs = cv.shapeOf(x);
    if (xs.rank() < 3 || !cur.inputs.get(0).node().op.equals("Reshape")) {
      throw cv.error(
          "batch norm in training mode is supported only as Keras' fused LayerNormalization"
              + " (a Reshape to (1, rows, C, 1) before it), input is "
              + xs);
    }
    requireFilled(cv, cv.cst(1, "scale"), 1, "scale");
    requireFilled(cv, cv.cst(2, "offset"), 0, "offset");
    float eps = cv.attrF("epsilon", 1e-3f);
    int last = 1 << (xs.rank() - 1);
    String p = cur.path;
    String mean = cv.add(p + "/mean", new Op.Reduce(Op.ReduceKind.MEAN, last, true), x);
    String d = cv.add(p + "/centered", new Op.Binary(Op.BinaryKind.SUB), x, mean);
    String sq = cv.add(p + "/squared", new Op.Unary(Op.UnaryKind.SQUARE, 0f), d);
    String var = cv.add(p + "/variance", new Op.Reduce(Op.ReduceKind.MEAN, last, true), sq);
    String e =
        cv.add(p + "/epsilon", new Op.Const(new FloatTensor(Shape.of(1), new float[] {eps})));
    String ve = cv.add(p + "/variance_eps", new Op.Binary(Op.BinaryKind.ADD), var, e);
    String r = cv.add(p + "/rsqrt", new Op.Unary(Op.UnaryKind.RSQRT, 0f), ve);
    return cv.emit(new Op.Binary(Op.BinaryKind.MUL), d, r);
  }

  private static void requireFilled(Converter cv, Cst c, double v, String what) {
    for (int i = 0; i < c.size(); i++) {
      if (c.get(i) != v) {
        throw cv.error(
            "Keras' fused LayerNormalization has a " + what + " of " + v + "s, got " + c);
      }
    }
  }
}
