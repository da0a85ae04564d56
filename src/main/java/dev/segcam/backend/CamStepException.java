package dev.segcam.backend;

import dev.segcam.SegcamException;

/**
 * A CAM step of a backend ({@link CamBackend}) was called with arguments that do not fit: shapes
 * that do not match, rows that are not a multiple of the images, a class outside the output's
 * channels. The pipeline ({@code dev.segcam.cam.Explainer}) checks user input before it reaches a
 * backend, so this names a wrong call, with the shapes.
 */
public class CamStepException extends SegcamException {
  public CamStepException(String message) {
    super(message);
  }
}
