package dev.segcam.savedmodel;

import dev.segcam.SegcamException;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Padding;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;

/**
 * Maps the flattened TensorFlow graph onto IR ops. Weights (Const, variables) and shape
 * computations (Shape → StridedSlice → Pack → Reshape …) are evaluated at import time; what stays
 * is a graph of activations.
 */
final class Converter {
  /** What a TensorFlow tensor became: an IR activation, a constant, or a variable handle. */
  private sealed interface Val permits Act, ConstVal, Res, Missing {}

  private record Act(String node) implements Val {}

  private record ConstVal(Cst c) implements Val {}

  private record Res(TfNode handle) implements Val {}

  /** A node that could not be converted (an unsupported op, or one that reads such a node). */
  private record Missing() implements Val {}

  private static final Missing MISSING = new Missing();

  /** Thrown when a node reads a {@link Missing} value: it is skipped without a message. */
  private static final class Blocked extends RuntimeException {
    Blocked() {
      super(null, null, false, false);
    }
  }

  /** Unsupported op type -> its nodes (in graph order): reported all at once. */
  private final Map<String, List<TfNode>> gaps = new LinkedHashMap<>();

  private static final double UNKNOWN = Double.NaN;

  private final Graph.Builder b = Graph.builder();
  private final Map<TfNode, Val> vals = new HashMap<>();
  private final Map<TfNode, String> inputNodes;
  private final Map<String, String> unusableInputs;
  private final Function<TfNode, String> variableKey;
  private final Function<String, FloatTensor> readVariable;
  private final Set<String> used = new HashSet<>();

  /** The needed nodes that read each node, for patterns that span several nodes. */
  private final Map<TfNode, List<TfNode>> consumers = new HashMap<>();

  private TfNode current;

  /**
   * @param inputNodes placeholder node → name of the IR input it feeds (already added to b)
   * @param variableKey resource/ref variable node → checkpoint key
   * @param readVariable checkpoint key → value
   */
  Converter(
      Map<TfNode, String> inputNodes,
      Map<String, String> unusableInputs,
      Function<TfNode, String> variableKey,
      Function<String, FloatTensor> readVariable) {
    this.inputNodes = inputNodes;
    this.unusableInputs = unusableInputs;
    this.variableKey = variableKey;
    this.readVariable = readVariable;
  }

  Graph.Builder builder() {
    return b;
  }

  void addInput(String name, Shape shape) {
    used.add(name);
    b.add(name, new Op.Input(shape), List.of());
  }

  /** Converts everything the outputs depend on; returns the IR node of each output. */
  List<String> convert(List<TfRef> outputs) {
    // Conversion goes on past an unsupported op (its dependents are skipped) so that one error can
    // list every gap; other errors are reported after them (the first one alone if no op is
    // missing).
    ImportException firstError = null;
    List<TfNode> order = needed(outputs);
    for (TfNode n : order) {
      for (TfRef r : n.inputs) {
        consumers.computeIfAbsent(r.node(), k -> new ArrayList<>()).add(n);
      }
    }
    for (TfNode n : order) {
      current = n;
      try {
        vals.put(n, convertOne(n));
      } catch (Blocked e) {
        if (!handles(n)) {
          unsupported(n.op);
        }
        vals.put(n, MISSING);
      } catch (ImportException e) {
        if (firstError == null) {
          firstError = e;
        }
        vals.put(n, MISSING);
      }
    }
    if (!gaps.isEmpty()) {
      List<UnsupportedOpsException.Gap> list = new ArrayList<>();
      for (Map.Entry<String, List<TfNode>> e : gaps.entrySet()) {
        TfNode first = e.getValue().get(0);
        list.add(
            new UnsupportedOpsException.Gap(
                e.getKey(), e.getValue().size(), first.path, first.function));
      }
      throw new UnsupportedOpsException(list, firstError, null);
    }
    if (firstError != null) {
      throw firstError;
    }
    List<String> out = new ArrayList<>();
    for (TfRef r : outputs) {
      current = r.node();
      out.add(act(r));
    }
    return out;
  }

  private Val convertOne(TfNode n) {
    try {
      return convertNode(n);
    } catch (ImportException | Blocked e) {
      throw e;
    } catch (ShapeException e) {
      throw error(e.getMessage());
    } catch (SegcamException | IllegalArgumentException | ArithmeticException e) {
      throw error(e.getMessage());
    } catch (IndexOutOfBoundsException | IllegalStateException e) {
      // A malformed node (too few inputs for its op, an empty constant where a value is due).
      throw error("malformed node: " + e);
    }
  }

  /** Records {@code current} as a node whose op has no conversion; its dependents are skipped. */
  private Val unsupported(String op) {
    if (probing) {
      throw new Blocked();
    }
    gaps.computeIfAbsent(op, k -> new ArrayList<>()).add(current);
    return MISSING;
  }

  private boolean probing;
  private final Map<String, Boolean> handled = new HashMap<>();

  /**
   * Whether the converter has a conversion for the op of {@code n}, a node that reads an
   * unconvertible value (so that an unsupported op behind another one is listed too). Asks
   * convertNode about a copy of the node without inputs: only an op without a conversion reaches
   * {@link #unsupported}; any other op stops at its first input or attribute.
   */
  private boolean handles(TfNode n) {
    // a foldable op (Pack, FloorDiv...) stops only because an input could not be converted
    return ConstFolding.canFold(n.op)
        || handled.computeIfAbsent(
            n.op,
            op -> {
              TfNode saved = current;
              current = new TfNode(n.path, n.def, n.function, List.of(), n.order);
              probing = true;
              try {
                convertNode(current);
                return true;
              } catch (Blocked e) {
                return false;
              } catch (RuntimeException e) {
                return true;
              } finally {
                probing = false;
                current = saved;
              }
            });
  }

  /** Ancestors of the outputs, in the flattener's (topological) order. */
  private static List<TfNode> needed(List<TfRef> outputs) {
    Set<TfNode> seen = new HashSet<>();
    Deque<TfNode> todo = new ArrayDeque<>();
    for (TfRef r : outputs) {
      if (seen.add(r.node())) {
        todo.push(r.node());
      }
    }
    while (!todo.isEmpty()) {
      TfNode n = todo.pop();
      for (TfRef r : n.inputs) {
        if (seen.add(r.node())) {
          todo.push(r.node());
        }
      }
    }
    List<TfNode> list = new ArrayList<>(seen);
    list.sort((x, y) -> Integer.compare(x.order, y.order));
    return list;
  }

  private ImportException error(String msg) {
    String m = msg.contains(current.op) ? msg : msg + " [op " + current.op + "]";
    return new ImportException(m, null, current.path, current.function);
  }

  // ---------------------------------------------------------------- value access

  private Val val(TfRef r) {
    Val v = vals.get(r.node());
    if (v instanceof Missing) {
      throw new Blocked();
    }
    if (v == null) {
      throw error("input " + r.node().path + " was not converted");
    }
    if (r.output() != 0) {
      throw error(
          "reads output "
              + r.output()
              + " of "
              + r.node().path
              + " ("
              + r.node().op
              + "); only the first output is supported");
    }
    return v;
  }

  private Val in(int i) {
    if (i >= current.inputs.size()) {
      throw error("expects at least " + (i + 1) + " inputs, has " + current.inputs.size());
    }
    return val(current.inputs.get(i));
  }

  private Cst cst(int i, String what) {
    Val v = in(i);
    if (v instanceof ConstVal c) {
      return c.c();
    }
    throw error(what + " (input " + i + ") must be a constant known at import time");
  }

  /** The input as an IR node name; constants become Op.Const nodes. */
  private String act(int i) {
    return act(current.inputs.get(i));
  }

  private String act(TfRef r) {
    Val v = val(r);
    if (v instanceof Act a) {
      return a.node();
    }
    if (v instanceof ConstVal c) {
      return add(current.path + "/const", new Op.Const(c.c().tensor()));
    }
    throw error("a variable handle is used as a tensor");
  }

  private Shape shapeOf(String irNode) {
    return b.get(irNode).shape();
  }

  private String add(String name, Op op, String... inputs) {
    String n = unique(name);
    b.add(n, op, List.of(inputs));
    return n;
  }

  private String unique(String name) {
    String n = name;
    for (int k = 1; !used.add(n); k++) {
      n = name + "_" + k;
    }
    return n;
  }

  private Val emit(Op op, String... inputs) {
    return new Act(add(current.path, op, inputs));
  }

  // ---------------------------------------------------------------- attrs

  private AttrValue attr(String key) {
    return current.attr(key);
  }

  private String attrS(String key, String def) {
    AttrValue a = attr(key);
    return a == null ? def : a.getS().toStringUtf8();
  }

  private boolean attrB(String key, boolean def) {
    AttrValue a = attr(key);
    return a == null ? def : a.getB();
  }

  private float attrF(String key, float def) {
    AttrValue a = attr(key);
    return a == null ? def : a.getF();
  }

  private int[] attrInts(String key, int[] def) {
    AttrValue a = attr(key);
    if (a == null || !a.hasList()) {
      return def;
    }
    int[] out = new int[a.getList().getICount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = Math.toIntExact(a.getList().getI(i));
    }
    return out;
  }

  private int[] nhwc4(int[] v, String what) {
    if (v.length != 4 || v[0] != 1 || v[3] != 1 || v[1] < 1 || v[2] < 1) {
      throw error(what + " " + Arrays.toString(v) + " must be [1, h, w, 1]");
    }
    return v;
  }

  private void requireNhwc() {
    String f = attrS("data_format", "NHWC");
    if (!f.equals("NHWC")) {
      throw error("data_format " + f + " is not supported (only NHWC)");
    }
  }

  private Padding padding() {
    String p = attrS("padding", "VALID");
    if (p.equals("SAME")) {
      return Padding.SAME;
    }
    if (p.equals("VALID")) {
      return Padding.VALID;
    }
    throw error("padding " + p + " is not supported (only SAME and VALID)");
  }

  private DataType attrType(String key) {
    AttrValue a = attr(key);
    return a == null ? DataType.DT_FLOAT : a.getType();
  }

  // ---------------------------------------------------------------- ops

  private Val convertNode(TfNode n) {
    String op = n.op;
    switch (op) {
      case "Placeholder":
      case "PlaceholderWithDefault":
        {
          String name = inputNodes.get(n);
          if (name != null) {
            return new Act(name);
          }
          if (n.function == null && unusableInputs.containsKey(n.path)) {
            throw error(unusableInputs.get(n.path) + "; only inputs of known rank are supported");
          }
          if (op.equals("PlaceholderWithDefault")) {
            return in(0);
          }
          throw error("placeholder is not an input of the chosen signature");
        }
      case "Const":
        {
          AttrValue v = attr("value");
          if (v == null || !v.hasTensor()) {
            throw error("Const without a value");
          }
          return new ConstVal(TensorProtos.decode(v.getTensor()));
        }
      case "VariableV2":
      case "Variable":
        return new ConstVal(Cst.of(readVariable.apply(variableKey.apply(n))));
      case "VarHandleOp":
        return new Res(n);
      case "ReadVariableOp":
        {
          Val h = in(0);
          if (h instanceof Res r) {
            return new ConstVal(Cst.of(readVariable.apply(variableKey.apply(r.handle()))));
          }
          throw error("reads a resource that is not a variable handle");
        }
      case "Cast":
        return cast();
      case "Shape":
        {
          Val v = in(0);
          int[] s;
          if (v instanceof Act a) {
            s = shapeOf(a.node()).dims();
          } else if (v instanceof ConstVal c) {
            s = c.c().shape;
          } else {
            throw error("Shape of a resource");
          }
          double[] d = new double[s.length];
          for (int i = 0; i < s.length; i++) {
            d[i] = s[i] < 0 ? UNKNOWN : s[i];
          }
          return new ConstVal(Cst.ints(new int[] {s.length}, d));
        }
      default:
        break;
    }
    if (allConst() && ConstFolding.canFold(op)) {
      List<Cst> cs = new ArrayList<>();
      for (TfRef r : n.inputs) {
        cs.add(((ConstVal) val(r)).c());
      }
      return new ConstVal(ConstFolding.fold(n, cs));
    }
    switch (op) {
      case "Conv2D":
        return conv2d();
      case "DepthwiseConv2dNative":
        return depthwise();
      case "Conv2DBackpropInput":
        return convTranspose();
      case "BiasAdd":
        {
          requireNhwc();
          return emit(new Op.BiasAdd(rank1(cst(1, "bias"))), act(0));
        }
      case "Relu":
        return emit(new Op.Activation(Op.ActivationKind.RELU, 0f), act(0));
      case "Relu6":
        return emit(new Op.Activation(Op.ActivationKind.RELU6, 0f), act(0));
      case "LeakyRelu":
        return emit(new Op.Activation(Op.ActivationKind.LEAKY_RELU, attrF("alpha", 0.2f)), act(0));
      case "Elu":
        return emit(new Op.Activation(Op.ActivationKind.ELU, 0f), act(0));
      case "Sigmoid":
        return emit(new Op.Activation(Op.ActivationKind.SIGMOID, 0f), act(0));
      case "Tanh":
        return emit(new Op.Activation(Op.ActivationKind.TANH, 0f), act(0));
      case "Softmax":
        return emit(new Op.Softmax(), act(0));
      case "Exp":
        return emit(new Op.Exp(), act(0));
      case "MaxPool":
      case "AvgPool":
      case "MaxPoolV2":
        return pool();
      case "Mean":
        return mean();
      case "Sum":
        return reduce(Op.ReduceKind.SUM);
      case "ResizeBilinear":
      case "ResizeNearestNeighbor":
        return resize();
      case "ConcatV2":
        return concat();
      case "AddV2":
      case "Add":
        return binary(Op.BinaryKind.ADD);
      case "Sub":
        return binary(Op.BinaryKind.SUB);
      case "Mul":
        return binary(Op.BinaryKind.MUL);
      case "RealDiv":
        return binary(Op.BinaryKind.DIV);
      case "Pad":
      case "PadV2":
        return pad();
      case "MirrorPad":
        return mirrorPad();
      case "DepthToSpace":
        return depthToSpace();
      case "SpaceToBatchND":
        return spaceToBatch();
      case "BatchToSpaceND":
        return batchToSpace();
      case "FusedBatchNorm":
      case "FusedBatchNormV2":
      case "FusedBatchNormV3":
        return batchNorm();
      case "MatMul":
        return matmul();
      case "Reshape":
        {
          String x = act(0);
          return emit(new Op.Reshape(reshapeTarget(shapeOf(x), cst(1, "shape"))), x);
        }
      case "Squeeze":
        return squeeze();
      case "ExpandDims":
        return expandDims();
      case "StridedSlice":
      case "Slice":
        return slice(op);
      case "Transpose":
        {
          String x = act(0);
          try {
            return emit(SliceConversions.transpose(shapeOf(x).rank(), ints(cst(1, "perm"))), x);
          } catch (IllegalArgumentException e) {
            throw error("Transpose on " + shapeOf(x) + ": " + e.getMessage());
          }
        }
      default:
        return elementwise(op);
    }
  }

  /** The ops of {@link ElementwiseConversions}, or the unsupported-op error. */
  private Val elementwise(String op) {
    Op.UnaryKind u = ElementwiseConversions.UNARY.get(op);
    if (u != null) {
      return emit(new Op.Unary(u, 0f), act(0));
    }
    Op.BinaryKind k = ElementwiseConversions.BINARY.get(op);
    if (k != null) {
      return binary(k);
    }
    Boolean prevent = ElementwiseConversions.GRADIENT_BLOCKS.get(op);
    if (prevent != null) {
      return in(0) instanceof ConstVal c ? c : emit(new Op.StopGradient(prevent), act(0));
    }
    if (op.equals("Select") || op.equals("SelectV2")) {
      return select(op.equals("Select"));
    }
    if (op.equals("Pow")) {
      String x = act(0);
      Cst e = cst(1, "exponent");
      Float p = ElementwiseConversions.constantExponent(e);
      if (p == null || e.rank() > shapeOf(x).rank()) {
        throw error("Pow needs one constant exponent, got shape " + Arrays.toString(e.shape));
      }
      return emit(new Op.Unary(Op.UnaryKind.POW, p), x);
    }
    return unsupported(op);
  }

  /**
   * Select/SelectV2 with a constant condition: then·mask + else·(1 − mask), whose gradients are
   * TensorFlow's where(c, dy, 0) and where(c, 0, dy) (see {@link ElementwiseConversions#masks}).
   */
  private Val select(boolean v1) {
    Cst cond = cst(0, "condition");
    String a = act(1);
    String b = act(2);
    if (v1 && cond.rank() != 0 && cond.rank() != shapeOf(a).rank()) {
      throw error("Select with a condition of rank " + cond.rank() + " is not supported");
    }
    FloatTensor[] m = ElementwiseConversions.masks(cond);
    String ma = add(current.path + "/mask", new Op.Const(m[0]));
    String mb = add(current.path + "/not_mask", new Op.Const(m[1]));
    String pa = add(current.path + "/then", new Op.Binary(Op.BinaryKind.MUL), a, ma);
    String pb = add(current.path + "/else", new Op.Binary(Op.BinaryKind.MUL), b, mb);
    return emit(new Op.Binary(Op.BinaryKind.ADD), pa, pb);
  }

  private boolean allConst() {
    if (current.inputs.isEmpty()) {
      return false;
    }
    for (TfRef r : current.inputs) {
      if (!(val(r) instanceof ConstVal)) {
        return false;
      }
    }
    return true;
  }

  private Val cast() {
    DataType to = attrType("DstT");
    Val v = in(0);
    if (v instanceof ConstVal c) {
      return new ConstVal(ConstFolding.cast(c.c(), to));
    }
    if (v instanceof Act && TensorProtos.isFloat(to)) {
      // The IR computes in float32 throughout; a cast between float types is an identity here.
      return v;
    }
    throw error("Cast of an activation to " + to + " is not supported (only to float types)");
  }

  private FloatTensor rank1(Cst c) {
    if (c.rank() != 1) {
      throw error("expects a 1-D constant, got shape " + Arrays.toString(c.shape));
    }
    return c.tensor();
  }

  private FloatTensor rank4(Cst c, String what) {
    if (c.rank() != 4) {
      throw error(what + " must have rank 4, got shape " + Arrays.toString(c.shape));
    }
    return c.tensor();
  }

  private Val conv2d() {
    requireNhwc();
    String x = act(0);
    FloatTensor f = rank4(cst(1, "filter"), "filter");
    int[] s = nhwc4(attrInts("strides", new int[] {1, 1, 1, 1}), "strides");
    int[] d = dilations();
    return emit(new Op.Conv2D(f, null, s[1], s[2], d[1], d[2], padding()), x);
  }

  private Val depthwise() {
    requireNhwc();
    String x = act(0);
    FloatTensor f = rank4(cst(1, "filter"), "filter");
    int[] s = nhwc4(attrInts("strides", new int[] {1, 1, 1, 1}), "strides");
    int[] d = dilations();
    return emit(new Op.DepthwiseConv2D(f, null, s[1], s[2], d[1], d[2], padding()), x);
  }

  /**
   * A conv's dilations: its attribute, or the block of the SpaceToBatchND it reads (tf.nn's
   * dilated-conv pattern, DilationConversions; the pattern has the attribute at 1).
   */
  private int[] dilations() {
    int[] d = nhwc4(attrInts("dilations", new int[] {1, 1, 1, 1}), "dilations");
    TfNode src = current.inputs.isEmpty() ? null : current.inputs.get(0).node();
    if (src == null || !src.op.equals("SpaceToBatchND")) {
      return d;
    }
    int[] block = DilationConversions.block(constOf(src.inputs.get(1), "block_shape"));
    return new int[] {1, block[0] * d[1], block[1] * d[2], 1};
  }

  /** SpaceToBatchND of the dilated-conv pattern: the padding (DilationConversions). */
  private Val spaceToBatch() {
    String x = act(0);
    DilationConversions.block(cst(1, "block_shape"));
    int[] pads = DilationConversions.spatial(cst(2, "paddings"), "paddings");
    if (shapeOf(x).rank() != 4) {
      throw error("SpaceToBatchND of a rank-" + shapeOf(x).rank() + " tensor (only NHWC)");
    }
    for (TfNode c : consumers.getOrDefault(current, List.of())) {
      String why = DilationConversions.notPattern(c, consumers.getOrDefault(c, List.of()));
      if (why != null) {
        throw error(
            "SpaceToBatchND is supported as tf.nn's dilated convolution (SpaceToBatchND → VALID"
                + " stride-1 Conv2D/DepthwiseConv2dNative → BatchToSpaceND) only: "
                + why);
      }
    }
    return Arrays.stream(pads).allMatch(v -> v == 0)
        ? new Act(x)
        : emit(DilationConversions.pad(pads), x);
  }

  /** BatchToSpaceND of the dilated-conv pattern: the crop (DilationConversions). */
  private Val batchToSpace() {
    TfNode conv = current.inputs.get(0).node();
    TfNode s2b = conv.inputs.isEmpty() ? null : conv.inputs.get(0).node();
    if (!DilationConversions.CONVS.contains(conv.op)
        || s2b == null
        || !s2b.op.equals("SpaceToBatchND")) {
      throw error(
          "BatchToSpaceND is supported only after SpaceToBatchND → conv (tf.nn's dilated"
              + " convolution), here it reads "
              + conv.path
              + " ("
              + conv.op
              + ")");
    }
    int[] block = DilationConversions.block(cst(1, "block_shape"));
    int[] inner = DilationConversions.block(constOf(s2b.inputs.get(1), "block_shape"));
    if (!Arrays.equals(block, inner)) {
      throw error(
          "BatchToSpaceND block "
              + Arrays.toString(block)
              + " differs from its SpaceToBatchND's "
              + Arrays.toString(inner));
    }
    int[] crops = DilationConversions.spatial(cst(2, "crops"), "crops");
    String z = act(0);
    return Arrays.stream(crops).allMatch(v -> v == 0)
        ? new Act(z)
        : emit(DilationConversions.crop(crops), z);
  }

  /** The constant another node reads (its input r). */
  private Cst constOf(TfRef r, String what) {
    if (val(r) instanceof ConstVal c) {
      return c.c();
    }
    throw error(what + " of " + r.node().path + " must be a constant known at import time");
  }

  private Val convTranspose() {
    requireNhwc();
    Cst sizes = cst(0, "input_sizes");
    FloatTensor f = rank4(cst(1, "filter"), "filter");
    String x = act(2);
    int[] s = nhwc4(attrInts("strides", new int[] {1, 1, 1, 1}), "strides");
    int[] d = nhwc4(attrInts("dilations", new int[] {1, 1, 1, 1}), "dilations");
    if (d[1] != 1 || d[2] != 1) {
      throw error("dilated transposed convolution is not supported");
    }
    if (sizes.size() != 4) {
      throw error("input_sizes must have 4 values, got " + sizes);
    }
    int oh = Double.isNaN(sizes.get(1)) ? -1 : (int) sizes.get(1);
    int ow = Double.isNaN(sizes.get(2)) ? -1 : (int) sizes.get(2);
    return emit(new Op.Conv2DTranspose(f, null, s[1], s[2], padding(), oh, ow), x);
  }

  private Val pool() {
    requireNhwc();
    String x = act(0);
    int[] k;
    int[] s;
    if (current.op.equals("MaxPoolV2")) {
      k = ints(cst(1, "ksize"));
      s = ints(cst(2, "strides"));
    } else {
      k = attrInts("ksize", new int[0]);
      s = attrInts("strides", new int[0]);
    }
    nhwc4(k, "ksize");
    nhwc4(s, "strides");
    Op.PoolKind kind = current.op.equals("AvgPool") ? Op.PoolKind.AVG : Op.PoolKind.MAX;
    return emit(new Op.Pool(kind, k[1], k[2], s[1], s[2], padding()), x);
  }

  private int[] ints(Cst c) {
    int[] out = new int[c.size()];
    for (int i = 0; i < out.length; i++) {
      double v = c.get(i);
      if (Double.isNaN(v)) {
        throw error("value " + c + " depends on a size known only at run time");
      }
      out[i] = (int) v;
    }
    return out;
  }

  private Val mean() {
    String x = act(0);
    int rank = shapeOf(x).rank();
    int[] axes = ints(cst(1, "axes"));
    Set<Integer> set = new HashSet<>();
    for (int a : axes) {
      set.add(a < 0 ? a + rank : a);
    }
    if (rank == 4 && set.equals(Set.of(1, 2))) {
      return emit(new Op.SpatialMean(attrB("keep_dims", false)), x);
    }
    return reduce(Op.ReduceKind.MEAN);
  }

  /** Sum / Mean over any axes but the batch (SliceConversions.reduce). */
  private Val reduce(Op.ReduceKind kind) {
    String x = act(0);
    Shape xs = shapeOf(x);
    try {
      return emit(
          SliceConversions.reduce(kind, xs.rank(), ints(cst(1, "axes")), attrB("keep_dims", false)),
          x);
    } catch (IllegalArgumentException e) {
      throw error(kind.tfName + " on " + xs + ": " + e.getMessage());
    }
  }

  private Val resize() {
    String x = act(0);
    int[] size = ints(cst(1, "size"));
    if (size.length != 2) {
      throw error("size must hold 2 values, got " + Arrays.toString(size));
    }
    Op.ResizeMode mode =
        current.op.equals("ResizeBilinear") ? Op.ResizeMode.BILINEAR : Op.ResizeMode.NEAREST;
    return emit(
        new Op.Resize(
            mode,
            size[0],
            size[1],
            attrB("align_corners", false),
            attrB("half_pixel_centers", false)),
        x);
  }

  private Val concat() {
    int n = current.inputs.size() - 1;
    int axis = ints(cst(n, "axis"))[0];
    List<String> xs = new ArrayList<>();
    int rank = -1;
    for (int i = 0; i < n; i++) {
      if (in(i) instanceof Act a) {
        rank = shapeOf(a.node()).rank();
      }
    }
    for (int i = 0; i < n; i++) {
      xs.add(act(i));
    }
    if (rank < 0) {
      rank = shapeOf(xs.get(0)).rank();
    }
    int ax = axis < 0 ? axis + rank : axis;
    if (ax == 0) {
      throw error("concatenation along the batch axis is not supported");
    }
    return emit(new Op.Concat(ax), xs.toArray(new String[0]));
  }

  /** StridedSlice / Slice of an activation (SliceConversions). */
  private Val slice(String op) {
    String x = act(0);
    int rank = shapeOf(x).rank();
    try {
      Op.StridedSlice s =
          op.equals("Slice")
              ? SliceConversions.slice(rank, ints(cst(1, "begin")), ints(cst(2, "size")))
              : SliceConversions.stridedSlice(
                  rank,
                  ints(cst(1, "begin")),
                  ints(cst(2, "end")),
                  ints(cst(3, "strides")),
                  attrI("begin_mask"),
                  attrI("end_mask"),
                  attrI("ellipsis_mask"),
                  attrI("new_axis_mask"),
                  attrI("shrink_axis_mask"));
      return emit(s, x);
    } catch (IllegalArgumentException e) {
      throw error(op + " on " + shapeOf(x) + ": " + e.getMessage());
    }
  }

  private int attrI(String key) {
    AttrValue a = attr(key);
    return a == null ? 0 : Math.toIntExact(a.getI());
  }

  private Val binary(Op.BinaryKind kind) {
    return emit(new Op.Binary(kind), act(0), act(1));
  }

  private Val pad() {
    String x = act(0);
    Cst p = cst(1, "paddings");
    int rank = shapeOf(x).rank();
    if (p.rank() != 2 || p.shape[0] != rank || p.shape[1] != 2) {
      throw error("paddings of shape " + Arrays.toString(p.shape) + " for rank " + rank);
    }
    int[] v = ints(p);
    if (v[0] != 0 || v[1] != 0) {
      throw error("padding the batch axis is not supported");
    }
    List<int[]> list = new ArrayList<>();
    for (int i = 0; i < rank; i++) {
      if (v[2 * i] < 0 || v[2 * i + 1] < 0) {
        throw error("negative padding " + Arrays.toString(v));
      }
      list.add(new int[] {v[2 * i], v[2 * i + 1]});
    }
    float value = 0f;
    if (current.op.equals("PadV2")) {
      Cst c = cst(2, "constant_values");
      if (c.size() != 1) {
        throw error("constant_values must be a scalar");
      }
      value = (float) c.get(0);
    }
    return emit(new Op.Pad(list, value), x);
  }

  /** DepthToSpace as Reshape → Transpose → Reshape (LayoutConversions). */
  private Val depthToSpace() {
    String x = act(0);
    AttrValue block = attr("block_size");
    List<Op> ops =
        LayoutConversions.depthToSpace(
            shapeOf(x).dims(),
            block == null ? 0 : Math.toIntExact(block.getI()),
            attrS("data_format", "NHWC"));
    for (int k = 0; k < ops.size(); k++) {
      x = add(k == ops.size() - 1 ? current.path : current.path + "/step", ops.get(k), x);
    }
    return new Act(x);
  }

  /** MirrorPad as concats of the input with its reversed slices (LayoutConversions). */
  private Val mirrorPad() {
    String x = act(0);
    List<LayoutConversions.MirrorStep> steps =
        LayoutConversions.mirrorPad(shapeOf(x).dims(), ints(cst(1, "paddings")), attrS("mode", ""));
    for (int k = 0; k < steps.size(); k++) {
      List<String> parts = new ArrayList<>();
      for (Op.StridedSlice p : steps.get(k).parts()) {
        parts.add(p == null ? x : add(current.path + "/mirror", p, x));
      }
      String name = k == steps.size() - 1 ? current.path : current.path + "/concat";
      x = add(name, new Op.Concat(steps.get(k).axis()), parts.toArray(String[]::new));
    }
    return new Act(x);
  }

  private Val batchNorm() {
    requireNhwc();
    if (attrB("is_training", true)) {
      throw error("batch norm in training mode (is_training=true) is not supported");
    }
    String x = act(0);
    float[] gamma = rank1(cst(1, "scale")).data();
    float[] beta = rank1(cst(2, "offset")).data();
    float[] mean = rank1(cst(3, "mean")).data();
    float[] var = rank1(cst(4, "variance")).data();
    int c = gamma.length;
    if (beta.length != c || mean.length != c || var.length != c) {
      throw error("batch-norm parameters differ in length");
    }
    float eps = attrF("epsilon", 1e-3f);
    float[] scale = new float[c];
    float[] offset = new float[c];
    for (int i = 0; i < c; i++) {
      scale[i] = (float) (gamma[i] / Math.sqrt((double) var[i] + eps));
      offset[i] = beta[i] - mean[i] * scale[i];
    }
    return emit(
        new Op.BatchNorm(new FloatTensor(Shape.of(c), scale), new FloatTensor(Shape.of(c), offset)),
        x);
  }

  private Val matmul() {
    if (attrB("transpose_a", false)) {
      throw error("transpose_a is not supported");
    }
    if (!(in(0) instanceof Act)) {
      throw error("the activation must be the first operand of MatMul");
    }
    String x = act(0);
    Cst w = cst(1, "weights");
    if (w.rank() != 2) {
      throw error("weights must be 2-D, got " + Arrays.toString(w.shape));
    }
    FloatTensor t = w.tensor();
    if (attrB("transpose_b", false)) {
      int r = w.shape[0];
      int c = w.shape[1];
      float[] src = t.data();
      float[] dst = new float[src.length];
      for (int i = 0; i < r; i++) {
        for (int j = 0; j < c; j++) {
          dst[j * r + i] = src[i * c + j];
        }
      }
      t = new FloatTensor(Shape.of(c, r), dst);
    }
    return emit(new Op.MatMul(t, null), x);
  }

  /** Target (without batch) of a Reshape whose first dimension must be the batch. */
  private Shape reshapeTarget(Shape x, Cst shape) {
    if (shape.rank() != 1 || shape.size() < 1) {
      throw error("shape must be a non-empty vector, got " + shape);
    }
    double first = shape.get(0);
    int batch = x.dim(0);
    boolean batchOk =
        Double.isNaN(first) || first == -1 || batch == Shape.UNKNOWN || first == batch;
    int[] t = new int[shape.size() - 1];
    for (int i = 0; i < t.length; i++) {
      double v = shape.get(i + 1);
      if (Double.isNaN(v)) {
        throw error(
            "reshape target " + shape + " depends on a size known only at run time; cannot fold");
      }
      t[i] = (int) v;
    }
    if (!batchOk) {
      throw error("reshape to " + shape + " changes the batch dimension of " + x);
    }
    if (first == -1 && Arrays.stream(t).anyMatch(v -> v == -1)) {
      throw error("reshape target " + shape + " has more than one -1");
    }
    return Shape.of(t);
  }

  private Val squeeze() {
    String x = act(0);
    Shape s = shapeOf(x);
    int[] axes = attrInts("squeeze_dims", new int[0]);
    Set<Integer> drop = new HashSet<>();
    for (int a : axes) {
      drop.add(a < 0 ? a + s.rank() : a);
    }
    if (axes.length == 0) {
      for (int i = 1; i < s.rank(); i++) {
        if (s.dim(i) == 1) {
          drop.add(i);
        } else if (s.dim(i) == Shape.UNKNOWN) {
          throw error("Squeeze of all unit dims needs known dims, input is " + s);
        }
      }
    }
    if (drop.contains(0)) {
      throw error("squeezing the batch axis is not supported");
    }
    List<Integer> t = new ArrayList<>();
    for (int i = 1; i < s.rank(); i++) {
      if (!drop.contains(i)) {
        t.add(s.dim(i));
      } else if (s.dim(i) != 1 && s.dim(i) != Shape.UNKNOWN) {
        throw error("cannot squeeze dimension " + i + " of " + s);
      }
    }
    return emit(new Op.Reshape(target(t, s)), x);
  }

  private Val expandDims() {
    String x = act(0);
    Shape s = shapeOf(x);
    int axis = ints(cst(1, "axis"))[0];
    int ax = axis < 0 ? axis + s.rank() + 1 : axis;
    if (ax <= 0 || ax > s.rank()) {
      throw error("ExpandDims axis " + axis + " on " + s + " is not supported");
    }
    List<Integer> t = new ArrayList<>();
    for (int i = 1; i < s.rank(); i++) {
      t.add(s.dim(i));
    }
    t.add(ax - 1, 1);
    return emit(new Op.Reshape(target(t, s)), x);
  }

  private Shape target(List<Integer> t, Shape from) {
    long unknown = t.stream().filter(v -> v == Shape.UNKNOWN).count();
    if (unknown > 1) {
      throw error(
          "cannot express this reshape of "
              + from
              + " with a static target (several unknown dims)");
    }
    return Shape.of(t.stream().mapToInt(Integer::intValue).toArray());
  }

  /** Raw IR node computing each converted flat node's (first) output. */
  Map<TfNode, String> activations() {
    Map<TfNode, String> m = new HashMap<>();
    for (Map.Entry<TfNode, Val> e : vals.entrySet()) {
      if (e.getValue() instanceof Act a) {
        m.put(e.getKey(), a.node());
      }
    }
    return m;
  }
}
