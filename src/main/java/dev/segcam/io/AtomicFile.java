package dev.segcam.io;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Atomic file writes: the bytes go into a hidden temporary file beside the target, which is then
 * renamed over it, so a reader never sees a half-written file and a failure leaves no debris.
 *
 * <p>The temporary file is created with {@link Files#createFile} and no explicit permissions, so
 * its mode (kept by the rename) follows the process umask like any other file the user creates
 * (0644 under umask 022). {@link Files#createTempFile} would make it 0600.
 */
public final class AtomicFile {
  private static final int NAME_TRIES = 100;

  private AtomicFile() {}

  /** Opens the stream a file is written through (a seam for tests that simulate a full disk). */
  @FunctionalInterface
  public interface StreamOpener {
    OutputStream open(Path file) throws IOException;
  }

  /** Writes the content of a file. */
  @FunctionalInterface
  public interface Content {
    void writeTo(OutputStream out) throws IOException;
  }

  /**
   * Writes {@code file} atomically through {@code opener}, creating missing parent directories.
   * IOExceptions are the caller's to word.
   */
  public static void write(Path file, Content content, StreamOpener opener) throws IOException {
    Path abs = file.toAbsolutePath();
    Path tmp = null;
    boolean moved = false;
    // a write under way: a signal's rollback waits for it to end (it ends at its next check),
    // so it never leaves a file or folder behind
    Rollback.beginWrite();
    try {
      Files.createDirectories(abs.getParent());
      tmp = createTempBeside(abs);
      try (OutputStream out = opener.open(tmp)) {
        content.writeTo(out);
      }
      Path from = tmp;
      // under the commit lock: a signal's rollback either sees the whole file or no file
      Rollback.commit(
          () -> {
            try {
              move(from, abs);
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          });
      moved = true;
    } catch (UncheckedIOException e) {
      throw e.getCause();
    } finally {
      if (!moved) {
        deleteQuietly(tmp);
      }
      Rollback.endWrite();
    }
  }

  private static String deleteQuietly(Path p) {
    try {
      if (p != null) {
        Files.deleteIfExists(p);
      }
    } catch (IOException ignored) {
      // the original error is the one to report
    }
    return "";
  }

  /** {@link #write(Path, Content, StreamOpener)} with a plain file stream. */
  public static void write(Path file, byte[] bytes) throws IOException {
    write(file, out -> out.write(bytes), Files::newOutputStream);
  }

  /** Renames {@code from} to {@code to}, atomically where the file system can, replacing it. */
  public static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** A new empty hidden file {@code .<name>.<random>.tmp} beside {@code target}, umask mode. */
  static Path createTempBeside(Path target) throws IOException {
    Path dir = target.getParent();
    String name = target.getFileName().toString();
    FileAlreadyExistsException last = null;
    for (int i = 0; i < NAME_TRIES; i++) {
      long r = ThreadLocalRandom.current().nextLong() >>> 1;
      try {
        return Files.createFile(dir.resolve("." + name + "." + Long.toString(r, 36) + ".tmp"));
      } catch (FileAlreadyExistsException e) {
        last = e;
      }
    }
    throw last;
  }
}
