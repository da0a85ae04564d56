package dev.segcam.savedmodel;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * TensorFlow's products to the IR: MatMul and BatchMatMul(V2/V3) of two activations become {@link
 * Op.BatchMatMul}, of an activation and a constant a (token-wise) {@link Op.MatMul}; a two-operand
 * Einsum (what Keras MultiHeadAttention and EinsumDense export, e.g. "abc,cde->abde",
 * "aecd,abcd->acbe", "acbe,aecd->abcd", "abcd,cde->abe") becomes Transpose / Reshape around one of
 * those. The batch axis stays first throughout, as the IR's Transpose and Reshape require. Errors
 * are {@link IllegalArgumentException}s that the {@link Converter} reports with the node.
 */
final class MatMulConversions {
  private MatMulConversions() {}

  /** What the converter lends: adds an IR node (suffix "" names it after the TF node). */
  interface Builder {
    String add(String suffix, Op op, String... inputs);

    Shape shape(String node);
  }

  /** An operand: an activation (its IR node) or a constant. */
  record Operand(String node, Cst constant) {
    boolean isConst() {
      return constant != null;
    }
  }

  /** MatMul (transpose_a/b) or BatchMatMul (adj_x/y): opX(x)·opY(y) over the last two axes. */
  static String matmul(Builder b, Operand x, Operand y, boolean adjX, boolean adjY) {
    if (x.isConst() && y.isConst()) {
      throw new IllegalArgumentException("a product of two constants was not folded");
    }
    if (!x.isConst() && !y.isConst()) {
      int r = b.shape(x.node()).rank();
      if (r < 3 || b.shape(y.node()).rank() != r) {
        throw new IllegalArgumentException(
            "a product of activations "
                + b.shape(x.node())
                + " · "
                + b.shape(y.node())
                + " needs two inputs of the same rank, at least 3 (a rank-2 product mixes the"
                + " batch)");
      }
      return b.add("", new Op.BatchMatMul(adjX, adjY), x.node(), y.node());
    }
    if (y.isConst()) {
      String xs = adjX ? swapLast(b, x.node(), "/adj_x") : x.node();
      return b.add("", new Op.MatMul(weights(y.constant(), adjY), null), xs);
    }
    // constant first: (opX(X)·opY(Y))^T = opY(Y)^T · opX(X)^T
    if (b.shape(y.node()).rank() < 3) {
      throw new IllegalArgumentException(
          "the activation "
              + b.shape(y.node())
              + " must be the first operand (as the second, its batch axis would be contracted)");
    }
    String ys = adjY ? y.node() : swapLast(b, y.node(), "/adj_y");
    String p = b.add("/product_t", new Op.MatMul(weights(x.constant(), !adjX), null), ys);
    return b.add("", lastTwoSwapped(b.shape(p).rank()), p);
  }

  /** A constant operand as (I,O) weights: its leading dims must be 1; transposed when adj. */
  private static FloatTensor weights(Cst w, boolean adj) {
    int r = w.rank();
    for (int d = 0; d < r - 2; d++) {
      if (w.shape[d] != 1) {
        throw new IllegalArgumentException(
            "a constant operand of shape " + Arrays.toString(w.shape) + " (batched weights)");
      }
    }
    if (r < 2) {
      throw new IllegalArgumentException("a constant operand of rank " + r);
    }
    Cst m = w.reshape(new int[] {w.shape[r - 2], w.shape[r - 1]});
    return (adj ? ConstFolding.transpose(m, new int[] {1, 0}) : m).tensor();
  }

  private static String swapLast(Builder b, String x, String suffix) {
    int r = b.shape(x).rank();
    if (r < 3) {
      throw new IllegalArgumentException(
          "transposing a rank-" + r + " activation would move its batch axis");
    }
    return b.add(suffix, lastTwoSwapped(r), x);
  }

  private static Op.Transpose lastTwoSwapped(int rank) {
    List<Integer> p = new ArrayList<>();
    for (int i = 0; i < rank; i++) {
      p.add(i);
    }
    p.set(rank - 2, rank - 1);
    p.set(rank - 1, rank - 2);
    return new Op.Transpose(p);
  }

  /** Einsum of two operands: equation "lhs0,lhs1->out" with one letter per axis. */
  static String einsum(Builder b, String equation, Operand x, Operand y) {
    String eq = equation.replace(" ", "");
    int arrow = eq.indexOf("->");
    int comma = eq.indexOf(',');
    if (arrow < 0 || comma < 0 || comma > arrow || eq.indexOf(',', comma + 1) >= 0) {
      throw new IllegalArgumentException(
          "Einsum '" + equation + "': only two operands with an explicit output are supported");
    }
    if (eq.contains(".")) {
      throw new IllegalArgumentException("Einsum '" + equation + "': ellipsis is not supported");
    }
    String la = eq.substring(0, comma);
    String lb = eq.substring(comma + 1, arrow);
    String out = eq.substring(arrow + 2);
    if (x.isConst() && y.isConst()) {
      throw new IllegalArgumentException("Einsum of two constants was not folded");
    }
    if (x.isConst()) {
      return new Plan(b, equation, lb, la, out).run(y, x);
    }
    return new Plan(b, equation, la, lb, out).run(x, y);
  }

  /** The label classes of one contraction, a the activation operand. */
  private static final class Plan {
    final Builder b;
    final String eq;
    final String la;
    final String lb;
    final String out;
    final String batch;
    final String contr;
    final String freeA;
    final String freeB;

    Plan(Builder b, String eq, String la, String lb, String out) {
      this.b = b;
      this.eq = eq;
      this.la = la;
      this.lb = lb;
      this.out = out;
      StringBuilder bt = new StringBuilder();
      StringBuilder fa = new StringBuilder();
      StringBuilder fb = new StringBuilder();
      StringBuilder ct = new StringBuilder();
      for (String s : List.of(la, lb, out)) {
        for (char c : s.toCharArray()) {
          if (s.indexOf(c) != s.lastIndexOf(c)) {
            throw bad("label '" + c + "' repeats within '" + s + "' (diagonals)");
          }
        }
      }
      for (char c : out.toCharArray()) {
        boolean inA = la.indexOf(c) >= 0;
        boolean inB = lb.indexOf(c) >= 0;
        if (!inA && !inB) {
          throw bad("output label '" + c + "' is in neither operand");
        }
        (inA && inB ? bt : inA ? fa : fb).append(c);
      }
      for (char c : la.toCharArray()) {
        if (out.indexOf(c) < 0) {
          if (lb.indexOf(c) < 0) {
            throw bad("label '" + c + "' is summed over one operand only");
          }
          ct.append(c);
        }
      }
      for (char c : lb.toCharArray()) {
        if (out.indexOf(c) < 0 && la.indexOf(c) < 0) {
          throw bad("label '" + c + "' is summed over one operand only");
        }
      }
      batch = bt.toString();
      freeA = fa.toString();
      freeB = fb.toString();
      contr = ct.toString();
    }

    IllegalArgumentException bad(String why) {
      return new IllegalArgumentException("Einsum '" + eq + "': " + why);
    }

    String run(Operand x, Operand y) {
      if (out.isEmpty() || la.isEmpty() || la.charAt(0) != out.charAt(0)) {
        throw bad("the activation's first axis (the batch) must stay the output's first");
      }
      int[] xd = b.shape(x.node()).dims();
      if (xd.length != la.length()) {
        throw bad("'" + la + "' on an input of shape " + Arrays.toString(xd));
      }
      if (y.isConst()) {
        return withConstant(x, y.constant(), xd);
      }
      int[] yd = b.shape(y.node()).dims();
      if (yd.length != lb.length() || lb.charAt(0) != out.charAt(0)) {
        throw bad("'" + lb + "' on an input of shape " + Arrays.toString(yd));
      }
      // the layouts that need no transpose when the operand already has one of them
      boolean adjA = !(batch + freeA + contr).equals(la) && (batch + contr + freeA).equals(la);
      boolean adjB = !(batch + contr + freeB).equals(lb) && (batch + freeB + contr).equals(lb);
      String a2 = arrange(x.node(), la, batch, adjA ? contr : freeA, adjA ? freeA : contr, "/a");
      String b2 = arrange(y.node(), lb, batch, adjB ? freeB : contr, adjB ? contr : freeB, "/b");
      String p = b.add("/product", new Op.BatchMatMul(adjA, adjB), a2, b2);
      boolean split = freeA.length() != 1 || freeB.length() != 1;
      return finish(p, batch + freeA + freeB, dims(la, xd, lb, yd), split);
    }

    private String withConstant(Operand x, Cst w, int[] xd) {
      if (!batch.isEmpty()) {
        throw bad("a constant operand may not share the output labels " + batch);
      }
      if (w.rank() != lb.length()) {
        throw bad("'" + lb + "' on a constant of shape " + Arrays.toString(w.shape));
      }
      // the activation as (batch, free..., K): Dense on its last axis
      String to = freeA + contr;
      String a2 = x.node();
      if (!to.equals(la)) {
        a2 = b.add("/a_transpose", new Op.Transpose(boxed(perm(la, to))), a2);
      }
      if (contr.length() != 1) {
        int[] d = b.shape(a2).dims();
        int[] target = Arrays.copyOfRange(d, 1, freeA.length() + 1);
        target[target.length - 1] = merged(d, freeA.length(), contr.length());
        a2 = b.add("/a_reshape", new Op.Reshape(Shape.of(unknownOnce(target))), a2);
      }
      int[] perm = perm(lb, contr + freeB);
      Cst wt = ConstFolding.transpose(w, perm);
      int k = 1;
      for (char c : contr.toCharArray()) {
        k *= w.shape[lb.indexOf(c)];
      }
      Cst w2 = wt.reshape(new int[] {k, w.size() / Math.max(k, 1)});
      String p = b.add("/product", new Op.MatMul(w2.tensor(), null), a2);
      int[] yd = new int[lb.length()];
      System.arraycopy(w.shape, 0, yd, 0, yd.length);
      return finish(p, freeA + freeB, dims(la, xd, lb, yd), freeB.length() != 1);
    }

    /** Transposes x (labels from) to [first, second, third] and merges second and third. */
    private String arrange(
        String x, String from, String first, String second, String third, String s) {
      String to = first + second + third;
      String t = x;
      if (!to.equals(from)) {
        t = b.add(s + "_transpose", new Op.Transpose(boxed(perm(from, to))), x);
      }
      int[] d = b.shape(t).dims();
      int[] target = new int[first.length() - 1 + 2];
      for (int i = 1; i < first.length(); i++) {
        target[i - 1] = d[i];
      }
      target[first.length() - 1] = merged(d, first.length(), second.length());
      target[first.length()] = merged(d, first.length() + second.length(), third.length());
      if (second.length() == 1 && third.length() == 1) {
        return t;
      }
      return b.add(s + "_reshape", new Op.Reshape(Shape.of(unknownOnce(target))), t);
    }

    /** Splits the product's last two axes back into labels {@code have}, then orders as out. */
    private String finish(String p, String have, int[] labelDims, boolean needReshape) {
      boolean needTranspose = !have.equals(out);
      String r = p;
      if (needReshape) {
        int[] t = new int[have.length() - 1];
        for (int i = 1; i < have.length(); i++) {
          t[i - 1] = labelDims[have.charAt(i)];
        }
        r = b.add(needTranspose ? "/split" : "", new Op.Reshape(Shape.of(unknownOnce(t))), p);
      }
      if (needTranspose) {
        r = b.add("", new Op.Transpose(boxed(perm(have, out))), r);
      }
      if (!needReshape && !needTranspose) {
        // the product is the result: give it the node's name through an identity reshape
        int[] t = b.shape(p).dims();
        r = b.add("", new Op.Reshape(Shape.of(Arrays.copyOfRange(t, 1, t.length))), p);
      }
      return r;
    }

    private int[] unknownOnce(int[] t) {
      if (Arrays.stream(t).filter(v -> v == Shape.UNKNOWN).count() > 1) {
        throw bad("several unknown dims to restore " + Arrays.toString(t));
      }
      return t;
    }

    private int merged(int[] d, int from, int count) {
      if (count == 1) {
        return d[from];
      }
      int p = 1;
      for (int i = from; i < from + count; i++) {
        if (d[i] == Shape.UNKNOWN) {
          throw bad("merging axes of unknown size in " + Arrays.toString(d));
        }
        p *= d[i];
      }
      return p;
    }

    private int[] dims(String la, int[] xd, String lb, int[] yd) {
      int[] m = new int[128];
      Arrays.fill(m, Shape.UNKNOWN);
      for (int i = 0; i < la.length(); i++) {
        m[la.charAt(i)] = xd[i];
      }
      for (int i = 0; i < lb.length(); i++) {
        char c = lb.charAt(i);
        if (m[c] == Shape.UNKNOWN) {
          m[c] = yd[i];
        } else if (yd[i] != Shape.UNKNOWN && yd[i] != m[c]) {
          throw bad("label '" + c + "' is " + m[c] + " in one operand, " + yd[i] + " in the other");
        }
      }
      return m;
    }
  }

  /** perm with to[i] = from[perm[i]]. */
  private static int[] perm(String from, String to) {
    int[] p = new int[to.length()];
    for (int i = 0; i < p.length; i++) {
      p[i] = from.indexOf(to.charAt(i));
    }
    return p;
  }

  private static List<Integer> boxed(int[] p) {
    return Arrays.stream(p).boxed().toList();
  }

  /** Products of activations and Einsum on the converter's current node. */
  static Converter.Val product(Converter cv, String op) {
    int n = cv.current().inputs.size();
    if (n != 2) {
      throw cv.error(op + " of " + n + " operands is not supported (only 2)");
    }
    Builder mb =
        new Builder() {
          @Override
          public String add(String suffix, Op o, String... ins) {
            return cv.add(cv.current().path + suffix, o, ins);
          }

          @Override
          public Shape shape(String node) {
            return cv.shapeOf(node);
          }
        };
    Operand[] xy = new Operand[2];
    for (int i = 0; i < 2; i++) {
      xy[i] =
          cv.in(i) instanceof Converter.ConstVal c
              ? new Operand(null, c.c())
              : new Operand(cv.act(i), null);
    }
    boolean mm = op.equals("MatMul");
    try {
      return new Converter.Act(
          op.equals("Einsum")
              ? einsum(mb, cv.attrS("equation", ""), xy[0], xy[1])
              : matmul(
                  mb,
                  xy[0],
                  xy[1],
                  cv.attrB(mm ? "transpose_a" : "adj_x", false),
                  cv.attrB(mm ? "transpose_b" : "adj_y", false)));
    } catch (IllegalArgumentException | dev.segcam.ir.ShapeException e) {
      throw cv.error(op + ": " + e.getMessage());
    }
  }
}
