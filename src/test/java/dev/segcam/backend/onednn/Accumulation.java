package dev.segcam.backend.onednn;

import dev.segcam.testing.Tolerance;

/**
 * Tolerances for comparing two float32 implementations of a sum of k products of operands of
 * magnitude at most about 1 (the tests draw them so). Each adds k rounding errors of at most
 * u·|partial sum| (u = 2^-24) in its own order; partial sums stay below about k·max|term|, and in a
 * random order the errors add like a random walk, so the typical difference is about u·k·sqrt(k) in
 * the worst ordering and u·k in practice. We allow SAFETY·u·k absolute (order-independent), plus a
 * few ulps relative for the final rounding of large results.
 */
final class Accumulation {
  private Accumulation() {}

  static final double U = 0x1p-24;

  /** Headroom over the typical u·k for blocked/Winograd orders (Winograd adds ~4x). */
  static final double SAFETY = 16;

  /** Relative slack for the last roundings (one add, one multiply, a store). */
  static final double RTOL = 8 * U;

  /** For results that each sum k products of operands in about [-1, 1]. */
  static Tolerance overTerms(int k) {
    return new Tolerance(RTOL, SAFETY * U * Math.max(k, 1));
  }

  /** Element-wise math (one transcendental per value, no reduction). */
  static final Tolerance ELEMENTWISE = new Tolerance(1e-6, 1e-7);
}
