package dev.segcam.backend.cpu;

import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;

/** The dims of an image tensor (N,H,W,C), checked once where a shape is unpacked. */
public record Nhwc(int n, int h, int w, int c) {
  /** s as (N,H,W,C); a {@link ShapeException} naming s unless it has rank 4. */
  public static Nhwc of(Shape s) {
    if (s.rank() != 4) {
      throw new ShapeException("expected an NHWC tensor (rank 4), got " + s);
    }
    return new Nhwc(s.dim(0), s.dim(1), s.dim(2), s.dim(3));
  }

  /** The number of elements. */
  public int size() {
    return n * h * w * c;
  }
}
