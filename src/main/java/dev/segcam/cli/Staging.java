package dev.segcam.cli;

import dev.segcam.SegcamException;
import dev.segcam.image.Images;
import dev.segcam.io.AtomicFile;
import dev.segcam.io.Rollback;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * All-or-nothing output: files are written into a hidden staging folder inside the output folder
 * and moved to their final names only when the whole run succeeded. A run that fails half way
 * leaves the output folder as it found it (and removes it if the run created it).
 */
final class Staging implements AutoCloseable {
  private final Path out;
  private volatile Path stage;
  private final boolean createdOut;
  private final List<String> files = new ArrayList<>();
  private boolean committed;
  private final Rollback.Registration onSignal;

  Staging(Path out) {
    this.out = out.toAbsolutePath().normalize();
    if (Files.exists(this.out) && !Files.isDirectory(this.out)) {
      throw new SegcamException("output " + out + " exists and is not a directory");
    }
    createdOut = !Files.exists(this.out);
    // registered before anything is created: a signal during the creation undoes it too
    onSignal = Rollback.register(this::undo);
    Rollback.beginWrite(); // a signal's rollback waits for the folders to exist, then undoes them
    try {
      Files.createDirectories(this.out);
      stage = Files.createTempDirectory(this.out, ".segcam-staging-");
    } catch (IOException e) {
      onSignal.close();
      throw new SegcamException("cannot create output directory " + out + ": " + e.getMessage(), e);
    } finally {
      Rollback.endWrite();
    }
  }

  /** The signal-time cleanup: what close() does for a run that did not commit. */
  private String undo() {
    cleanUp();
    if (committed) {
      return "the run's outputs were complete in " + out;
    }
    return createdOut
        ? "no output written (removed " + out + ", which this run had created)"
        : "no output written, " + out + " is as it was";
  }

  /** A point to {@link #dropSince} back to: the number of files staged so far. */
  int mark() {
    return files.size();
  }

  /** Forgets (and deletes) the files staged since {@code mark}: an image that failed. */
  void dropSince(int mark) {
    while (files.size() > mark) {
      String f = files.remove(files.size() - 1);
      try {
        Files.deleteIfExists(stage.resolve(f));
      } catch (IOException ignored) {
        // it stays in the staging folder, which is removed at the end
      }
    }
  }

  /** Relative output paths written so far, in order. */
  List<String> files() {
    return files;
  }

  void png(String relative, BufferedImage img) {
    Images.writePng(img, stage.resolve(relative));
    files.add(relative);
  }

  /** Writes text atomically (temp file in the same folder, then rename). */
  void text(String relative, String content) {
    writeAtomically(stage.resolve(relative), content);
    files.add(relative);
  }

  static void writeAtomically(Path file, String content) {
    try {
      AtomicFile.write(file, content.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new SegcamException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Moves the run's outputs into place. Each top-level folder the run wrote (one per image)
   * replaces the folder of that name as a whole, so no file of an earlier run (another method, more
   * classes) stays beside this run's; top-level files replace their namesakes. Runs under the
   * rollback lock, so a signal sees the outputs before or after, never half way.
   *
   * @return the top-level folders that replaced an earlier run's folder
   */
  List<String> commit() {
    return Rollback.commit(
        () -> {
          List<String> replaced = new ArrayList<>();
          try {
            Set<String> done = new LinkedHashSet<>();
            for (String f : files) {
              int slash = f.indexOf('/');
              if (slash < 0) {
                AtomicFile.move(stage.resolve(f), out.resolve(f));
              } else if (done.add(f.substring(0, slash))) {
                if (replaceFolder(f.substring(0, slash))) {
                  replaced.add(f.substring(0, slash));
                }
              }
            }
            committed = true;
            return replaced;
          } catch (IOException e) {
            throw new SegcamException("cannot move outputs into " + out + ": " + e.getMessage(), e);
          }
        });
  }

  /** Moves stage/name to out/name; an existing out/name is set aside first, then deleted. */
  private boolean replaceFolder(String name) throws IOException {
    Path to = out.resolve(name);
    Path old = null;
    if (Files.exists(to, LinkOption.NOFOLLOW_LINKS)) {
      if (!Files.isDirectory(to, LinkOption.NOFOLLOW_LINKS)) {
        throw new IOException(to + " exists and is not a folder");
      }
      old = stage.resolve(".old-" + name);
      Files.move(to, old);
    }
    try {
      Files.move(stage.resolve(name), to);
    } catch (IOException e) {
      if (old != null) {
        Files.move(old, to); // put the earlier run back
      }
      throw e;
    }
    if (old != null) {
      deleteTree(old);
    }
    return old != null;
  }

  /** Removes the staging folder (and the output folder if this run created it and failed). */
  @Override
  public void close() {
    cleanUp();
    onSignal.close(); // after the cleanup: a signal meanwhile waits for its own undo to finish
  }

  private void cleanUp() {
    for (int i = 0; i < DELETE_TRIES; i++) {
      if (stage != null) {
        deleteTree(stage);
      }
      if (committed || !createdOut) {
        return;
      }
      try {
        Files.deleteIfExists(out);
        return;
      } catch (DirectoryNotEmptyException e) {
        // at a signal the run's threads may still be finishing a file: give them a moment; if
        // someone else wrote there, the folder stays after the last try
        pause();
      } catch (IOException ignored) {
        return; // nothing of ours is left in it; not worth failing the run over
      }
    }
  }

  private static final long RETRY_PAUSE_MS = 20;

  private static void pause() {
    sleep(RETRY_PAUSE_MS);
  }

  /** Sleeps ms milliseconds; an interrupt ends the sleep and stays set on the thread. */
  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Tries a few times: at a signal the run's own threads may still be adding a file. */
  private static final int DELETE_TRIES = 5;

  private static void deleteTree(Path root) {
    for (int i = 0; i < DELETE_TRIES && Files.exists(root); i++) {
      try (Stream<Path> s = Files.walk(root)) {
        for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      } catch (IOException | UncheckedIOException ignored) {
        // best effort: a leftover hidden staging folder is harmless
      }
    }
  }
}
