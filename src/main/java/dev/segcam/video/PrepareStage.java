package dev.segcam.video;

/**
 * Resizes each frame to the model's input (bilinear, half-pixel centres) as float RGB in [0,1]. A
 * model whose input size is not fixed takes the first frame's size for the whole run, so that
 * frames batch together.
 */
public final class PrepareStage extends FrameStage {
  private int height;
  private int width;

  /**
   * @param height,width the model's input size, or -1 when the graph leaves it open
   */
  public PrepareStage(int height, int width) {
    super("prepare");
    this.height = height;
    this.width = width;
  }

  @Override
  void processFrame(FrameItem it) {
    if (it.failed()) {
      return;
    }
    if (height <= 0 || width <= 0) {
      height = it.frame.getHeight();
      width = it.frame.getWidth();
    }
    it.input = Frames.toModelInput(it.frame, height, width);
    it.inH = height;
    it.inW = width;
  }
}
