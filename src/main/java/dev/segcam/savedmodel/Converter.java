package dev.segcam.savedmodel;

import dev.segcam.SegcamException;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import java.util.ArrayDeque;
import java.util.ArrayList;
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
  sealed interface Val permits Act, ConstVal, Res, Missing, Multi {}

  record Act(String node) implements Val {}

  record ConstVal(Cst c) implements Val {}

  private record Res(TfNode handle) implements Val {}

  /** The outputs of a node with several (Unpack, Split): {@code node:k} reads outs[k]. */
  record Multi(List<Val> outs) implements Val {}

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

  /** The node being converted. */
  TfNode current() {
    return current;
  }

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

  /** The needed nodes that read {@code n}. */
  List<TfNode> consumersOf(TfNode n) {
    return consumers.getOrDefault(n, List.of());
  }

  /** The constant another node reads (its input r). */
  Cst constOf(TfRef r, String what) {
    if (val(r) instanceof ConstVal c) {
      return c.c();
    }
    throw error(what + " of " + r.node().path + " must be a constant known at import time");
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

  ImportException error(String msg) {
    String m = msg.contains(current.op) ? msg : msg + " [op " + current.op + "]";
    return new ImportException(m, null, current.path, current.function);
  }

  // ---------------------------------------------------------------- value access

  Val val(TfRef r) {
    Val v = vals.get(r.node());
    if (v instanceof Missing) {
      throw new Blocked();
    }
    if (v == null) {
      throw error("input " + r.node().path + " was not converted");
    }
    if (v instanceof Multi m) {
      if (r.output() >= m.outs().size()) {
        throw error("reads output " + r.output() + " of " + r.node().path + ", which has fewer");
      }
      return m.outs().get(r.output());
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

  Val in(int i) {
    if (i >= current.inputs.size()) {
      throw error("expects at least " + (i + 1) + " inputs, has " + current.inputs.size());
    }
    return val(current.inputs.get(i));
  }

  Cst cst(int i, String what) {
    Val v = in(i);
    if (v instanceof ConstVal c) {
      return c.c();
    }
    throw error(what + " (input " + i + ") must be a constant known at import time");
  }

  /** The input as an IR node name; constants become Op.Const nodes. */
  String act(int i) {
    return act(current.inputs.get(i));
  }

  String act(TfRef r) {
    Val v = val(r);
    if (v instanceof Act a) {
      return a.node();
    }
    if (v instanceof ConstVal c) {
      return add(current.path + "/const", new Op.Const(c.c().tensor()));
    }
    throw error("a variable handle is used as a tensor");
  }

  Shape shapeOf(String irNode) {
    return b.get(irNode).shape();
  }

  String add(String name, Op op, String... inputs) {
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

  Val emit(Op op, String... inputs) {
    return new Act(add(current.path, op, inputs));
  }

  // ---------------------------------------------------------------- attrs

  AttrValue attr(String key) {
    return current.attr(key);
  }

  String attrS(String key, String def) {
    AttrValue a = attr(key);
    return a == null ? def : a.getS().toStringUtf8();
  }

  boolean attrB(String key, boolean def) {
    AttrValue a = attr(key);
    return a == null ? def : a.getB();
  }

  float attrF(String key, float def) {
    AttrValue a = attr(key);
    return a == null ? def : a.getF();
  }

  int[] attrInts(String key, int[] def) {
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
    Function<Converter, Val> conversion = ConversionTable.of(op);
    return conversion != null ? conversion.apply(this) : elementwise(op);
  }

  /** The ops of {@link ElementwiseConversions} and {@link ArrayConversions}, or the gap. */
  private Val elementwise(String op) {
    Val v = ElementwiseConversions.convert(this, op);
    if (v == null) {
      v = ArrayConversions.convert(this, op);
    }
    return v != null ? v : unsupported(op);
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

  int[] ints(Cst c) {
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

  int attrI(String key) {
    AttrValue a = attr(key);
    return a == null ? 0 : Math.toIntExact(a.getI());
  }

  Val binary(Op.BinaryKind kind) {
    return emit(new Op.Binary(kind), act(0), act(1));
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
