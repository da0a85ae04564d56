package dev.segcam.backend;

import dev.segcam.ir.Op;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One backend's table from IR op to its forward and backward implementation: the only place a
 * backend dispatches on the op's class. F and B are the backend's own implementation interfaces
 * (what a forward or backward rule receives differs per backend).
 *
 * <p>Java 17 cannot check at compile time that a switch over the {@link Op} records is exhaustive,
 * so {@link #missing()} walks {@code Op.class.getPermittedSubclasses()} and a test fails when any
 * backend lacks an entry.
 *
 * @param <F> the forward implementation type
 * @param <B> the backward (data-gradient) implementation type
 */
public final class OpTable<F, B> {
  /** One op's implementations. */
  public record Entry<F, B>(F forward, B backward) {}

  private final String backend;
  private final Map<Class<?>, Entry<F, B>> entries = new HashMap<>();

  public OpTable(String backend) {
    this.backend = backend;
  }

  /** The backend's name, for messages. */
  public String backend() {
    return backend;
  }

  /** Registers an op's forward and backward; each op once. */
  public OpTable<F, B> put(Class<? extends Op> op, F forward, B backward) {
    if (forward == null || backward == null) {
      throw new IllegalArgumentException(backend + ": " + op.getSimpleName() + " needs both rules");
    }
    if (entries.putIfAbsent(op, new Entry<>(forward, backward)) != null) {
      throw new IllegalStateException(backend + ": " + op.getSimpleName() + " registered twice");
    }
    return this;
  }

  /** The entry of an op, or null when this backend has none. */
  public Entry<F, B> find(Op op) {
    return entries.get(op.getClass());
  }

  /** The entry registered for an op class, or null when this backend has none. */
  public Entry<F, B> find(Class<? extends Op> op) {
    return entries.get(op);
  }

  /** The forward rule of an op (never null: {@link #missing()} is empty for a shipped table). */
  public F forward(Op op) {
    return entry(op).forward();
  }

  /** The backward rule of an op. */
  public B backward(Op op) {
    return entry(op).backward();
  }

  private Entry<F, B> entry(Op op) {
    Entry<F, B> e = entries.get(op.getClass());
    if (e == null) {
      throw new IllegalStateException(backend + " op table has no entry for " + op.type());
    }
    return e;
  }

  /** The IR ops (permitted subclasses of {@link Op}) that have no entry here. */
  public List<Class<?>> missing() {
    List<Class<?>> out = new ArrayList<>();
    for (Class<?> c : Op.class.getPermittedSubclasses()) {
      if (!entries.containsKey(c)) {
        out.add(c);
      }
    }
    return out;
  }
}
