package dev.segcam.backend;

import java.util.ArrayList;
import java.util.List;

/**
 * Owns native resources (device tensors, buffers) made during one step — a node's forward or
 * backward rule, a CAM step — and closes, in reverse order, every one not detached: on success the
 * step detaches its result, on failure everything it made is freed. Replaces hand-written
 * catch/close blocks. Not thread-safe: one step, one thread.
 */
public final class Scope implements AutoCloseable {
  private final List<AutoCloseable> owned = new ArrayList<>();
  private boolean closed;

  /** Takes {@code r} into the scope and returns it. */
  public <T extends AutoCloseable> T own(T r) {
    if (closed) {
      throw new IllegalStateException("scope is closed");
    }
    owned.add(r);
    return r;
  }

  /** Takes {@code r} out of the scope (the caller now owns it) and returns it. */
  public <T extends AutoCloseable> T detach(T r) {
    for (int i = owned.size() - 1; i >= 0; i--) {
      if (owned.get(i) == r) {
        owned.remove(i);
        return r;
      }
    }
    throw new IllegalArgumentException("not owned by this scope: " + r);
  }

  /** Closes what is still owned, newest first; the first failure is thrown, the rest suppressed. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    RuntimeException first = null;
    for (int i = owned.size() - 1; i >= 0; i--) {
      try {
        owned.get(i).close();
      } catch (Exception e) {
        RuntimeException r =
            e instanceof RuntimeException re ? re : new IllegalStateException(e.toString(), e);
        if (first == null) {
          first = r;
        } else {
          first.addSuppressed(r);
        }
      }
    }
    owned.clear();
    if (first != null) {
      throw first;
    }
  }
}
