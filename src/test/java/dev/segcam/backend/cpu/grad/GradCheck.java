package dev.segcam.backend.cpu.grad;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.segcam.backend.cpu.CpuBackward;
import dev.segcam.backend.cpu.CpuOpTable;
import dev.segcam.backend.cpu.Parallel;
import dev.segcam.backend.cpu.grad.RefForward.D;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Graph;
import dev.segcam.ir.Shape;
import dev.segcam.testing.Tolerance;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

/**
 * Central finite differences of L = sum(seed · output) through {@link RefForward} (float64),
 * compared with CpuBackward's float32 data gradients.
 *
 * <p>Tolerance: the float64 differences with step 1e-6 are exact to ~1e-9 relative for smooth ops
 * (truncation h² f''' ~ 1e-12, rounding 1e-16/h ~ 1e-10). What remains is float32 rounding in the
 * backward: values rounded to float (rel 6e-8), and sums of up to a few hundred products whose
 * partial sums are up to ~10x larger than the result, so ~1e-5 of the largest gradient entry in
 * absolute terms and 1e-4 relative covers it with margin while any indexing or weighting error (≥
 * 1e-2 of a term) is caught.
 */
public final class GradCheck {
  static final double STEP = 1e-6;
  static final double RTOL = 1e-4;

  /** Absolute tolerance, as a fraction of the largest |reference gradient| of the tensor. */
  static final double ATOL_OF_MAX = 1e-5;

  private GradCheck() {}

  public static float[] uniform(Random rnd, int n, double lo, double hi) {
    float[] f = new float[n];
    for (int i = 0; i < n; i++) {
      f[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
    }
    return f;
  }

  public static FloatTensor tensor(Random rnd, Shape s) {
    return new FloatTensor(s, uniform(rnd, s.size(), -1, 1));
  }

  public static D dtensor(Random rnd, double lo, double hi, int... dims) {
    return D.of(new FloatTensor(Shape.of(dims), uniform(rnd, Shape.of(dims).size(), lo, hi)));
  }

  /** Checks dL/d layer for every layer; returns the backward's gradients. */
  public static Map<String, FloatTensor> check(
      String what,
      Graph g,
      Map<String, D> inputs,
      String out,
      Collection<String> layers,
      long seedValue,
      Parallel pool) {
    Random rnd = new Random(seedValue ^ 0x5eed);
    Map<String, D> vals = RefForward.run(g, inputs, Map.of());
    D y = vals.get(out);
    FloatTensor seed = new FloatTensor(Shape.of(y.dims()), uniform(rnd, y.size(), -1, 1));
    Map<String, FloatTensor> got =
        CpuBackward.backward(
            g, RefForward.toFloat(vals), Map.of(out, seed), layers, pool, CpuOpTable.TABLE, false);
    for (String l : layers) {
      D base = vals.get(l);
      float[] fd = new float[base.size()];
      double max = 0;
      for (int i = 0; i < fd.length; i++) {
        double[] p = base.v().clone();
        p[i] += STEP;
        double lp = loss(g, inputs, l, new D(base.dims(), p), out, seed);
        p[i] = base.v()[i] - STEP;
        double lm = loss(g, inputs, l, new D(base.dims(), p), out, seed);
        double d = (lp - lm) / (2 * STEP);
        fd[i] = (float) d;
        max = Math.max(max, Math.abs(d));
      }
      FloatTensor gl = got.get(l);
      assertEquals(Shape.of(base.dims()), gl.shape(), what + ": gradient shape of " + l);
      new Tolerance(RTOL, ATOL_OF_MAX * max + 1e-12)
          .assertClose(what + ": dL/d" + l + " (random seed " + seedValue + ")", fd, gl.data());
    }
    return got;
  }

  private static double loss(
      Graph g, Map<String, D> inputs, String layer, D value, String out, FloatTensor seed) {
    Map<String, D> ov = new HashMap<>();
    ov.put(layer, value);
    D y = RefForward.run(g, inputs, ov).get(out);
    double s = 0;
    for (int i = 0; i < y.size(); i++) {
      s += seed.data()[i] * y.v()[i];
    }
    return s;
  }
}
