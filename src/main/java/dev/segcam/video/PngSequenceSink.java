package dev.segcam.video;

import dev.segcam.image.ImageException;
import dev.segcam.image.Images;
import dev.segcam.io.Rollback;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * One PNG per frame, frame_000000.png, … in a directory. Each file is written under a hidden
 * temporary name and renamed once whole, so every PNG present is complete; after a failure (a full
 * disk) the finished frames remain and the temporary file is removed. A failed frame is written
 * unannotated so the sequence has no holes; the run reports it.
 */
public final class PngSequenceSink implements FrameSink {
  private final Path dir;
  private final Images.StreamOpener opener;
  private volatile long written;
  private final int replaced;
  private Rollback.Registration onSignal;

  public PngSequenceSink(Path dir) {
    this(dir, Files::newOutputStream);
  }

  /** Writes through {@code opener} (tests inject one that fails like a full disk). */
  PngSequenceSink(Path dir, Images.StreamOpener opener) {
    this.dir = dir;
    this.opener = opener;
    try {
      Files.createDirectories(dir);
      replaced = removeEarlierFrames(dir);
    } catch (IOException e) {
      throw new VideoException("cannot prepare output directory " + dir + ": " + e.getMessage(), e);
    }
    // each frame is renamed into place whole: at a signal the finished ones stay, nothing else
    onSignal = Rollback.register(() -> written + " whole frame(s) kept in " + dir);
  }

  /** A frame file of any run: frame_NNNNNN.png. */
  private static final java.util.regex.Pattern FRAME_FILE =
      java.util.regex.Pattern.compile("frame_\\d{6,}\\.png");

  /**
   * Removes the frames an earlier run left in {@code dir}, so the folder never holds two runs (a
   * 30-frame run over a 60-frame one would otherwise leave frames 30-59 of the old one). Other
   * files are left alone. Returns how many frames were removed.
   */
  private static int removeEarlierFrames(Path dir) throws IOException {
    int n = 0;
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : s.toList()) {
        if (FRAME_FILE.matcher(p.getFileName().toString()).matches()
            && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          Files.delete(p);
          n++;
        }
      }
    }
    return n;
  }

  /** The file of frame i. */
  public static String fileName(long index) {
    return String.format("frame_%06d.png", index);
  }

  @Override
  public void write(FrameItem item) {
    BufferedImage img = item.output != null ? item.output : item.frame;
    if (img == null) {
      return; // nothing decoded: reported by the run, no image to write
    }
    Path target = dir.resolve(fileName(item.index));
    try {
      Images.writePng(img, target, opener);
    } catch (ImageException e) {
      String why = e.getCause() instanceof IOException io ? io.getMessage() : e.getMessage();
      throw new VideoException(
          "cannot write frame " + item.index + " to " + target + ": " + why, e);
    }
    written++;
  }

  @Override
  public void finish() {
    onSignal.close();
  }

  @Override
  public void abort() {
    onSignal.close();
  }

  @Override
  public String leftover() {
    return written == 0 ? "" : written + " finished PNG(s) remain in " + dir;
  }

  @Override
  public String describe() {
    return "PNG sequence in "
        + dir
        + (replaced > 0 ? " (replacing the " + replaced + " frames of an earlier run)" : "");
  }
}
