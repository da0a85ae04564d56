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
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * All-or-nothing output: files are written into a hidden staging folder inside the output folder
 * and moved to their final names only when the whole run succeeded. A run that fails half way
 * leaves the output folder as it found it (and removes it if the run created it).
 */
final class Staging implements AutoCloseable {
  private final Path out;
  private final Path stage;
  private final boolean createdOut;
  private final List<String> files = new ArrayList<>();
  private boolean committed;
  private final Rollback.Registration onSignal;

  Staging(Path out) {
    this.out = out.toAbsolutePath().normalize();
    try {
      if (Files.exists(this.out) && !Files.isDirectory(this.out)) {
        throw new SegcamException("output " + out + " exists and is not a directory");
      }
      createdOut = !Files.exists(this.out);
      Files.createDirectories(this.out);
      stage = Files.createTempDirectory(this.out, ".segcam-staging-");
    } catch (IOException e) {
      throw new SegcamException("cannot create output directory " + out + ": " + e.getMessage(), e);
    }
    onSignal = Rollback.register(this::undo);
  }

  /** The signal-time cleanup: what close() does for a run that did not commit. */
  private String undo() {
    cleanUp();
    return createdOut
        ? "no output written (removed " + out + ", which this run had created)"
        : "no output written, " + out + " is as it was";
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

  /** Moves every staged file to its final place (each move atomic, replacing older outputs). */
  void commit() {
    Rollback.commit(
        () -> {
          try {
            for (String f : files) {
              Path to = out.resolve(f);
              Files.createDirectories(to.getParent());
              AtomicFile.move(stage.resolve(f), to);
            }
            committed = true;
          } catch (IOException e) {
            throw new SegcamException("cannot move outputs into " + out + ": " + e.getMessage(), e);
          }
        });
  }

  /** Removes the staging folder (and the output folder if this run created it and failed). */
  @Override
  public void close() {
    onSignal.close();
    cleanUp();
  }

  private void cleanUp() {
    deleteTree(stage);
    if (!committed && createdOut) {
      try {
        Files.deleteIfExists(out);
      } catch (DirectoryNotEmptyException e) {
        // someone else wrote there meanwhile: leave it
      } catch (IOException ignored) {
        // nothing of ours is left in it; not worth failing the run over
      }
    }
  }

  /** Tries a few times: at a signal the run's own threads may still be adding a file. */
  private static final int DELETE_TRIES = 3;

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
