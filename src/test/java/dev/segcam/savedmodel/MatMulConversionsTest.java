package dev.segcam.savedmodel;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.cpu.grad.RefForward;
import dev.segcam.backend.cpu.grad.RefForward.D;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.testing.RandomTensors;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Einsum and products mapped to IR ops ({@link MatMulConversions}), evaluated in double by {@link
 * RefForward} and compared with the equation summed label by label, for the equations Keras
 * MultiHeadAttention / EinsumDense export and the layouts around them (operand order, adjoint
 * layouts, merged and split axes, a constant first). TensorFlow's own Einsum is checked end to end
 * in SegFormerZooTest.
 */
class MatMulConversionsTest {
  /** Label sizes: a is the batch. */
  private static final Map<Character, Integer> SIZES =
      Map.of('a', 2, 'b', 3, 'c', 4, 'd', 5, 'e', 6);

  /** Double sums of at most a few dozen products of O(1) values. */
  private static final double TOL = 1e-9;

  @ParameterizedTest
  @CsvSource({
    "abc,cde->abde,false,true",
    "abcd,cde->abe,false,true",
    "aecd,abcd->acbe,false,false",
    "acbe,aecd->abcd,false,false",
    "abc,cd->abd,false,true",
    "abc,adc->abd,false,false",
    "abcd,abed->abce,false,false",
    "abc,abd->acd,false,false",
    "abcd,acd->ab,false,false",
    "cde,abc->abde,true,false",
    "abc,cde->aebd,false,true"
  })
  void einsumEqualsItsSum(String lhs0, String rest, boolean firstConst, boolean secondConst) {
    String eq = lhs0 + "," + rest;
    String l1 = rest.substring(0, rest.indexOf("->"));
    String out = rest.substring(rest.indexOf("->") + 2);
    Random rng = new Random(RandomTensors.freshSeed("MatMulConversionsTest"));
    D x = random(rng, lhs0);
    D y = random(rng, l1);
    Graph.Builder gb = Graph.builder();
    Map<String, D> feeds = new HashMap<>();
    MatMulConversions.Operand[] ops = new MatMulConversions.Operand[2];
    D[] vals = {x, y};
    boolean[] consts = {firstConst, secondConst};
    for (int i = 0; i < 2; i++) {
      if (consts[i]) {
        ops[i] = new MatMulConversions.Operand(null, Cst.floats(vals[i].dims(), floats(vals[i])));
      } else {
        String n = "x" + i;
        int[] d = vals[i].dims().clone();
        d[0] = Shape.UNKNOWN;
        gb.add(n, new Op.Input(Shape.of(d)));
        feeds.put(n, vals[i]);
        ops[i] = new MatMulConversions.Operand(n, null);
      }
    }
    String node = MatMulConversions.einsum(builder(gb), eq, ops[0], ops[1]);
    gb.output("y", node);
    Graph g = gb.build();
    D got = RefForward.run(g, feeds, Map.of()).get(node);
    D want = einsum(lhs0, x, l1, y, out);
    assertTrue(Arrays.equals(want.dims(), got.dims()), eq + ": " + Arrays.toString(got.dims()));
    for (int i = 0; i < want.v().length; i++) {
      double w = want.v()[i];
      // the constant operand went through float: compare at float precision there
      double tol = TOL + (firstConst || secondConst ? 1e-5 * (1 + Math.abs(w)) : 0);
      if (Math.abs(w - got.v()[i]) > tol) {
        throw new AssertionError(eq + " element " + i + ": " + got.v()[i] + " != " + w);
      }
    }
  }

  @Test
  void unsupportedEquationsSayWhy() {
    for (String[] c :
        new String[][] {
          {"a...c,cd->a...d", "ellipsis"},
          {"abc,abd->bcd", "batch"},
          {"abc,acd->ad", "summed over one operand"},
          {"abb,abd->ad", "repeats"}
        }) {
      Graph.Builder gb = Graph.builder();
      gb.add("x0", new Op.Input(Shape.of(-1, 3, 3)));
      gb.add("x1", new Op.Input(Shape.of(-1, 3, 5)));
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  MatMulConversions.einsum(
                      builder(gb),
                      c[0],
                      new MatMulConversions.Operand("x0", null),
                      new MatMulConversions.Operand("x1", null)));
      assertTrue(e.getMessage().contains(c[1]), c[0] + ": " + e.getMessage());
    }
  }

  private static MatMulConversions.Builder builder(Graph.Builder gb) {
    return new MatMulConversions.Builder() {
      int k;

      @Override
      public String add(String suffix, Op op, String... inputs) {
        String n = "einsum" + suffix + "#" + k++;
        gb.add(n, op, inputs);
        return n;
      }

      @Override
      public Shape shape(String node) {
        return gb.get(node).shape();
      }
    };
  }

  private static D random(Random rng, String labels) {
    int[] d = labels.chars().map(c -> SIZES.get((char) c)).toArray();
    double[] v = new double[Arrays.stream(d).reduce(1, (p, q) -> p * q)];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) rng.nextGaussian();
    }
    return new D(d, v);
  }

  private static float[] floats(D d) {
    float[] f = new float[d.v().length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) d.v()[i];
    }
    return f;
  }

  /** The equation summed over every assignment of the labels. */
  private static D einsum(String la, D x, String lb, D y, String out) {
    String all =
        (la + lb)
            .chars()
            .distinct()
            .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append)
            .toString();
    int[] od = out.chars().map(c -> SIZES.get((char) c)).toArray();
    double[] o = new double[Arrays.stream(od).reduce(1, (p, q) -> p * q)];
    int[] idx = new int[all.length()];
    while (true) {
      o[offset(out, all, idx)] += x.v()[offset(la, all, idx)] * y.v()[offset(lb, all, idx)];
      int p = all.length() - 1;
      while (p >= 0 && ++idx[p] == SIZES.get(all.charAt(p))) {
        idx[p--] = 0;
      }
      if (p < 0) {
        break;
      }
    }
    return new D(od, o);
  }

  private static int offset(String labels, String all, int[] idx) {
    int off = 0;
    for (char c : labels.toCharArray()) {
      off = off * SIZES.get(c) + idx[all.indexOf(c)];
    }
    return off;
  }
}
