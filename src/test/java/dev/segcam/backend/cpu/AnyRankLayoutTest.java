package dev.segcam.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.segcam.backend.cpu.grad.ShapeGrad;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Op;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import dev.segcam.testing.RandomTensors;
import dev.segcam.testing.Tolerance;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Pad and the broadcast binary ops above rank 4: the CPU engine runs the rank-4 twins through
 * {@code Dims4}'s folded views; checked here element by element against plain any-rank loops on
 * fresh random inputs.
 */
class AnyRankLayoutTest {
  /** Pad and the forward binary ops compute each element with the same float operations. */
  private static final Tolerance EXACT = new Tolerance(0, 0);

  /** Three workers, so that the row ranges split even on a small machine. */
  private static final Parallel PAR = new Parallel(3);

  final Random rng = new Random(RandomTensors.freshSeed("AnyRankLayoutTest"));

  @AfterAll
  static void stop() {
    PAR.close();
  }

  @Test
  void padOfRankFiveAndSixAndItsGradient() {
    // {dims}, {before}, {after}: at most four padded axes
    int[][][] cases = {
      {{2, 3, 1, 4, 5}, {0, 1, 0, 2, 1}, {0, 2, 0, 0, 1}},
      {{2, 2, 3, 2, 3, 2}, {0, 1, 0, 0, 0, 0}, {0, 0, 0, 1, 0, 3}},
      {{1, 2, 2, 2, 2, 2, 3}, {0, 0, 1, 0, 0, 0, 2}, {0, 0, 0, 0, 0, 0, 1}},
    };
    for (int[][] c : cases) {
      FloatTensor x = RandomTensors.uniform(rng, Shape.of(c[0]), -1f, 1f);
      List<int[]> pads = new ArrayList<>();
      for (int d = 0; d < c[0].length; d++) {
        pads.add(new int[] {c[1][d], c[2][d]});
      }
      FloatTensor y = CpuOps.pad(PAR, x, pads, 0.5f);
      EXACT.assertClose("pad " + y.shape(), naivePad(x, c[1], y.shape(), 0.5f), y.data());
      FloatTensor dy = RandomTensors.uniform(rng, y.shape(), -1f, 1f);
      float[] dx = ShapeGrad.padData(dy.data(), y.shape().dims(), c[0], c[1], PAR);
      EXACT.assertClose("pad grad " + y.shape(), naivePadGrad(dy, c[1], x.shape()), dx);
    }
  }

  @Test
  void padOfFiveAxesDoesNotFold() {
    FloatTensor x = RandomTensors.uniform(rng, Shape.of(2, 2, 2, 2, 2), -1f, 1f);
    List<int[]> pads = new ArrayList<>();
    for (int d = 0; d < 5; d++) {
      pads.add(new int[] {1, 0});
    }
    assertThrows(ShapeException.class, () -> CpuOps.pad(PAR, x, pads, 0f));
  }

  @Test
  void aGradientReducedOverAlternatingAxesAboveRankFourDoesNotFold() {
    // db reduces axes 0, 2 and 4 and keeps 1 and 3: five runs, more than the kernels' four axes
    float[] dy = new float[2 * 3 * 4 * 5 * 6];
    assertThrows(
        ShapeException.class,
        () ->
            ShapeGrad.binaryData(
                Op.BinaryKind.ADD,
                false,
                dy,
                new int[] {2, 3, 4, 5, 6},
                null,
                null,
                null,
                null,
                new int[] {3, 1, 5, 1},
                PAR));
  }

  @Test
  void binaryOfRankFiveAndSixAndItsGradients() {
    // {a dims}, {b dims}
    int[][][] cases = {
      {{2, 3, 4, 5, 6}, {1, 5, 6}},
      {{2, 3, 4, 5, 6}, {3, 4, 1, 1}},
      {{2, 1, 3, 4, 5}, {2, 6, 3, 4, 5}},
      {{2, 3, 2, 3, 2, 2}, {2, 3, 2, 3, 2, 2}},
      {{3, 1, 2, 2, 3}, {1}},
    };
    for (int[][] c : cases) {
      FloatTensor a = RandomTensors.uniform(rng, Shape.of(c[0]), 0.5f, 2f);
      FloatTensor b = RandomTensors.uniform(rng, Shape.of(c[1]), 0.5f, 2f);
      Shape out = broadcastShape(a.shape(), b.shape());
      FloatTensor dy = RandomTensors.uniform(rng, out, -1f, 1f);
      for (Op.BinaryKind kind : Op.BinaryKind.values()) {
        String what = kind + " " + a.shape() + " " + b.shape();
        FloatTensor y = CpuOps.binary(PAR, a, b, kind, out);
        EXACT.assertClose(what, naiveBinary(a, b, out, kind), y.data());
        for (int side = 0; side < 2; side++) {
          Shape gs = side == 0 ? a.shape() : b.shape();
          float[] ref = naiveBinaryGrad(kind, side == 0, dy, a, b, gs);
          float[] got =
              ShapeGrad.binaryData(
                  kind,
                  side == 0,
                  dy.data(),
                  out.dims(),
                  a.data(),
                  a.shape().dims(),
                  b.data(),
                  b.shape().dims(),
                  gs.dims(),
                  PAR);
          int terms = out.size() / gs.size();
          Tolerance.reassociated(terms, Tolerance.maxAbs(ref))
              .assertClose("grad " + side + " of " + what, ref, got);
        }
      }
    }
  }

  private static int[] coords(int i, int[] dims) {
    int[] c = new int[dims.length];
    for (int d = dims.length - 1; d >= 0; d--) {
      c[d] = i % dims[d];
      i /= dims[d];
    }
    return c;
  }

  /** Row-major offset in dims of out-coordinates c (right-aligned; size-1 axes broadcast). */
  private static int offset(int[] c, int[] dims) {
    int o = 0;
    int shift = c.length - dims.length;
    for (int d = 0; d < dims.length; d++) {
      o = o * dims[d] + (dims[d] == 1 ? 0 : c[d + shift]);
    }
    return o;
  }

  private static Shape broadcastShape(Shape a, Shape b) {
    int r = Math.max(a.rank(), b.rank());
    int[] o = new int[r];
    for (int d = 0; d < r; d++) {
      int da = d - (r - a.rank()) >= 0 ? a.dim(d - (r - a.rank())) : 1;
      int db = d - (r - b.rank()) >= 0 ? b.dim(d - (r - b.rank())) : 1;
      o[d] = Math.max(da, db);
    }
    return Shape.of(o);
  }

  private static float[] naivePad(FloatTensor x, int[] before, Shape out, float value) {
    float[] y = new float[out.size()];
    int[] xd = x.shape().dims();
    for (int i = 0; i < y.length; i++) {
      int[] c = coords(i, out.dims());
      boolean in = true;
      for (int d = 0; d < c.length; d++) {
        c[d] -= before[d];
        in &= c[d] >= 0 && c[d] < xd[d];
      }
      y[i] = in ? x.data()[offset(c, xd)] : value;
    }
    return y;
  }

  private static float[] naivePadGrad(FloatTensor dy, int[] before, Shape x) {
    float[] dx = new float[x.size()];
    for (int i = 0; i < dx.length; i++) {
      int[] c = coords(i, x.dims());
      for (int d = 0; d < c.length; d++) {
        c[d] += before[d];
      }
      dx[i] = dy.data()[offset(c, dy.shape().dims())];
    }
    return dx;
  }

  private static float[] naiveBinary(FloatTensor a, FloatTensor b, Shape out, Op.BinaryKind k) {
    float[] y = new float[out.size()];
    for (int i = 0; i < y.length; i++) {
      int[] c = coords(i, out.dims());
      float u = a.data()[offset(c, a.shape().dims())];
      float v = b.data()[offset(c, b.shape().dims())];
      y[i] = dev.segcam.kernels.LayoutKernels.binaryOp(k, u, v);
    }
    return y;
  }

  private static float[] naiveBinaryGrad(
      Op.BinaryKind k, boolean wrtA, FloatTensor dy, FloatTensor a, FloatTensor b, Shape g) {
    double[] acc = new double[g.size()];
    int[] od = dy.shape().dims();
    for (int i = 0; i < dy.data().length; i++) {
      int[] c = coords(i, od);
      float u = a.data()[offset(c, a.shape().dims())];
      float v = b.data()[offset(c, b.shape().dims())];
      acc[offset(c, g.dims())] +=
          dev.segcam.kernels.LayoutKernels.binaryPartial(k, wrtA, dy.data()[i], u, v);
    }
    float[] out = new float[acc.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) acc[i];
    }
    return out;
  }
}
