package dev.segcam.image;

import dev.segcam.SegcamException;
import dev.segcam.kernels.ColormapKernels;
import java.util.Locale;

/**
 * Colormaps for heatmaps: a value t in [0,1] (clamped; NaN reads as 0) -> RGB in [0,1].
 *
 * <p>{@link #JET} is {@code ColormapKernels.jet}, the function of the {@code colormap_blend} kernel
 * (kernels/colormap.cu), so PNGs made here and on the GPU agree byte for byte:
 *
 * <pre>
 *   r = clamp(1.5 − |4t − 3|, 0, 1)   g = clamp(1.5 − |4t − 2|, 0, 1)   b = clamp(1.5 − |4t − 1|, 0, 1)
 * </pre>
 */
public enum Colormaps {
  /** dark blue (0,0,.5) at 0 through cyan, yellow to dark red (.5,0,0) at 1, as MATLAB's jet. */
  JET {
    @Override
    public void rgb(float t, float[] out) {
      jet(t, out);
    }
  },
  /** black to white. */
  GRAY {
    @Override
    public void rgb(float t, float[] out) {
      float x = clampT(t);
      out[0] = x;
      out[1] = x;
      out[2] = x;
    }
  },
  /** black, red, yellow, white (MATLAB's hot, unquantised). */
  HOT {
    @Override
    public void rgb(float t, float[] out) {
      float x = clampT(t);
      out[0] = clamp01(x * 8f / 3f);
      out[1] = clamp01(x * 8f / 3f - 1f);
      out[2] = clamp01(x * 4f - 3f);
    }
  };

  /** Writes the colour of t into out[0..2], each in [0,1]. */
  public abstract void rgb(float t, float[] out);

  /** The colour of t as 0xRRGGBB, channels rounded half up. */
  public int packed(float t) {
    float[] c = new float[3];
    rgb(t, c);
    return (to8(255f * c[0]) << 16) | (to8(255f * c[1]) << 8) | to8(255f * c[2]);
  }

  /** Looks a colormap up by its name, case-insensitively ("jet", "gray"/"grey", "hot"). */
  public static Colormaps byName(String name) {
    String n = name.trim().toUpperCase(Locale.ROOT);
    if (n.equals("GREY")) {
      return GRAY;
    }
    for (Colormaps c : values()) {
      if (c.name().equals(n)) {
        return c;
      }
    }
    throw new SegcamException("unknown colormap '" + name + "'; known: jet, gray, hot");
  }

  /** The jet colormap: {@link ColormapKernels#jet}, the CPU twin of kernels/colormap.cu. */
  public static void jet(float t, float[] rgb) {
    ColormapKernels.jet(t, rgb);
  }

  static float clampT(float t) {
    return t > 0f ? Math.min(t, 1f) : 0f; // NaN fails t > 0 and becomes 0
  }

  static float clamp01(float v) {
    return v > 0f ? Math.min(v, 1f) : 0f;
  }

  /** Rounded half up and clamped to a byte, as the kernels do: (int)(v + 0.5). */
  static int to8(float v) {
    int i = (int) (v + 0.5f);
    return i < 0 ? 0 : Math.min(i, 255);
  }
}
