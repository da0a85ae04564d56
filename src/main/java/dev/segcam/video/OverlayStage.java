package dev.segcam.video;

import dev.segcam.image.Colormaps;
import dev.segcam.image.Overlays;
import java.awt.image.BufferedImage;

/**
 * Smooths heatmaps across frames and draws them over the frames: one overlay per target, side by
 * side. Smoothing is an exponential moving average per target, s_t = a·s_(t−1) + (1 − a)·h_t, with
 * a = --smooth (0 = off), taken on the [0,1] maps at the model's resolution; frames run through
 * this stage in order, so the average follows the video. A failed frame leaves the average alone
 * and is drawn without overlay (a video keeps its timeline).
 */
public final class OverlayStage extends FrameStage {
  private final int targets;
  private final float smooth;
  private final float alpha;
  private final Colormaps cmap;
  private final float[][] state;

  public OverlayStage(int targets, float smooth, float alpha, Colormaps cmap) {
    super("overlay");
    if (!(smooth >= 0f && smooth < 1f)) {
      throw new VideoException(
          "--smooth must be in [0,1) (weight of the previous frames; 0 = off), got " + smooth);
    }
    if (!(alpha >= 0f && alpha <= 1f)) {
      throw new VideoException("--alpha must be in [0,1], got " + alpha);
    }
    this.targets = targets;
    this.smooth = smooth;
    this.alpha = alpha;
    this.cmap = cmap;
    this.state = new float[targets][];
  }

  @Override
  void processFrame(FrameItem it) {
    if (it.frame == null) {
      return;
    }
    BufferedImage[] parts = new BufferedImage[targets];
    if (it.failed() || it.heatmaps == null) {
      java.util.Arrays.fill(parts, it.frame);
      it.output = Frames.tile(parts);
      return;
    }
    int fh = it.frame.getHeight();
    int fw = it.frame.getWidth();
    for (int t = 0; t < targets; t++) {
      float[] h = it.heatmaps[t];
      if (smooth > 0f) {
        float[] s = state[t];
        if (s != null && s.length == h.length) {
          float[] m = new float[h.length];
          for (int i = 0; i < h.length; i++) {
            m[i] = smooth * s[i] + (1f - smooth) * h[i];
          }
          h = m;
        }
        state[t] = h;
        it.heatmaps[t] = h;
      }
      float[] big = Frames.resizeMap(h, it.inH, it.inW, fh, fw);
      parts[t] = Overlays.blend(it.frame, big, fh, fw, alpha, cmap);
    }
    it.output = Frames.tile(parts);
  }
}
