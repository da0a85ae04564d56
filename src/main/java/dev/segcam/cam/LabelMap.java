package dev.segcam.cam;

/**
 * A per-pixel class map of one image at the model's output resolution (row-major, y then x): the
 * model's prediction (argmax over channels; for single-channel outputs 1 where the logit is > 0,
 * i.e. sigmoid > 0.5, else 0).
 */
public record LabelMap(int height, int width, int[] classes) {
  public LabelMap {
    if (classes.length != height * width) {
      throw new IllegalArgumentException(
          "label map " + height + "x" + width + " needs " + height * width + " entries");
    }
  }

  public int get(int x, int y) {
    return classes[y * width + x];
  }

  /** Number of pixels labelled c. */
  public int count(int c) {
    int n = 0;
    for (int v : classes) {
      if (v == c) {
        n++;
      }
    }
    return n;
  }

  // labels (N,oh,ow) as floats (the backend's argmax) -> one map per image
  static LabelMap[] ofLabels(float[] labels, int n, int oh, int ow) {
    LabelMap[] out = new LabelMap[n];
    for (int i = 0; i < n; i++) {
      int[] cls = new int[oh * ow];
      for (int p = 0; p < cls.length; p++) {
        cls[p] = (int) labels[i * oh * ow + p];
      }
      out[i] = new LabelMap(oh, ow, cls);
    }
    return out;
  }
}
