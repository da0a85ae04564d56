package dev.segcam.io;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * What a run must undo when it is stopped by a signal (SIGINT, SIGTERM): staging folders, {@code
 * OUT.partial} files, half-written temporary files, ffmpeg children. Each output registers an undo
 * step while it is open and unregisters it once committed or cleaned up normally.
 *
 * <p>Commits and the rollback exclude each other: a commit runs under {@link #commit}, which holds
 * the same lock the rollback takes, so a signal that arrives during a commit waits for it to finish
 * (the run is then whole), and a commit that starts after the rollback began is refused. Either way
 * the outputs are all or nothing.
 */
public final class Rollback {
  /** One undo step. */
  @FunctionalInterface
  public interface Step {
    /** Undoes the output; returns one phrase saying what is left ("" for nothing to say). */
    String undo();
  }

  /** Thrown into a run whose commit came after the rollback began. */
  public static final class StoppedException extends RuntimeException {
    StoppedException() {
      super("stopped by a signal");
    }
  }

  private static final Object LOCK = new Object();
  private static final Set<Step> STEPS = new LinkedHashSet<>();
  private static boolean rolledBack;

  private Rollback() {}

  /** A registration that closes without a checked exception. */
  public interface Registration extends AutoCloseable {
    @Override
    void close();
  }

  /**
   * Registers a step; close the returned registration once the output is committed or cleaned up.
   *
   * @throws StoppedException when the rollback has already begun
   */
  public static Registration register(Step step) {
    synchronized (LOCK) {
      if (rolledBack) {
        throw new StoppedException();
      }
      STEPS.add(step);
    }
    return () -> {
      synchronized (LOCK) {
        STEPS.remove(step);
      }
    };
  }

  /**
   * Runs a commit so that a rollback cannot interleave with it.
   *
   * @throws StoppedException when the rollback has already begun (nothing is committed)
   */
  public static <T> T commit(Supplier<T> body) {
    synchronized (LOCK) {
      if (rolledBack) {
        throw new StoppedException();
      }
      return body.get();
    }
  }

  /** {@link #commit(Supplier)} for a body without a result. */
  public static void commit(Runnable body) {
    commit(
        () -> {
          body.run();
          return null;
        });
  }

  /**
   * Undoes every registered step, newest first, once; later commits are refused. Returns what the
   * steps said, in that order (empty phrases left out).
   */
  public static List<String> rollBack() {
    List<Step> steps;
    synchronized (LOCK) {
      rolledBack = true; // from here on, registrations, writes and commits are refused
      // the steps open now are undone, even if the run's own error handling drops them meanwhile
      // (undo steps are idempotent)
      steps = new ArrayList<>(STEPS);
      STEPS.clear();
    }
    awaitWrites();
    synchronized (LOCK) {
      List<String> said = new ArrayList<>();
      for (int i = steps.size() - 1; i >= 0; i--) {
        String s;
        try {
          s = steps.get(i).undo();
        } catch (RuntimeException e) {
          s = "could not undo an output: " + e.getMessage();
        }
        if (s != null && !s.isEmpty()) {
          said.add(s);
        }
      }
      return said;
    }
  }

  /** How long the rollback waits for writes under way to notice it and end. */
  private static final long WRITES_WAIT_MS = 2000;

  private static int writes;

  /**
   * Marks a file write under way (an {@link AtomicFile} write: folders, a temporary file, the
   * rename); the rollback waits for such writes to end before it undoes anything, so none of them
   * creates a file or folder after the undo. Pair with {@link #endWrite}.
   *
   * @throws StoppedException once the rollback began
   */
  public static void beginWrite() {
    synchronized (LOCK) {
      if (rolledBack) {
        throw new StoppedException();
      }
      writes++;
    }
  }

  /** Ends what {@link #beginWrite} began. */
  public static void endWrite() {
    synchronized (LOCK) {
      writes--;
      LOCK.notifyAll();
    }
  }

  private static void awaitWrites() {
    long end = System.nanoTime() + WRITES_WAIT_MS * 1_000_000L;
    synchronized (LOCK) {
      long left;
      while (writes > 0 && (left = end - System.nanoTime()) > 0) {
        try {
          LOCK.wait(Math.max(1, left / 1_000_000L));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  /** True once a rollback began (the run should stop). */
  public static boolean stopped() {
    synchronized (LOCK) {
      return rolledBack;
    }
  }
}
