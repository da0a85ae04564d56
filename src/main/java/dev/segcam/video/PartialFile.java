package dev.segcam.video;

import dev.segcam.io.Rollback;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * An output written under OUT.partial and renamed to OUT only once complete, so a file with the
 * final name is always whole; after a failure the frames written so far stay in OUT.partial.
 */
final class PartialFile {
  final Path target;
  final Path partial;
  private final Rollback.Registration onSignal;
  private volatile Runnable beforeUndo = () -> {};
  private volatile boolean committed;

  PartialFile(Path target) {
    this.target = target.toAbsolutePath();
    this.partial = this.target.resolveSibling(this.target.getFileName() + ".partial");
    try {
      Files.createDirectories(this.target.getParent());
      Files.deleteIfExists(partial);
    } catch (IOException e) {
      throw new VideoException("cannot prepare " + partial + ": " + e.getMessage(), e);
    }
    onSignal = Rollback.register(this::undo);
  }

  /** Runs before the partial file is removed at a signal (e.g. stops the ffmpeg writing it). */
  void beforeUndo(Runnable r) {
    beforeUndo = r;
  }

  /** The signal-time cleanup: no partial file stays. */
  private String undo() {
    if (committed) {
      return target + " is complete";
    }
    beforeUndo.run();
    discard();
    return "removed the incomplete " + partial;
  }

  /** Forgets the signal-time cleanup: the run ended and reported what it left. */
  void release() {
    onSignal.close();
  }

  void commit() {
    Rollback.commit(this::rename);
    committed = true;
    release();
  }

  private void rename() {
    try {
      try {
        Files.move(
            partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new VideoException(
          "cannot rename " + partial + " to " + target + ": " + e.getMessage(), e);
    }
  }

  /** Removes the partial file (nothing worth keeping was written). */
  void discard() {
    try {
      Files.deleteIfExists(partial);
    } catch (IOException ignored) {
      // best effort: the run already failed and says so
    }
    release(); // after the delete: a signal meanwhile finds the step and waits for its undo
  }

  String leftover() {
    return Files.exists(partial)
        ? "the frames written so far are in " + partial + " (incomplete)"
        : "";
  }
}
