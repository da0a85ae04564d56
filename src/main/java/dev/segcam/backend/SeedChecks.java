package dev.segcam.backend;

/**
 * The argument checks of {@link CamBackend#scoreSeed}, shared by the host and device backends so
 * both refuse the same requests with the same messages.
 */
public final class SeedChecks {
  private SeedChecks() {}

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
