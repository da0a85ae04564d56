package dev.segcam.video;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import javax.imageio.ImageIO;

/**
 * One PNG per frame, frame_000000.png, … in a directory. Each file is written under a hidden
 * temporary name and renamed once whole, so every PNG present is complete; after a failure (a full
 * disk) the finished frames remain and the temporary file is removed. A failed frame is written
 * unannotated so the sequence has no holes; the run reports it.
 */
public final class PngSequenceSink implements FrameSink {
  /** Opens a file for writing (tests inject one that fails like a full disk). */
  @FunctionalInterface
  interface Opener {
    OutputStream open(Path file) throws IOException;
  }

  private final Path dir;
  private final Opener opener;
  private long written;

  public PngSequenceSink(Path dir) {
    this(dir, Files::newOutputStream);
  }

  PngSequenceSink(Path dir, Opener opener) {
    this.dir = dir;
    this.opener = opener;
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new VideoException("cannot create output directory " + dir + ": " + e.getMessage(), e);
    }
  }

  /** The file of frame i. */
  public static String fileName(long index) {
    return String.format("frame_%06d.png", index);
  }

  /** The temporary name frame i is written under before the rename. */
  static String tempName(long index) {
    return "." + fileName(index) + ".partial";
  }

  @Override
  public void write(FrameItem item) {
    BufferedImage img = item.output != null ? item.output : item.frame;
    if (img == null) {
      return; // nothing decoded: reported by the run, no image to write
    }
    Path target = dir.resolve(fileName(item.index));
    Path tmp = dir.resolve(tempName(item.index));
    try {
      ByteArrayOutputStream png = new ByteArrayOutputStream(1 << 16);
      if (!ImageIO.write(img, "png", png)) {
        throw new VideoException("no PNG writer for image type " + img.getType());
      }
      try (OutputStream out = opener.open(tmp)) {
        png.writeTo(out);
      }
      try {
        Files.move(
            tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // the write error below is the one that matters
      }
      throw new VideoException(
          "cannot write frame " + item.index + " to " + target + ": " + e.getMessage(), e);
    }
    written++;
  }

  @Override
  public void finish() {}

  @Override
  public void abort() {}

  @Override
  public String leftover() {
    return written == 0 ? "" : written + " finished PNG(s) remain in " + dir;
  }

  @Override
  public String describe() {
    return "PNG sequence in " + dir;
  }
}
