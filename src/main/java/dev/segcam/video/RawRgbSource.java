package dev.segcam.video;

import java.io.IOException;
import java.io.InputStream;

/**
 * Packed rgb24 frames (W*H*3 bytes each, row-major, no header) from a stream: stdin ({@code segcam
 * video ... -} with --size) or ffmpeg's stdout. A stream that ends inside a frame yields that frame
 * as a failed item saying how many bytes were missing, then ends.
 */
public class RawRgbSource implements FrameSource {
  private final InputStream in;
  private final int width;
  private final int height;
  private final String what;
  private long index;
  private boolean ended;

  public RawRgbSource(InputStream in, int width, int height, String what) {
    if (width <= 0 || height <= 0 || (long) width * height > dev.segcam.image.Images.MAX_PIXELS) {
      throw new VideoException("bad frame size " + width + "x" + height + " for " + what);
    }
    this.in = in;
    this.width = width;
    this.height = height;
    this.what = what;
  }

  /** The frame size as WxH, as every message about these frames spells it. */
  public String size() {
    return width + "x" + height;
  }

  @Override
  public FrameItem next() {
    if (ended) {
      return null;
    }
    byte[] buf = new byte[width * height * 3];
    int got;
    try {
      got = in.readNBytes(buf, 0, buf.length);
    } catch (IOException e) {
      throw new VideoException("cannot read frame " + index + " from " + what + ": " + e, e);
    }
    if (got == 0) {
      ended = true;
      return null;
    }
    FrameItem item = new FrameItem(index, "frame " + index + " of " + what);
    index++;
    if (got < buf.length) {
      ended = true;
      item.fail(
          what
              + " ended inside this frame: got "
              + got
              + " of "
              + buf.length
              + " bytes ("
              + size()
              + " rgb24); is the frame size right?");
      return item;
    }
    item.frame = Frames.fromRgb24(buf, width, height);
    return item;
  }

  @Override
  public String describe() {
    return what + " (raw rgb24 " + size() + ")";
  }
}
