package dev.segcam.eval;

import dev.segcam.SegcamException;

/** Unusable input to a metric: sizes that do not match, an empty mask, a bad option. */
public class EvalException extends SegcamException {
  public EvalException(String message) {
    super(message);
  }
}
