package dev.segcam.spark;

import java.io.Serializable;

/**
 * One input frame: either encoded file bytes (PNG, JPEG, ... as Spark's {@code binaryFile} source
 * reads them) or decoded pixels in Spark's image schema (8-bit, BGR(A) or grey, row-major, as its
 * {@code image} source stores them), with the path that names it in errors and output rows.
 *
 * @param path where the frame came from (for rows and error messages)
 * @param encoded the file's bytes, or null for decoded pixels
 * @param height decoded height (decoded frames only)
 * @param width decoded width
 * @param channels 1 (grey), 3 (BGR) or 4 (BGRA)
 * @param pixels decoded bytes, height * width * channels, or null for encoded frames
 */
public record Frame(String path, byte[] encoded, int height, int width, int channels, byte[] pixels)
    implements Serializable {

  /** A frame as file bytes. */
  public static Frame encoded(String path, byte[] bytes) {
    return new Frame(path, bytes, 0, 0, 0, null);
  }

  /** A frame in Spark's image schema (its {@code data}, {@code height}, ... fields). */
  public static Frame decoded(String path, int height, int width, int channels, byte[] pixels) {
    return new Frame(path, null, height, width, channels, pixels);
  }
}
