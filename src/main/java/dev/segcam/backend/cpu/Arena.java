package dev.segcam.backend.cpu;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reused host memory for one CPU engine (issue #15 point 3): float arrays kept by length and handed
 * out again, so that a warm call of the same graph on the same shapes allocates almost nothing new
 * on the Java heap (no GC of multi-megabyte arrays, no page faults of fresh ones).
 *
 * <p>Arrays are lent to a {@link Pass} (one forward pass and the backward passes run on it). The
 * pass counts the references to each array it lent, by array identity, so that reshape-like ops
 * sharing one array with their input and gradients passed through are returned once, when the last
 * reference goes ({@link Pass#release}); what is still counted when the pass closes returns then.
 *
 * <p>Ownership rule: an array lent to a pass belongs to the pass. A value read from a pass is valid
 * until the pass closes; a value handed to a caller for good (the public {@link
 * CpuEngine#forward}'s results, a backward's layer gradients) is {@link Pass#detach detached} first
 * and never comes back. Arrays from elsewhere (the caller's inputs, constants, seeds) are never
 * counted and never reused.
 *
 * <p>The ops allocate through {@link #floats} (contents undefined: the caller overwrites every
 * element) or {@link #zeros} (zero-filled, for ops that accumulate or write only some elements).
 * Both take from the pass the calling thread has {@link Pass#enter entered}, and fall back to a
 * plain new array on any other thread (a worker of a {@link Parallel} pool) or outside a pass: the
 * arena changes where memory comes from, never what an op computes.
 *
 * <p>Thread-safe: several threads may run passes of one engine at the same time (each its own
 * pass); the free lists are shared. Memory: the free lists of all arenas together keep at most half
 * the heap's maximum, and an allocation that fails for memory empties them all and tries again, so
 * arrays kept for reuse never cause an OutOfMemoryError that the GC alone would have avoided.
 */
public final class Arena {
  private static final ThreadLocal<Pass> CURRENT = new ThreadLocal<>();

  /** Every arena's free lists together hold at most half the heap's maximum (beyond: the GC's). */
  private static final long CAP_BYTES = Runtime.getRuntime().maxMemory() / 2;

  private static final AtomicLong FREE_BYTES = new AtomicLong();

  /** The live arenas, so that an allocation failing for memory can empty all their free lists. */
  private static final Set<Arena> ALL =
      Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));

  private final Map<Integer, ArrayDeque<float[]>> free = new HashMap<>();
  private long freeBytes;
  private long fresh;
  private long freshBytes;
  private long reused;
  private long reusedBytes;
  private long lentBytes;
  private long peakBytes;

  /** An empty arena. */
  public Arena() {
    ALL.add(this);
  }

  /** Counters since the arena was made. */
  public record Stats(
      long freshArrays,
      long freshBytes,
      long reusedArrays,
      long reusedBytes,
      long freeBytes,
      long peakBytes) {}

  /** What the arena has allocated and reused so far; peakBytes is lent plus free at their peak. */
  public synchronized Stats stats() {
    return new Stats(fresh, freshBytes, reused, reusedBytes, freeBytes, peakBytes);
  }

  /** A new pass lending this arena's arrays; close it to return them. */
  public Pass open() {
    return new Pass(this);
  }

  private float[] take(int n) {
    float[] a = reuse(n);
    if (a != null) {
      return a;
    }
    try {
      a = new float[n];
    } catch (OutOfMemoryError e) {
      // arrays of shapes no longer run (another batch, another K, an idle explainer's arena) may
      // fill the free lists: drop every arena's for the GC and try once more
      List<Arena> all;
      synchronized (ALL) {
        all = new ArrayList<>(ALL);
      }
      for (Arena other : all) {
        other.dropFree();
      }
      a = new float[n];
    }
    counted(n);
    return a;
  }

  /** An array from the free lists, or null (then the caller allocates and calls counted). */
  private synchronized float[] reuse(int n) {
    ArrayDeque<float[]> q = free.get(n);
    float[] a = q == null ? null : q.poll();
    if (a != null) {
      long bytes = (long) n * Float.BYTES;
      freeBytes -= bytes;
      FREE_BYTES.addAndGet(-bytes);
      reused++;
      reusedBytes += bytes;
      lentBytes += bytes;
    }
    return a;
  }

  private synchronized void counted(int n) {
    long bytes = (long) n * Float.BYTES;
    fresh++;
    freshBytes += bytes;
    lentBytes += bytes;
    peakBytes = Math.max(peakBytes, lentBytes + freeBytes);
  }

  private synchronized void dropFree() {
    free.clear();
    FREE_BYTES.addAndGet(-freeBytes);
    freeBytes = 0;
  }

  private synchronized void give(float[] a) {
    long bytes = (long) a.length * Float.BYTES;
    lentBytes -= bytes;
    if (FREE_BYTES.addAndGet(bytes) > CAP_BYTES) {
      FREE_BYTES.addAndGet(-bytes);
      return; // over the cap: the GC takes it
    }
    free.computeIfAbsent(a.length, k -> new ArrayDeque<>()).push(a);
    freeBytes += bytes;
  }

  /** Fills every array in the free lists with v (tests: a reader of stale contents sees it). */
  synchronized void poison(float v) {
    for (ArrayDeque<float[]> q : free.values()) {
      for (float[] a : q) {
        Arrays.fill(a, v);
      }
    }
  }

  private synchronized void forget(float[] a) {
    lentBytes -= (long) a.length * Float.BYTES;
  }

  /**
   * An array of n floats with undefined contents from the calling thread's pass, or a new one; the
   * caller must write every element before anyone reads it.
   */
  public static float[] floats(int n) {
    Pass p = CURRENT.get();
    return p == null ? new float[n] : p.take(n);
  }

  /** An array of n zeros from the calling thread's pass, or a new one. */
  public static float[] zeros(int n) {
    Pass p = CURRENT.get();
    if (p == null) {
      return new float[n];
    }
    float[] a = p.take(n);
    Arrays.fill(a, 0f);
    return a;
  }

  /** A copy of src from the calling thread's pass, or a new one. */
  public static float[] copyOf(float[] src) {
    float[] a = floats(src.length);
    System.arraycopy(src, 0, a, 0, src.length);
    return a;
  }

  /**
   * Returns a scratch array taken by {@link #floats}/{@link #zeros} on this thread that nobody else
   * holds; a no-op for any other array or outside a pass.
   */
  public static void recycle(float[] a) {
    Pass p = CURRENT.get();
    if (p != null) {
      p.release(a);
    }
  }

  /** The pass the calling thread has entered, or null. */
  public static Pass current() {
    return CURRENT.get();
  }

  /**
   * The arrays one forward pass (and the backward passes on it) holds, each with its count of
   * references. Close it when its values are no longer read.
   */
  public static final class Pass implements AutoCloseable {
    private final Arena arena;
    private final IdentityHashMap<float[], Integer> counts = new IdentityHashMap<>();
    private boolean closed;

    private Pass(Arena arena) {
      this.arena = arena;
    }

    /** The arena this pass lends from. */
    public Arena arena() {
      return arena;
    }

    /**
     * Makes this the calling thread's pass (what {@link Arena#floats} takes from) until the
     * returned scope closes, which restores the previous one.
     */
    public Scope enter() {
      Pass before = CURRENT.get();
      CURRENT.set(this);
      return () -> CURRENT.set(before);
    }

    /** Restores the calling thread's previous pass. */
    public interface Scope extends AutoCloseable {
      @Override
      void close();
    }

    synchronized float[] take(int n) {
      if (closed) {
        return new float[n];
      }
      float[] a = arena.take(n);
      counts.put(a, 0);
      return a;
    }

    /** One more reference to a (a no-op for an array this pass did not lend). */
    public synchronized void retain(float[] a) {
      Integer c = counts.get(a);
      if (c != null) {
        counts.put(a, c + 1);
      }
    }

    /** One reference less to a; at none, a goes back to the arena. */
    public synchronized void release(float[] a) {
      Integer c = counts.get(a);
      if (c == null) {
        return;
      }
      if (c <= 1) {
        counts.remove(a);
        arena.give(a);
      } else {
        counts.put(a, c - 1);
      }
    }

    /** Whether a is lent by this pass and referenced at most once (so it may be written). */
    public synchronized boolean exclusive(float[] a) {
      Integer c = counts.get(a);
      return c == null || c <= 1;
    }

    /** Hands a to the caller for good: the pass forgets it and never reuses it. */
    public synchronized void detach(float[] a) {
      if (counts.remove(a) != null) {
        arena.forget(a);
      }
    }

    /** How many arrays the pass holds now. */
    public synchronized int held() {
      return counts.size();
    }

    /** Returns every array still held to the arena; the pass lends nothing after this. */
    @Override
    public void close() {
      List<float[]> back;
      synchronized (this) {
        if (closed) {
          return;
        }
        closed = true;
        back = new ArrayList<>(counts.keySet());
        counts.clear();
      }
      for (float[] a : back) {
        arena.give(a);
      }
    }
  }
}
