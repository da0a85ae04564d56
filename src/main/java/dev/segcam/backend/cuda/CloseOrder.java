package dev.segcam.backend.cuda;

import java.util.List;

/**
 * The order in which native resources are released, apart from the driver calls so that a test can
 * drive it with fakes: {@link CudaContext#close} waits for the stream first and releases nothing if
 * that fails (queued work may still read the PTX modules and buffers: leaking them until the
 * process ends is safe, unloading them under a running kernel is not).
 */
final class CloseOrder {
  private CloseOrder() {}

  /**
   * Runs {@code sync}; if it throws, rethrows that with nothing released. Otherwise runs every
   * release (see {@link #all}).
   */
  static void afterSync(Runnable sync, List<Runnable> releases) {
    sync.run();
    all(releases);
  }

  /**
   * A release that closes c (nothing when c is null); a checked exception comes out as a {@link
   * CudaException}.
   */
  static Runnable closing(AutoCloseable c) {
    return () -> {
      if (c == null) {
        return;
      }
      try {
        c.close();
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new CudaException(e.toString(), 0);
      }
    };
  }

  /** Runs every release in order, even after one fails, then throws the first failure. */
  static void all(List<Runnable> releases) {
    RuntimeException first = null;
    for (Runnable r : releases) {
      try {
        r.run();
      } catch (RuntimeException e) {
        first = first == null ? e : first;
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
