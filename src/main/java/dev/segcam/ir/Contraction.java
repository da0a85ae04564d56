package dev.segcam.ir;

import java.util.List;

/** The shape rule and geometry of {@link Op.BatchMatMul}. */
public final class Contraction {
  private static final int U = Shape.UNKNOWN;

  private Contraction() {}

  /** The product's geometry: batch = product of the leading dims (batch axis included), m, n, k. */
  public record Geometry(int batch, int m, int n, int k) {
    /** Output elements. */
    public int total() {
      return Math.multiplyExact(Math.multiplyExact(batch, m), n);
    }
  }

  /** Geometry of a product of operands with these (fully known) shapes. */
  public static Geometry geometry(Op.BatchMatMul op, Shape a, Shape b) {
    int r = a.rank();
    int m = op.adjA() ? a.dim(r - 1) : a.dim(r - 2);
    int k = op.adjA() ? a.dim(r - 2) : a.dim(r - 1);
    int n = op.adjB() ? b.dim(r - 2) : b.dim(r - 1);
    long batch = 1;
    for (int d = 0; d < r - 2; d++) {
      batch *= a.dim(d);
    }
    return new Geometry(Math.toIntExact(batch), m, n, k);
  }

  static Shape outputShape(Op.BatchMatMul op, List<Shape> in) {
    if (in.size() != 2) {
      throw new ShapeException("a product needs 2 inputs, got " + in.size());
    }
    Shape a = in.get(0);
    Shape b = in.get(1);
    int r = a.rank();
    if (r < 3 || b.rank() != r) {
      throw new ShapeException(
          "expects two inputs of the same rank, at least 3 (batch, rows, columns), got "
              + a
              + " and "
              + b
              + " (broadcasting the leading dims is not supported)");
    }
    int[] out = new int[r];
    for (int d = 0; d < r - 2; d++) {
      out[d] = same(a.dim(d), b.dim(d), "leading dim " + d, a, b);
    }
    int ka = op.adjA() ? a.dim(r - 2) : a.dim(r - 1);
    int kb = op.adjB() ? b.dim(r - 1) : b.dim(r - 2);
    same(ka, kb, "contracted dim", a, b);
    out[r - 2] = op.adjA() ? a.dim(r - 1) : a.dim(r - 2);
    out[r - 1] = op.adjB() ? b.dim(r - 2) : b.dim(r - 1);
    return Shape.of(out);
  }

  private static int same(int x, int y, String what, Shape a, Shape b) {
    if (x != U && y != U && x != y) {
      throw new ShapeException(what + " differs: " + x + " vs " + y + " in " + a + " · " + b);
    }
    return x == U ? y : x;
  }
}
