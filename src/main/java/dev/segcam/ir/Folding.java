package dev.segcam.ir;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * Import-time folding: a BiasAdd, a BatchNorm, or an Add of a per-channel constant that directly
 * follows a Conv2D / DepthwiseConv2D / Conv2DTranspose / MatMul is merged into that op's filter and
 * bias, when the op's output is read by nothing else (and is not a graph output). The merged node
 * sits at the producer's place and takes the name of the last node folded into it, since it now
 * computes that node's value. The arithmetic is exact algebra, so results match the unfolded graph
 * up to float rounding.
 */
public final class Folding {
  private Folding() {}

  public static Graph fold(Graph g) {
    Map<String, Op> ops = new HashMap<>();
    Map<String, String> alias = new HashMap<>();
    Map<String, String> finalName = new HashMap<>();
    Set<String> outputs = new HashSet<>(g.outputs().values());
    for (Node n : g.nodes()) {
      ops.put(n.name(), n.op());
    }
    for (Node n : g.nodes()) {
      if (n.inputs().isEmpty()) {
        continue;
      }
      Op folded = null;
      String producer = null;
      for (int i = 0; i < n.inputs().size() && folded == null; i++) {
        String in = n.inputs().get(i);
        if (outputs.contains(in) || g.consumers(in).size() != 1) {
          continue;
        }
        String rep = alias.getOrDefault(in, in);
        Op p = ops.get(rep);
        FloatTensor[] affine = affine(g, n, i);
        if (affine != null && isLinear(p)) {
          folded = apply(p, affine[0], affine[1]);
          producer = rep;
        }
      }
      if (folded != null) {
        ops.put(producer, folded);
        alias.put(n.name(), producer);
        finalName.put(producer, n.name());
      }
    }
    if (alias.isEmpty()) {
      return g;
    }
    // Constants that only fed a folded Add are dropped with it.
    Set<String> dropped = new HashSet<>(alias.keySet());
    for (Node n : g.nodes()) {
      if (alias.containsKey(n.name())) {
        for (String in : n.inputs()) {
          if (g.node(in).op() instanceof Op.Const && g.consumers(in).size() == 1) {
            dropped.add(in);
          }
        }
      }
    }
    Graph.Builder b = Graph.builder();
    for (Node n : g.nodes()) {
      if (dropped.contains(n.name())) {
        continue;
      }
      List<String> ins = new ArrayList<>();
      for (String in : n.inputs()) {
        ins.add(emitted(alias, finalName, in));
      }
      b.add(emitted(alias, finalName, n.name()), ops.get(n.name()), ins);
    }
    for (Map.Entry<String, String> o : g.outputs().entrySet()) {
      b.output(o.getKey(), emitted(alias, finalName, o.getValue()));
    }
    return b.build();
  }

  private static String emitted(
      Map<String, String> alias, Map<String, String> finalName, String name) {
    String n = name;
    while (alias.containsKey(n)) {
      n = alias.get(n);
    }
    return finalName.getOrDefault(n, n);
  }

  private static boolean isLinear(Op p) {
    return p instanceof Op.Conv2D
        || p instanceof Op.DepthwiseConv2D
        || p instanceof Op.Conv2DTranspose
        || p instanceof Op.MatMul;
  }

  /**
   * If node n computes y = x*scale + offset per channel of its input #i, {scale or null, offset or
   * null}; else null.
   */
  private static FloatTensor[] affine(Graph g, Node n, int i) {
    Op op = n.op();
    if (i != 0 && !(op instanceof Op.Binary)) {
      return null;
    }
    if (op instanceof Op.BiasAdd b) {
      return new FloatTensor[] {null, b.bias()};
    }
    if (op instanceof Op.BatchNorm bn) {
      return new FloatTensor[] {bn.scale(), bn.offset()};
    }
    if (op instanceof Op.Binary bin && bin.kind() == Op.BinaryKind.ADD && n.inputs().size() == 2) {
      Node other = g.node(n.inputs().get(1 - i));
      if (other.op() instanceof Op.Const c && perChannel(c.value().shape())) {
        // Broadcasting must not change the output shape for the fold to be exact.
        if (!n.shape().equals(g.node(n.inputs().get(i)).shape())) {
          return null;
        }
        return new FloatTensor[] {null, c.value().reshape(Shape.of(c.value().size()))};
      }
    }
    return null;
  }

  private static boolean perChannel(Shape s) {
    for (int k = 0; k < s.rank() - 1; k++) {
      if (s.dim(k) != 1) {
        return false;
      }
    }
    return s.rank() >= 1;
  }

  /** The op with y' = y*scale + offset folded in (scale may be null), or null if sizes differ. */
  private static Op apply(Op p, FloatTensor scale, FloatTensor offset) {
    if (p instanceof Op.Conv2D c) {
      return refold(c.filter(), 3, c.bias(), scale, offset, (w, b) -> conv2d(c, w, b));
    }
    if (p instanceof Op.DepthwiseConv2D c) {
      // Output channel c*M+m is the flattened (C,M) tail of the filter: scale those together.
      Shape f = c.filter().shape();
      FloatTensor flat = c.filter().reshape(Shape.of(f.dim(0), f.dim(1), 1, f.dim(2) * f.dim(3)));
      return refold(flat, 3, c.bias(), scale, offset, (w, b) -> depthwise(c, w.reshape(f), b));
    }
    if (p instanceof Op.Conv2DTranspose c) {
      return refold(c.filter(), 2, c.bias(), scale, offset, (w, b) -> transpose(c, w, b));
    }
    if (p instanceof Op.MatMul m) {
      return refold(m.weights(), 1, m.bias(), scale, offset, Op.MatMul::new);
    }
    return null;
  }

  private static Op conv2d(Op.Conv2D c, FloatTensor w, FloatTensor b) {
    return new Op.Conv2D(w, b, c.strideH(), c.strideW(), c.dilationH(), c.dilationW(), c.padding());
  }

  private static Op depthwise(Op.DepthwiseConv2D c, FloatTensor w, FloatTensor b) {
    return new Op.DepthwiseConv2D(
        w, b, c.strideH(), c.strideW(), c.dilationH(), c.dilationW(), c.padding());
  }

  private static Op transpose(Op.Conv2DTranspose c, FloatTensor w, FloatTensor b) {
    return new Op.Conv2DTranspose(w, b, c.strideH(), c.strideW(), c.padding(), c.outH(), c.outW());
  }

  /**
   * make(w scaled along its output axis, bias*scale + offset), or null when scale or offset does
   * not have one value per output channel.
   */
  private static Op refold(
      FloatTensor w,
      int axis,
      FloatTensor bias,
      FloatTensor scale,
      FloatTensor offset,
      BiFunction<FloatTensor, FloatTensor, Op> make) {
    int out = w.shape().dim(axis);
    if (!fits(out, scale, offset)) {
      return null;
    }
    return make.apply(scaleAxis(w, axis, scale), bias(bias, out, scale, offset));
  }

  private static boolean fits(int channels, FloatTensor scale, FloatTensor offset) {
    return (scale == null || scale.size() == channels) && offset.size() == channels;
  }

  // filter (..., axis, ...) * scale[axis] -> new filter; scale null leaves it untouched
  private static FloatTensor scaleAxis(FloatTensor t, int axis, FloatTensor scale) {
    if (scale == null) {
      return t;
    }
    int[] d = t.shape().dims();
    int inner = 1;
    for (int k = axis + 1; k < d.length; k++) {
      inner *= d[k];
    }
    int n = d[axis];
    float[] src = t.data();
    float[] dst = new float[src.length];
    float[] s = scale.data();
    for (int i = 0; i < src.length; i++) {
      dst[i] = src[i] * s[(i / inner) % n];
    }
    return new FloatTensor(t.shape(), dst);
  }

  // bias (C) or null -> bias*scale + offset
  private static FloatTensor bias(FloatTensor b, int c, FloatTensor scale, FloatTensor offset) {
    float[] out = new float[c];
    for (int k = 0; k < c; k++) {
      float v = b == null ? 0f : b.data()[k];
      if (scale != null) {
        v *= scale.data()[k];
      }
      out[k] = v + offset.data()[k];
    }
    return new FloatTensor(Shape.of(c), out);
  }
}
