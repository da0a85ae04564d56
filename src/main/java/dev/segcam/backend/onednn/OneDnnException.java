package dev.segcam.backend.onednn;

import dev.segcam.SegcamException;

/**
 * A oneDNN call failed: the primitive (and shape) that was being created or run, and oneDNN's own
 * status text. Thrown right where the native call returns.
 */
public class OneDnnException extends SegcamException {
  public OneDnnException(String message) {
    super(message);
  }

  public OneDnnException(String message, Throwable cause) {
    super(message, cause);
  }
}
