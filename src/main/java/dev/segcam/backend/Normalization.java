package dev.segcam.backend;

/**
 * How an upsampled heatmap is scaled to [0,1]. {@link #perMap()}: (L - min) / (max - min) per map,
 * as pytorch-grad-cam does (a constant map becomes all zeros). {@link #fixed(float)}: clamp(L /
 * scale, 0, 1), the same for every map, so that the frames of a video stay comparable (maps are
 * after a ReLU, so 0 is their natural floor).
 */
public record Normalization(boolean isPerMap, float scale) {
  public Normalization {
    if (!isPerMap && !(scale > 0f && Float.isFinite(scale))) {
      throw new IllegalArgumentException(
          "fixed normalisation needs a finite scale > 0, got " + scale);
    }
  }

  public static Normalization perMap() {
    return new Normalization(true, 1f);
  }

  public static Normalization fixed(float scale) {
    return new Normalization(false, scale);
  }
}
