package dev.segcam.savedmodel;

import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Set;

/**
 * tf.tensordot as Keras 2's Dense exports it on an (N, L, C) input: Reshape to (N·L, C) (the
 * batch-merge, its target folded from Shape/GatherV2/Prod/Pack), MatMul by the kernel, Reshape back
 * to (N, L, O) (ConcatV2 of the gathered free sizes and O). The IR keeps the tensor unmerged: the
 * merge becomes the identity and {@link Op.MatMul}, BiasAdd and element-wise ops act on the last
 * axis of any rank, which is exact as long as nothing between the merge and the split mixes rows.
 * The split is then an ordinary Reshape of the unmerged tensor (its first dim the batch). A merge
 * read by anything else is refused naming the reader.
 */
final class TensordotConversions {
  private TensordotConversions() {}

  /** Ops that act on each row (the last axis) alone, so they commute with the batch-merge. */
  private static final Set<String> ROW_WISE =
      Set.of(
          "Identity",
          "Cast",
          "BiasAdd",
          "AddV2",
          "Add",
          "Sub",
          "Mul",
          "RealDiv",
          "Softmax",
          "LogSoftmax",
          "Exp",
          "Tanh",
          "Sigmoid");

  /** Reshape: the batch-merge of a tensordot chain, else the ordinary conversion. */
  static Converter.Val reshape(Converter cv) {
    if (cv.in(0) instanceof Converter.Act a
        && cv.in(1) instanceof Converter.ConstVal t
        && mergesBatch(cv.shapeOf(a.node()), t.c())) {
      requireRowWiseUntilSplit(cv, cv.shapeOf(a.node()));
      return a;
    }
    if (cv.in(0) instanceof Converter.Act a
        && cv.in(1) instanceof Converter.ConstVal t
        && LayerNormConversions.mergesForNorm(cv.shapeOf(a.node()), t.c())
        && LayerNormConversions.readByNormsOnly(cv)) {
      return a; // Keras 2's fused LayerNormalization: the norm acts on the rows' last axis
    }
    return LayoutConversions.reshape(cv);
  }

  /**
   * Whether target (a folded shape vector) is [rows, C] for x = (N, d1..dk, C), k ≥ 1, with rows
   * the batch times d1..dk: NaN (from the unknown batch), -1, or that product when N is known.
   */
  static boolean mergesBatch(Shape x, Cst target) {
    int r = x.rank();
    if (r < 3 || target.rank() != 1 || target.size() != 2) {
      return false;
    }
    int c = x.dim(r - 1);
    if (c == Shape.UNKNOWN || target.get(1) != c) {
      return false;
    }
    long inner = 1;
    for (int i = 1; i < r - 1; i++) {
      if (x.dim(i) == Shape.UNKNOWN) {
        return false;
      }
      inner *= x.dim(i);
    }
    if (inner == 1) {
      return false; // (N, 1.., C) -> (N, C) keeps the batch: an ordinary reshape
    }
    double rows = target.get(0);
    int n = x.dim(0);
    return Double.isNaN(rows) || rows == -1 || (n != Shape.UNKNOWN && rows == n * inner);
  }

  /**
   * Walks the readers of the merged tensor: each must be row-wise (MatMul reading it as its left
   * operand, BiasAdd, activations, element-wise math) until a Reshape splits the rows again.
   */
  private static void requireRowWiseUntilSplit(Converter cv, Shape x) {
    Deque<TfNode> todo = new ArrayDeque<>();
    Set<TfNode> seen = new HashSet<>();
    todo.push(cv.current());
    while (!todo.isEmpty()) {
      TfNode n = todo.pop();
      for (TfNode c : cv.consumersOf(n)) {
        if (!seen.add(c) || (c.op.equals("Reshape") && readsAt(c, n) == 0)) {
          continue;
        }
        if (!rowWise(c, n)) {
          throw cv.error(
              "reshape of "
                  + x
                  + " to rows (batch merged with the other leading axes) is imported only before"
                  + " ops acting on each row (MatMul by a constant, BiasAdd, activations,"
                  + " element-wise math) up to a Reshape that splits the rows again; "
                  + c.path
                  + " ("
                  + c.op
                  + ") reads it");
        }
        todo.push(c);
      }
    }
  }

  private static boolean rowWise(TfNode c, TfNode from) {
    if (c.op.equals("MatMul")) {
      return readsAt(c, from) == 0
          && (c.attr("transpose_a") == null || !c.attr("transpose_a").getB());
    }
    return ROW_WISE.contains(c.op)
        || ElementwiseConversions.UNARY.containsKey(c.op)
        || ElementwiseConversions.BINARY.containsKey(c.op)
        || isActivation(c.op);
  }

  private static boolean isActivation(String op) {
    for (Op.ActivationKind k : Op.ActivationKind.values()) {
      if (k.tfName.equals(op)) {
        return true;
      }
    }
    return false;
  }

  /** The first input index of c that reads node n (-1 if none). */
  private static int readsAt(TfNode c, TfNode n) {
    for (int i = 0; i < c.inputs.size(); i++) {
      if (c.inputs.get(i).node() == n) {
        return i;
      }
    }
    return -1;
  }
}
