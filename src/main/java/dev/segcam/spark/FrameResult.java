package dev.segcam.spark;

import java.io.Serializable;
import java.util.List;

/**
 * What one frame gave: one {@link Cam} per target (in the spec's order), or an error.
 *
 * @param path the frame's path
 * @param cams one per target, empty when {@code error} is set
 * @param error null, or one line naming the frame and what was wrong with it
 */
public record FrameResult(String path, List<Cam> cams, String error) implements Serializable {

  /**
   * One target's heatmap for a frame.
   *
   * @param target index of the target in the spec
   * @param spec the target as given ("3", "3:whole", ...)
   * @param classIndex the class
   * @param layer the layer explained
   * @param score the target's score S (NaN when its region is empty in this frame)
   * @param weights channel weights a_k, or null for element-wise methods
   * @param height heatmap height (the model's input size)
   * @param width heatmap width
   * @param heatmap row-major values in [0,1], or null when not asked for
   * @param png the heatmap as 8-bit grey PNG bytes (255 = hottest), or null when not asked for
   */
  public record Cam(
      int target,
      String spec,
      int classIndex,
      String layer,
      float score,
      float[] weights,
      int height,
      int width,
      float[] heatmap,
      byte[] png)
      implements Serializable {}

  public boolean failed() {
    return error != null;
  }
}
