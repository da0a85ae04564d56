package dev.segcam.backend;

import dev.segcam.ir.Shape;

/**
 * The argument checks of {@link CamBackend#scoreSeed}, shared by the host and device backends so
 * both refuse the same requests with the same messages.
 */
public final class SeedChecks {
  private SeedChecks() {}

  /**
   * The number of targets K of a {@link CamBackend#scoreSeed} call, after checking its argument
   * counts: {@code d} the values' (N,oh,ow,C), masks (N*K,oh,ow), one class and mode per row and
   * room for one score per row.
   *
   * @throws CamStepException if the counts do not fit together
   */
  public static int targets(int[] d, Shape masks, int[] classes, SeedMode[] modes, float[] scores) {
    int rows = classes.length;
    int px = d[1] * d[2];
    int k = KernelCamBackend.targets(d[0], rows, "scoreSeed");
    if (modes.length != rows || scores.length < rows) {
      throw new CamStepException(
          "scoreSeed: "
              + rows
              + " classes, "
              + modes.length
              + " modes, "
              + scores.length
              + " scores");
    }
    if (masks.size() != rows * px) {
      throw new CamStepException("masks hold " + masks.size() + " values, need " + rows * px);
    }
    return k;
  }

  /**
   * The score mode of target {@code t} (rows {@code t*n .. t*n+n-1}), after checking that its rows
   * agree on the mode, that the mode fits {@code ch} output channels and that its classes are in
   * range (a single channel has the two classes 0 and 1).
   *
   * @throws CamStepException if a class of the target is out of range
   * @throws CamStepException if the rows mix modes or the mode does not fit the channel count
   */
  public static SeedMode targetMode(int[] classes, SeedMode[] modes, int t, int n, int ch) {
    SeedMode mode = modes[t * n];
    for (int i = 1; i < n; i++) {
      if (modes[t * n + i] != mode) {
        throw new CamStepException("rows of target " + t + " mix score modes");
      }
    }
    if (mode == SeedMode.SIGMOID && ch != 1) {
      throw new CamStepException("sigmoid score on " + ch + " channels: it is for single channels");
    }
    if (mode == SeedMode.SOFTMAX && ch == 1) {
      throw new CamStepException("softmax score on a single channel is constant; use sigmoid");
    }
    for (int i = t * n; i < (t + 1) * n; i++) {
      int c = classes[i];
      if (c < 0 || c >= (ch == 1 ? 2 : ch)) {
        throw new CamStepException(
            "class " + c + " of target " + t + " is out of range for " + ch + " output channels");
      }
    }
    return mode;
  }
}
