package dev.segcam.video;

import java.util.List;

/**
 * A stage that handles each frame on its own (batches of one): the loop over a batch and the
 * stage's name live here, the work on one frame in {@link #processFrame}.
 */
abstract class FrameStage implements Stage {
  private final String name;

  FrameStage(String name) {
    this.name = name;
  }

  @Override
  public final String name() {
    return name;
  }

  @Override
  public final void process(List<FrameItem> batch) {
    for (FrameItem it : batch) {
      processFrame(it);
    }
  }

  /** One frame, in input order; a failed item is left as it is (see {@link Stage}'s contract). */
  abstract void processFrame(FrameItem it);
}
