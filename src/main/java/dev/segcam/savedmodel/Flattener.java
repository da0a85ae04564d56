package dev.segcam.savedmodel;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

/**
 * Flattens a GraphDef with its function library into one list of {@link TfNode}s in topological
 * order: (Stateful)PartitionedCall and direct function calls are inlined (arguments bound to the
 * caller's inputs, results taken from the body's {@code ret} map), Identity-like ops and control
 * edges are dropped. Only nodes that the requested tensors depend on are visited.
 */
final class Flattener {
  /** Keras nests model → layer → op a few levels deep; beyond this something is wrong. */
  static final int MAX_CALL_DEPTH = 64;

  private static final Set<String> IDENTITY_OPS = Set.of("Identity", "Snapshot", "EnsureShape");
  private static final Set<String> CALL_OPS = Set.of("StatefulPartitionedCall", "PartitionedCall");

  /** Ops with several named output args, and where each arg starts in the flat output list. */
  private static final Map<String, Map<String, Integer>> OUTPUT_ARGS = new HashMap<>();

  static {
    Map<String, Integer> bn = new HashMap<>();
    String[] names = {
      "y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", "reserve_space_3"
    };
    for (int i = 0; i < names.length; i++) {
      bn.put(names[i], i);
    }
    OUTPUT_ARGS.put("FusedBatchNorm", bn);
    OUTPUT_ARGS.put("FusedBatchNormV2", bn);
    OUTPUT_ARGS.put("FusedBatchNormV3", bn);
  }

  private final Map<String, FunctionDef> library = new HashMap<>();
  private final List<TfNode> nodes = new ArrayList<>();
  private final Deque<String> callStack = new ArrayDeque<>();
  private final Map<String, TfRef> topLevel = new HashMap<>();
  private final String file;

  Flattener(GraphDef graph, String file) {
    this.file = file;
    for (FunctionDef f : graph.getLibrary().getFunctionList()) {
      library.put(f.getSignature().getName(), f);
    }
  }

  /** All nodes created so far, in topological order. */
  List<TfNode> nodes() {
    return nodes;
  }

  /** Flattens what the given top-level tensors ("name" or "name:k") depend on; returns them. */
  List<TfRef> flattenGraph(GraphDef graph, List<String> tensors) {
    return flattenGraph(graph, tensors, Set.of());
  }

  /**
   * As above, with fed nodes: the signature's inputs may name any tensor (often an Identity after a
   * parser); a fed node becomes a Placeholder and what it computed from is ignored.
   */
  List<TfRef> flattenGraph(GraphDef graph, List<String> tensors, Set<String> feeds) {
    List<NodeDef> defs = new ArrayList<>();
    for (NodeDef d : graph.getNodeList()) {
      if (feeds.contains(d.getName())) {
        d = NodeDef.newBuilder().setName(d.getName()).setOp("Placeholder").build();
      }
      defs.add(d);
    }
    Scope s = new Scope(defs, Map.of(), "", null, false);
    List<TfRef> out = s.run(tensors, 0);
    for (Map.Entry<String, TfNode> e : s.made.entrySet()) {
      topLevel.put(e.getKey(), new TfRef(e.getValue(), 0));
    }
    for (Map.Entry<String, List<TfRef>> e : s.forwarded.entrySet()) {
      for (int i = 0; i < e.getValue().size(); i++) {
        TfRef r = e.getValue().get(i);
        if (r != null) {
          topLevel.put(i == 0 ? e.getKey() : e.getKey() + ":" + i, r);
        }
      }
    }
    return out;
  }

  /**
   * Top-level tensor names ("name" for output 0, "name:k" otherwise) of identities and calls, and
   * plain nodes, with the flat tensor each denotes (only what the outputs depend on).
   */
  Map<String, TfRef> topLevelTensors() {
    return topLevel;
  }

  /** The node definitions of one graph or function body and how its names resolve. */
  private final class Scope {
    final Map<String, NodeDef> defs = new LinkedHashMap<>();
    final Map<String, TfRef> args;
    final String prefix;
    final String function;
    final boolean isFunction;

    /** Per local node: the flat node it became, or the refs it forwards (identities, calls). */
    final Map<String, TfNode> made = new HashMap<>();

    final Map<String, List<TfRef>> forwarded = new HashMap<>();

    Scope(
        List<NodeDef> body,
        Map<String, TfRef> args,
        String prefix,
        String function,
        boolean isFunction) {
      for (NodeDef d : body) {
        if (defs.put(d.getName(), d) != null) {
          throw ImportException.atNode(d.getName(), function, "duplicate node name");
        }
      }
      this.args = args;
      this.prefix = prefix;
      this.function = function;
      this.isFunction = isFunction;
    }

    List<TfRef> run(List<String> roots, int depth) {
      for (String name : topoOrder(roots)) {
        visit(defs.get(name), depth);
      }
      List<TfRef> out = new ArrayList<>();
      for (String r : roots) {
        out.add(resolve(r, null));
      }
      return out;
    }

    /** Node name an input string refers to, or null for a function argument. */
    String producer(String input) {
      String s = input.startsWith("^") ? input.substring(1) : input;
      int colon = s.indexOf(':');
      String name = colon < 0 ? s : s.substring(0, colon);
      if (isFunction && colon < 0 && args.containsKey(name)) {
        return null;
      }
      return name;
    }

    /** Ancestors of the roots by data edges, producers first (iterative: graphs can be deep). */
    List<String> topoOrder(List<String> roots) {
      List<String> order = new ArrayList<>();
      Set<String> done = new HashSet<>();
      Set<String> onPath = new HashSet<>();
      Deque<String[]> stack = new ArrayDeque<>();
      for (String r : roots) {
        String p = producer(r);
        if (p != null && !done.contains(p)) {
          stack.push(new String[] {p, "0"});
        }
        while (!stack.isEmpty()) {
          String[] top = stack.peek();
          String name = top[0];
          NodeDef d = defs.get(name);
          if (d == null) {
            throw ImportException.atNode(
                name,
                function,
                "referenced as an input but not defined"
                    + (isFunction ? " in the function body" : " in the graph"));
          }
          if (top[1].equals("0")) {
            if (done.contains(name)) {
              stack.pop();
              continue;
            }
            onPath.add(name);
          }
          int next = Integer.parseInt(top[1]);
          boolean pushed = false;
          while (next < d.getInputCount()) {
            String in = d.getInput(next++);
            if (in.startsWith("^")) {
              continue;
            }
            String p2 = producer(in);
            if (p2 == null || done.contains(p2)) {
              continue;
            }
            if (onPath.contains(p2)) {
              throw ImportException.atNode(
                  name, function, "the graph has a cycle through '" + p2 + "'");
            }
            top[1] = Integer.toString(next);
            stack.push(new String[] {p2, "0"});
            pushed = true;
            break;
          }
          if (!pushed) {
            stack.pop();
            onPath.remove(name);
            done.add(name);
            order.add(name);
          }
        }
      }
      return order;
    }

    /** The flat tensor an input string of this scope denotes. */
    TfRef resolve(String input, String consumer) {
      String name = producer(input);
      if (name == null) {
        return args.get(input);
      }
      int index = 0;
      String[] parts = input.split(":", -1);
      try {
        if (isFunction && parts.length == 3) {
          index = outputIndex(defs.get(name), parts[1], Integer.parseInt(parts[2]));
        } else if (parts.length == 2) {
          index = Integer.parseInt(parts[1]);
        } else if (parts.length != 1) {
          throw new NumberFormatException();
        }
      } catch (NumberFormatException e) {
        throw ImportException.atNode(
            consumer == null ? name : consumer, function, "malformed input '" + input + "'");
      }
      List<TfRef> fwd = forwarded.get(name);
      if (fwd != null) {
        if (index < 0 || index >= fwd.size() || fwd.get(index) == null) {
          throw ImportException.atNode(
              name, function, "has no output " + index + " (read as '" + input + "')");
        }
        return fwd.get(index);
      }
      TfNode n = made.get(name);
      if (n == null) {
        throw ImportException.atNode(
            name, function, "read before it was defined (input '" + input + "')");
      }
      return new TfRef(n, index);
    }

    int outputIndex(NodeDef producer, String arg, int k) {
      Map<String, Integer> table = OUTPUT_ARGS.get(producer.getOp());
      if (table != null) {
        Integer base = table.get(arg);
        if (base == null) {
          throw ImportException.atNode(
              producer.getName(), function, "op " + producer.getOp() + " has no output " + arg);
        }
        return base + k;
      }
      FunctionDef callee = library.get(producer.getOp());
      if (callee != null) {
        List<OpDef.ArgDef> outs = callee.getSignature().getOutputArgList();
        for (int i = 0; i < outs.size(); i++) {
          if (outs.get(i).getName().equals(arg)) {
            return i + k;
          }
        }
      }
      return k;
    }

    void visit(NodeDef d, int depth) {
      String op = d.getOp();
      List<TfRef> ins = new ArrayList<>();
      for (String in : d.getInputList()) {
        if (!in.startsWith("^")) {
          TfRef r = resolve(in, d.getName());
          if (r == null) {
            throw ImportException.atNode(
                d.getName(), function, "input '" + in + "' is not bound to anything");
          }
          ins.add(r);
        }
      }
      if (IDENTITY_OPS.contains(op)) {
        if (ins.isEmpty()) {
          throw ImportException.atNode(d.getName(), function, op + " without an input");
        }
        forwarded.put(d.getName(), List.of(ins.get(0)));
        return;
      }
      if (op.equals("IdentityN")) {
        forwarded.put(d.getName(), ins);
        return;
      }
      String callee = null;
      if (CALL_OPS.contains(op)) {
        AttrValue f = d.getAttrOrDefault("f", null);
        if (f == null || !f.hasFunc()) {
          throw ImportException.atNode(d.getName(), function, op + " without a function attr");
        }
        callee = f.getFunc().getName();
      } else if (library.containsKey(op)) {
        callee = op;
      }
      if (callee != null) {
        forwarded.put(d.getName(), inline(d, callee, ins, depth));
        return;
      }
      TfNode n = new TfNode(prefix + d.getName(), d, function, ins, nodes.size());
      nodes.add(n);
      made.put(d.getName(), n);
    }

    List<TfRef> inline(NodeDef call, String name, List<TfRef> ins, int depth) {
      FunctionDef f = library.get(name);
      if (f == null) {
        throw ImportException.atNode(
            call.getName(), function, "calls function '" + name + "', which is not in the library");
      }
      if (depth + 1 > MAX_CALL_DEPTH) {
        throw ImportException.atNode(
            call.getName(), function, "function calls nest deeper than " + MAX_CALL_DEPTH);
      }
      if (callStack.contains(name)) {
        throw ImportException.atNode(
            call.getName(), function, "function '" + name + "' calls itself (recursion)");
      }
      List<OpDef.ArgDef> inArgs = f.getSignature().getInputArgList();
      if (inArgs.size() != ins.size()) {
        throw ImportException.atNode(
            call.getName(),
            function,
            "passes " + ins.size() + " inputs to '" + name + "', which takes " + inArgs.size());
      }
      Map<String, TfRef> bound = new HashMap<>();
      for (int i = 0; i < inArgs.size(); i++) {
        OpDef.ArgDef a = inArgs.get(i);
        if (!a.getNumberAttr().isEmpty() || !a.getTypeListAttr().isEmpty()) {
          throw ImportException.atNode(
              call.getName(), name, "list-valued function argument '" + a.getName() + "'");
        }
        bound.put(a.getName(), ins.get(i));
      }
      List<String> rets = new ArrayList<>();
      for (OpDef.ArgDef a : f.getSignature().getOutputArgList()) {
        String r = f.getRetOrDefault(a.getName(), null);
        if (r == null) {
          throw ImportException.atNode(
              call.getName(),
              name,
              "function has no return value for output '" + a.getName() + "'");
        }
        rets.add(r);
      }
      callStack.push(name);
      try {
        Scope inner =
            new Scope(f.getNodeDefList(), bound, prefix + call.getName() + "/", name, true);
        return inner.run(rets, depth + 1);
      } finally {
        callStack.pop();
      }
    }
  }
}
