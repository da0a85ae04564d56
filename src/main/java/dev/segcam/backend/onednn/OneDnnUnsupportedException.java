package dev.segcam.backend.onednn;

/**
 * oneDNN has no primitive for this op, these attributes or this shape (e.g. resize with
 * TensorFlow's legacy corner rule, a transposed convolution that would need negative padding).
 * Thrown when the primitive is planned, never while it runs: the caller uses the Java engine's op
 * instead.
 */
public class OneDnnUnsupportedException extends OneDnnException {
  public OneDnnUnsupportedException(String message) {
    super(message);
  }
}
