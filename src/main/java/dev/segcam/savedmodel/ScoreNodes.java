package dev.segcam.savedmodel;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;

/**
 * Picks what a serving output is scored on: an output that has no gradient (per-pixel classes from
 * ArgMax, a Cast to int, TopK indices, a comparison...) is replaced by its nearest differentiable
 * ancestor, the tensor the non-differentiable chain reads (usually the softmax, whose logits the
 * explainer then scores as for any softmax output).
 */
final class ScoreNodes {
  /** Ops whose output has no gradient in TensorFlow, whatever their dtype. */
  private static final Set<String> NO_GRADIENT =
      Set.of(
          "ArgMax",
          "ArgMin",
          "TopKV2",
          "TopK",
          "Equal",
          "NotEqual",
          "Greater",
          "GreaterEqual",
          "Less",
          "LessEqual",
          "LogicalAnd",
          "LogicalOr",
          "LogicalNot",
          "IsNan",
          "IsFinite",
          "IsInf",
          "Round",
          "Floor",
          "Ceil",
          "Sign",
          "OneHot");

  /** Attributes that hold an op's output dtype, in the order they are looked at. */
  private static final List<String> DTYPE_ATTRS = List.of("DstT", "output_type", "out_type", "T");

  private static final Set<DataType> DIFFERENTIABLE_TYPES =
      Set.of(DataType.DT_FLOAT, DataType.DT_HALF, DataType.DT_BFLOAT16, DataType.DT_DOUBLE);

  private ScoreNodes() {}

  /** The refs to import for the outputs, and one line per output that was moved. */
  record Choice(List<TfRef> refs, List<String> notes) {}

  static Choice differentiable(List<String> keys, List<TfRef> outputs) {
    List<TfRef> refs = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    for (int i = 0; i < outputs.size(); i++) {
      TfRef r = outputs.get(i);
      TfRef first = r;
      while (!differentiable(r)) {
        TfRef next = dataInput(r.node());
        if (next == null) {
          throw ImportException.atNode(
              first.node().path,
              first.node().function,
              "output '"
                  + keys.get(i)
                  + "' ("
                  + first.node().op
                  + ") has no gradient and no differentiable input to score instead");
        }
        r = next;
      }
      if (r != first) {
        notes.add(
            "output '"
                + keys.get(i)
                + "' is "
                + first.node().op
                + " '"
                + first.node().path
                + "', which has no gradient: scoring on its nearest differentiable ancestor '"
                + r.node().path
                + "' ("
                + r.node().op
                + ")");
      }
      refs.add(r);
    }
    return new Choice(refs, notes);
  }

  /**
   * False for an op without gradient, a Cast to a non-float type, and an integer op (a Reshape or
   * Squeeze of the classes) that reads such a value; an integer model computing from its integer
   * inputs is left as it is.
   */
  private static boolean differentiable(TfRef r) {
    TfNode n = r.node();
    if (NO_GRADIENT.contains(n.op)) {
      return false;
    }
    DataType t = outputType(n);
    if (t == null || DIFFERENTIABLE_TYPES.contains(t)) {
      return true;
    }
    if (n.op.equals("Cast")) {
      return false;
    }
    for (TfRef in : n.inputs) {
      if (!differentiable(in)) {
        return false;
      }
    }
    return true;
  }

  private static DataType outputType(TfNode n) {
    for (String a : DTYPE_ATTRS) {
      AttrValue v = n.attr(a);
      if (v != null && v.hasType()) {
        return SignatureProtos.baseType(v.getType());
      }
    }
    return null;
  }

  /** The input a non-differentiable node computes from: its first input that is not a Const. */
  private static TfRef dataInput(TfNode n) {
    for (TfRef in : n.inputs) {
      if (!in.node().op.equals("Const")) {
        return in;
      }
    }
    return null;
  }
}
