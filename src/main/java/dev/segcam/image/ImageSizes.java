package dev.segcam.image;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/** Image sizes from file headers, to import a model at the size it will see. */
public final class ImageSizes {
  private ImageSizes() {}

  /** (height, width) when every image's header gives the same size; null otherwise. */
  public static int[] common(List<Path> files) {
    int[] common = null;
    for (Path f : files) {
      int[] hw = headerSize(f);
      if (hw == null || (common != null && !Arrays.equals(common, hw))) {
        return null;
      }
      common = hw;
    }
    return common;
  }

  /** An image's (height, width) from its header, or null if no reader knows it. */
  private static int[] headerSize(Path f) {
    try (ImageInputStream in = ImageIO.createImageInputStream(f.toFile())) {
      if (in == null) {
        return null;
      }
      Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
      if (!readers.hasNext()) {
        return null;
      }
      ImageReader r = readers.next();
      try {
        r.setInput(in, true, true);
        return new int[] {r.getHeight(0), r.getWidth(0)};
      } finally {
        r.dispose();
      }
    } catch (IOException | RuntimeException e) {
      return null; // the image's own read reports what is wrong with it
    }
  }
}
