package dev.segcam.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.segcam.ir.Op;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The twin's own erf, and the kind codes of unary.cu and binary.cu against the IR's enums. */
class UnaryKernelsTest {
  /** Relative accuracy asked of the double erf (a few ulps of double; float needs 6e-8). */
  private static final double ERF_RTOL = 1e-14;

  @Test
  void erfMatchesReferenceValues() {
    // erf at x, to 16 digits (Abramowitz & Stegun table 7.1 / high-precision evaluation)
    double[][] ref = {
      {0.0, 0.0},
      {1e-8, 1.1283791670955126e-8},
      {-0.1, -0.1124629160182849},
      {0.5, 0.5204998778130465},
      {1.0, 0.8427007929497149},
      {2.0, 0.9953222650189527},
      {3.5, 0.9999992569016276},
      {-3.9, -0.9999999652077514}
    };
    for (double[] r : ref) {
      double got = UnaryKernels.erf(r[0]);
      assertEquals(r[1], got, Math.abs(r[1]) * ERF_RTOL + 1e-300, "erf(" + r[0] + ")");
    }
    assertEquals(1.0f, (float) UnaryKernels.erf(4.5));
    assertEquals(-1.0f, (float) UnaryKernels.erf(-40));
  }

  @Test
  void kernelCodesMatchTheIrKindsByName() {
    Map<String, Integer> un = HostKernels.codes("UN_");
    assertEquals(Op.UnaryKind.values().length, un.size());
    for (Op.UnaryKind k : Op.UnaryKind.values()) {
      assertEquals(k.code, un.get("UN_" + k.name()), k.name());
    }
    Map<String, Integer> bin = HostKernels.codes("BIN_");
    assertEquals(Op.BinaryKind.values().length, bin.size());
    for (Op.BinaryKind k : Op.BinaryKind.values()) {
      assertEquals(k.code, bin.get("BIN_" + k.name()), k.name());
    }
  }
}
