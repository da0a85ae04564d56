package dev.segcam.spark;

import dev.segcam.SegcamException;

/**
 * A frame or job setting the Spark integration cannot use: a bad target spec, a model that cannot
 * be fetched, or (with {@link ExplainSpec.OnError#FAIL}) a frame that could not be explained; the
 * message names the frame's path or the setting.
 */
public class SparkExplainException extends SegcamException {
  public SparkExplainException(String message) {
    super(message);
  }

  public SparkExplainException(String message, Throwable cause) {
    super(message, cause);
  }
}
