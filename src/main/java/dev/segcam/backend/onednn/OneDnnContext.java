package dev.segcam.backend.onednn;

import dev.segcam.backend.BackendUnavailableException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/**
 * One oneDNN CPU engine and its stream, and the primitives made for it, cached by key (the IR op
 * instance and its input shape) so a primitive descriptor, its weights in oneDNN's preferred layout
 * and its memory objects are made once and reused across frames. Closing the context frees them
 * all.
 *
 * <p>Not thread-safe for execution: one context per thread that runs primitives (oneDNN's own
 * OpenMP threads do the parallel work inside each call). The cache itself is synchronized.
 */
public final class OneDnnContext implements AutoCloseable {
  private final engine cpu;
  private final stream strm;
  private final Map<Object, OneDnnPrimitive> cache = new LinkedHashMap<>();
  private boolean closed;
  private BytePointer scratch;
  private long scratchBytes;

  /** The scratch's alignment in bytes (a cache line; oneDNN's kernels like 64). */
  private static final long ALIGN = 64;

  private OneDnnContext(engine cpu, stream strm) {
    this.cpu = cpu;
    this.strm = strm;
  }

  /**
   * Opens a context on CPU engine 0.
   *
   * @throws BackendUnavailableException with the probe's one-line reason when oneDNN cannot load
   */
  public static OneDnnContext open() {
    OneDnnProbe.Status s = OneDnnProbe.status();
    if (!s.available()) {
      throw new BackendUnavailableException(s.describe());
    }
    engine e = null;
    try {
      e = new engine(engine.kind.cpu, 0);
      return new OneDnnContext(e, new stream(e));
    } catch (RuntimeException ex) {
      if (e != null) {
        e.close();
      }
      throw new OneDnnException(
          "oneDNN: cannot create the CPU engine/stream: " + ex.getMessage(), ex);
    }
  }

  engine engine() {
    return cpu;
  }

  stream stream() {
    return strm;
  }

  /**
   * The primitive cached under key, made by make on first use. Keys are records of the op instance
   * and its shapes, so a second node with equal weights gets its own primitive.
   */
  public synchronized <P extends OneDnnPrimitive> P cached(
      Object key, Class<P> type, Supplier<P> make) {
    if (closed) {
      throw new IllegalStateException("OneDnnContext is closed");
    }
    OneDnnPrimitive p = cache.get(key);
    if (p == null) {
      p = make.get();
      cache.put(key, p);
    }
    return type.cast(p);
  }

  /**
   * The address of at least bytes of native scratch, aligned to 64 bytes, shared by every primitive
   * of this context for the activations and gradients of one run (runs are serialised on the
   * context); it grows to the largest request and moves when it grows, so a caller lays its
   * arguments out again when the address changes. Freed by {@link #close}.
   */
  synchronized long scratch(long bytes) {
    if (closed) {
      throw new IllegalStateException("OneDnnContext is closed");
    }
    if (bytes > scratchBytes) {
      if (scratch != null) {
        scratch.close();
        scratch = null;
        scratchBytes = 0;
      }
      try {
        scratch = new BytePointer(bytes + ALIGN);
      } catch (OutOfMemoryError e) {
        throw new OneDnnException(
            "oneDNN: cannot allocate " + bytes + " bytes of native scratch: " + e.getMessage(), e);
      }
      scratchBytes = bytes;
    }
    return (scratch.address() + ALIGN - 1) & -ALIGN;
  }

  /** n rounded up to the scratch's alignment. */
  static long aligned(long n) {
    return (n + ALIGN - 1) & -ALIGN;
  }

  /** A pointer to a native address (no ownership: the scratch owns the memory). */
  static Pointer at(long address) {
    return new Address(address);
  }

  private static final class Address extends Pointer {
    Address(long a) {
      address = a;
    }
  }

  /** Bytes of native scratch held now (for tests and the benchmark's memory figures). */
  public synchronized long scratchBytes() {
    return scratchBytes;
  }

  /** Number of cached primitives (for tests of the reuse). */
  public synchronized int cachedCount() {
    return cache.size();
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    List<OneDnnPrimitive> all = new ArrayList<>(cache.values());
    cache.clear();
    for (OneDnnPrimitive p : all) {
      p.close();
    }
    if (scratch != null) {
      scratch.close();
      scratch = null;
    }
    strm.close();
    cpu.close();
  }
}
