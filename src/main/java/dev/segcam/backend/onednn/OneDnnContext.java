package dev.segcam.backend.onednn;

import dev.segcam.backend.BackendUnavailableException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.stream;

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
    strm.close();
    cpu.close();
  }
}
