package dev.segcam.backend.cuda;

import dev.segcam.backend.DeviceOutOfMemoryException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A pool of device memory reused across calls: blocks are rounded up to a size class (powers of two
 * from 256 B, then multiples of 2 MiB above 4 MiB) and kept on free lists when their {@link
 * DeviceBuffer} is closed, so a pipeline that runs the same shapes frame after frame stops calling
 * cudaMalloc after the first frame. Closing the arena frees every block, lent or not.
 */
public final class DeviceArena implements AutoCloseable {
  private static final long MIN_BLOCK = 256;
  private static final long LARGE = 4L << 20;
  private static final long LARGE_STEP = 2L << 20;

  private final CUstream_st stream;
  private final TreeMap<Long, ArrayDeque<DeviceBuffer>> free = new TreeMap<>();
  private final List<DeviceBuffer> all = new ArrayList<>();
  private BytePointer stage;
  private long stageBytes;
  private long reserved;
  private long mallocs;
  private long reuses;
  private long uploads;
  private long downloads;
  private long uploadBytes;
  private long downloadBytes;
  private boolean closed;

  /** Host-device copies made through this arena's buffers so far (cumulative). */
  public record CopyCounts(long uploads, long downloads, long uploadBytes, long downloadBytes) {
    /** The copies made since {@code before}. */
    public CopyCounts minus(CopyCounts before) {
      return new CopyCounts(
          uploads - before.uploads,
          downloads - before.downloads,
          uploadBytes - before.uploadBytes,
          downloadBytes - before.downloadBytes);
    }
  }

  synchronized void countCopy(boolean toDevice, long bytes) {
    if (toDevice) {
      uploads++;
      uploadBytes += bytes;
    } else {
      downloads++;
      downloadBytes += bytes;
    }
  }

  /** Every host-to-device and device-to-host copy so far (uploads of weights included). */
  public synchronized CopyCounts copies() {
    return new CopyCounts(uploads, downloads, uploadBytes, downloadBytes);
  }

  /** Makes the owning context's device current (cudaMalloc and copies act on the current one). */
  private final Runnable current;

  DeviceArena(CUstream_st stream, Runnable current) {
    this.stream = stream;
    this.current = current;
  }

  /** The stream, with the context's device made current for the call that follows. */
  CUstream_st stream() {
    current.run();
    return stream;
  }

  /** A buffer of at least {@code bytes} bytes; close it to give it back. */
  public synchronized DeviceBuffer alloc(long bytes) {
    if (closed) {
      throw new IllegalStateException("device arena is closed");
    }
    if (bytes < 0) {
      throw new IllegalArgumentException("negative allocation " + bytes);
    }
    long cls = sizeClass(bytes);
    ArrayDeque<DeviceBuffer> q = free.get(cls);
    if (q != null && !q.isEmpty()) {
      DeviceBuffer b = q.pop();
      b.reopen(bytes);
      reuses++;
      return b;
    }
    current.run();
    Pointer p = new Pointer();
    int err = cudart.cudaMalloc(p, cls);
    if (err == cudart.cudaErrorMemoryAllocation && !free.isEmpty()) {
      cudart.cudaGetLastError(); // clear the sticky-free error, release the pool, try once more
      trim();
      err = cudart.cudaMalloc(p, cls);
    }
    if (err == cudart.cudaErrorMemoryAllocation) {
      cudart.cudaGetLastError();
      throw new DeviceOutOfMemoryException(
          "cudaMalloc "
              + cls
              + " B failed: out of device memory ("
              + reserved
              + " B already held by the arena)",
          cls);
    }
    CudaException.check(
        err, "cudaMalloc " + cls + " B (" + reserved + " B already held by the arena)");
    DeviceBuffer b = new DeviceBuffer(this, p, cls, bytes);
    all.add(b);
    reserved += cls;
    mallocs++;
    return b;
  }

  /** A buffer for {@code n} floats. */
  public DeviceBuffer floats(long n) {
    return alloc(4 * n);
  }

  /** A buffer holding a copy of {@code host}. */
  public DeviceBuffer upload(float[] host) {
    DeviceBuffer b = floats(host.length);
    b.upload(host);
    return b;
  }

  /**
   * The arena's pinned host staging area, at least {@code bytes} long (grown by doubling, never
   * shrunk), so copies between Java arrays and the device neither allocate per call nor go through
   * pageable memory. Callers hold the arena's lock from filling it until their copy has finished.
   */
  synchronized BytePointer stage(long bytes) {
    if (closed) {
      throw new IllegalStateException("device arena is closed");
    }
    if (stage == null || stageBytes < bytes) {
      long size = Math.max(bytes, Math.max(1L << 20, 2 * stageBytes));
      freeStage();
      Pointer p = new Pointer();
      CudaException.check(cudart.cudaMallocHost(p, size), "cudaMallocHost " + size + " B");
      stage = new BytePointer(p).capacity(size).limit(size);
      stageBytes = size;
    }
    return stage;
  }

  private void freeStage() {
    if (stage != null) {
      CudaException.check(cudart.cudaFreeHost(stage), "cudaFreeHost " + stageBytes + " B");
      stage = null;
      stageBytes = 0;
    }
  }

  static long sizeClass(long bytes) {
    if (bytes <= MIN_BLOCK) {
      return MIN_BLOCK;
    }
    if (bytes <= LARGE) {
      return Long.highestOneBit(bytes - 1) << 1;
    }
    return (bytes + LARGE_STEP - 1) / LARGE_STEP * LARGE_STEP;
  }

  synchronized void giveBack(DeviceBuffer b) {
    if (closed) {
      return;
    }
    free.computeIfAbsent(b.capacity(), k -> new ArrayDeque<>()).push(b);
  }

  /** Frees the blocks nobody is using. */
  public synchronized void trim() {
    for (ArrayDeque<DeviceBuffer> q : free.values()) {
      for (DeviceBuffer b : q) {
        b.free();
        all.remove(b);
        reserved -= b.capacity();
      }
    }
    free.clear();
  }

  /** Bytes of device memory held (lent plus pooled). */
  public synchronized long reservedBytes() {
    return reserved;
  }

  /** cudaMalloc calls so far, and allocations served from the pool. */
  public synchronized String stats() {
    return String.format(
        "arena: %d blocks, %.1f MiB held, %d cudaMalloc, %d reused",
        all.size(), reserved / 1048576.0, mallocs, reuses);
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    List<Runnable> releases = new ArrayList<>();
    for (DeviceBuffer b : all) {
      releases.add(b::free);
    }
    releases.add(
        () -> {
          all.clear();
          free.clear();
          reserved = 0;
        });
    releases.add(this::freeStage);
    CloseOrder.all(releases);
  }
}
