package dev.segcam.backend.onednn;

import dev.segcam.backend.BackendUnavailableException;
import dev.segcam.backend.cpu.Parallel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
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
  private final Parallel copies;
  private final Map<Object, OneDnnPrimitive> cache = new LinkedHashMap<>();
  private boolean closed;
  private BytePointer scratch;
  private long scratchBytes;

  /** The scratch's alignment in bytes (a cache line; oneDNN's kernels like 64). */
  private static final long ALIGN = 64;

  /**
   * Arrays of at least this many floats are copied into and out of the primitives' memory by the
   * context's copy threads together (4 MB: large activations; below it one thread copies, as the
   * hand-off would cost about what it saves).
   */
  static final int PARALLEL_COPY_FLOATS = 1 << 20;

  /** The system property that sets {@link #open()}'s copy threads. */
  public static final String COPY_THREADS_PROPERTY = "segcam.onednn.copyThreads";

  private OneDnnContext(engine cpu, stream strm, int copyThreads) {
    this.cpu = cpu;
    this.strm = strm;
    this.copies = new Parallel(copyThreads);
  }

  /**
   * Opens a context on CPU engine 0 whose large copies between Java arrays and the primitives'
   * memory run on as many threads as oneDNN's OpenMP runtime has ({@code
   * -Dsegcam.onednn.copyThreads=N} overrides it, e.g. 1 for benchmarks comparing serial copies).
   *
   * @throws BackendUnavailableException with the probe's one-line reason when oneDNN cannot load
   */
  public static OneDnnContext open() {
    OneDnnProbe.Status s = OneDnnProbe.status();
    return open(Integer.getInteger(COPY_THREADS_PROPERTY, s.available() ? s.threads() : 1));
  }

  /**
   * Opens a context on CPU engine 0 whose large copies run on copyThreads threads (1: the caller's
   * only).
   *
   * @throws BackendUnavailableException with the probe's one-line reason when oneDNN cannot load
   */
  public static OneDnnContext open(int copyThreads) {
    OneDnnProbe.Status s = OneDnnProbe.status();
    if (!s.available()) {
      throw new BackendUnavailableException(s.describe());
    }
    engine e = null;
    try {
      e = new engine(engine.kind.cpu, 0);
      return new OneDnnContext(e, new stream(e), Math.max(1, copyThreads));
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

  /** Copies src into native memory at dst (in parallel when large). */
  void copyIn(FloatPointer dst, float[] src) {
    copy(dst, src, true);
  }

  /** Copies native memory at src out into dst (in parallel when large). */
  void copyOut(FloatPointer src, float[] dst) {
    copy(src, dst, false);
  }

  /** Copies a into native memory at p (in) or p's floats out into a, by chunks when large. */
  private void copy(FloatPointer p, float[] a, boolean in) {
    if (a.length < PARALLEL_COPY_FLOATS || copies.threads() == 1) {
      if (in) {
        p.put(a);
      } else {
        p.get(a);
      }
      return;
    }
    copies.parallelFor(
        a.length,
        PARALLEL_COPY_FLOATS / 4,
        (lo, hi) -> {
          FloatPointer at = new FloatPointer(p).position(p.position() + lo);
          if (in) {
            at.put(a, lo, hi - lo);
          } else {
            at.get(a, lo, hi - lo);
          }
        });
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
    copies.close();
  }
}
