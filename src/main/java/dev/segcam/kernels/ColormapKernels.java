package dev.segcam.kernels;

import static dev.segcam.kernels.KernelArgs.length;
import static dev.segcam.kernels.KernelArgs.positive;

/** Java twins of kernels/colormap.cu (conventions as in {@link CpuKernels}). */
public final class ColormapKernels {
  private ColormapKernels() {}

  /**
   * The 'jet' colormap as a piecewise-linear function of t in [0,1] (clamped; NaN reads as 0):
   *
   * <pre>
   *   r = clamp(1.5 − |4t − 3|, 0, 1)
   *   g = clamp(1.5 − |4t − 2|, 0, 1)
   *   b = clamp(1.5 − |4t − 1|, 0, 1)
   * </pre>
   *
   * dark blue (0,0,.5) at 0, blue at 1/8, cyan at 3/8, yellow at 5/8, red at 7/8, dark red (.5,0,0)
   * at 1: MATLAB's and matplotlib's jet up to their 64/256-entry quantisation.
   *
   * @return rgb in [0,1] written into {@code rgb[0..2]}
   */
  public static void jet(float t, float[] rgb) {
    float x = t > 0f ? Math.min(t, 1f) : 0f;
    rgb[0] = clamp01(1.5f - Math.abs(4f * x - 3f));
    rgb[1] = clamp01(1.5f - Math.abs(4f * x - 2f));
    rgb[2] = clamp01(1.5f - Math.abs(4f * x - 1f));
  }

  private static float clamp01(float v) {
    return v > 0f ? Math.min(v, 1f) : 0f;
  }

  /**
   * Heatmap overlay: each pixel becomes (1 − alpha)·image + alpha·255·jet(map), rounded half up,
   * with an opaque alpha byte. Bytes are unsigned (Java's signed bytes are read with & 0xFF).
   *
   * <p>{@code // map (H,W) in [0,1], image RGB8 (H,W,3), alpha in [0,1] -> rgba RGBA8 (H,W,4)}
   *
   * <p>A batch (N,H,W) is the same call with H·N rows.
   */
  public static void colormap_blend(
      byte[] rgba, float[] map, byte[] image, int H, int W, float alpha) {
    int hw = positive("H", H) * positive("W", W);
    length("rgba", rgba, 4L * hw);
    length("map", map, hw);
    length("image", image, 3L * hw);
    if (!(alpha >= 0f && alpha <= 1f)) {
      throw new KernelArgumentException("colormap_blend: alpha must be in [0,1], got " + alpha);
    }
    float keep = 1f - alpha;
    float[] rgb = new float[3];
    for (int p = 0; p < hw; p++) {
      jet(map[p], rgb);
      for (int ch = 0; ch < 3; ch++) {
        float v = keep * (image[3 * p + ch] & 0xFF) + alpha * (255f * rgb[ch]);
        rgba[4 * p + ch] = (byte) toByte(v);
      }
      rgba[4 * p + 3] = (byte) 255;
    }
  }

  private static int toByte(float v) {
    int i = (int) (v + 0.5f);
    return i < 0 ? 0 : Math.min(i, 255);
  }
}
