package dev.segcam.backend.cuda;

import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A block of device memory lent by a {@link DeviceArena}. {@link #close()} gives it back to the
 * arena (not to the driver), so the next request of a similar size reuses it without a cudaMalloc.
 * Copies run on the arena's stream and are synchronous from the caller's view (they return when the
 * host array is filled or may be reused).
 */
public final class DeviceBuffer implements AutoCloseable {
  private final DeviceArena arena;
  private final Pointer ptr;
  private final long capacity;
  private final DeviceBuffer parent;

  /**
   * How many times the arena has lent this block: a slice remembers its parent's, so a slice kept
   * past its parent's close stays unusable after the arena lends the block again.
   */
  private int generation;

  private final int parentGeneration;
  private long bytes;
  private boolean open = true;

  DeviceBuffer(DeviceArena arena, Pointer ptr, long capacity, long bytes) {
    this(arena, ptr, capacity, bytes, null);
  }

  private DeviceBuffer(
      DeviceArena arena, Pointer ptr, long capacity, long bytes, DeviceBuffer parent) {
    this.arena = arena;
    this.ptr = ptr;
    this.capacity = capacity;
    this.bytes = bytes;
    this.parent = parent;
    this.parentGeneration = parent == null ? 0 : parent.generation;
  }

  /**
   * A view of {@code bytes} bytes from {@code offset} (e.g. one target's rows of a batched tensor),
   * for kernel, cuBLAS and cuDNN arguments. It owns nothing: closing it does nothing to this
   * buffer, and it must not be used after this buffer is closed.
   */
  public DeviceBuffer slice(long offset, long bytes) {
    checkOpen();
    if (offset < 0 || bytes < 0 || offset + bytes > this.bytes) {
      throw new CudaException(
          "slice [" + offset + ", " + (offset + bytes) + ") of a buffer of " + this.bytes + " B",
          0);
    }
    return new DeviceBuffer(arena, new DevicePointer(ptr.address() + offset), 0, bytes, this);
  }

  /** A raw device address as a JavaCPP pointer (JavaCPP passes {@code address} to native code). */
  private static final class DevicePointer extends Pointer {
    DevicePointer(long address) {
      this.address = address;
    }
  }

  /** Requested size in bytes (the block may be larger). */
  public long bytes() {
    return bytes;
  }

  /** Size of the underlying block. */
  long capacity() {
    return capacity;
  }

  void reopen(long bytes) {
    this.bytes = bytes;
    this.open = true;
    this.generation++;
  }

  /** The device address, e.g. for kernel arguments. */
  public long address() {
    checkOpen();
    return ptr.address();
  }

  /** The device pointer, for cuBLAS/cuDNN calls. Do not close or keep it past this buffer. */
  public Pointer pointer() {
    checkOpen();
    return ptr;
  }

  public void upload(float[] host) {
    transfer(true, 4L * host.length, host.length + " floats", s -> floats(s, host).put(host));
  }

  public void upload(int[] host) {
    transfer(true, 4L * host.length, host.length + " ints", s -> ints(s, host).put(host));
  }

  public void upload(byte[] host) {
    transfer(true, host.length, host.length + " bytes", s -> s.position(0).put(host));
  }

  public void download(float[] host) {
    transfer(false, 4L * host.length, host.length + " floats", s -> floats(s, host).get(host));
  }

  public void download(byte[] host) {
    transfer(false, host.length, host.length + " bytes", s -> s.position(0).get(host));
  }

  private static FloatPointer floats(BytePointer s, float[] host) {
    return new FloatPointer(s).capacity(host.length);
  }

  private static IntPointer ints(BytePointer s, int[] host) {
    return new IntPointer(s).capacity(host.length);
  }

  /**
   * One copy of n bytes through the arena's staging buffer: filled by io then copied in (toDevice),
   * or copied out then drained by io.
   */
  private void transfer(
      boolean toDevice, long n, String what, java.util.function.Consumer<BytePointer> io) {
    require(n, (toDevice ? "upload of " : "download of ") + what);
    synchronized (arena) {
      BytePointer s = arena.stage(n);
      if (toDevice) {
        io.accept(s);
      }
      copy(s, n, toDevice);
      if (!toDevice) {
        io.accept(s);
      }
    }
  }

  /** Downloads the first {@code n} floats. */
  public float[] downloadFloats(int n) {
    float[] a = new float[n];
    download(a);
    return a;
  }

  /** Sets every byte to zero (asynchronously, on the arena's stream). */
  public void zero() {
    checkOpen();
    CudaException.check(
        cudart.cudaMemsetAsync(ptr, 0, bytes, arena.stream()), "cudaMemsetAsync " + bytes + " B");
  }

  /** One copy through the staging area, host to device (toDevice) or back, waited for. */
  private void copy(Pointer host, long n, boolean toDevice) {
    CUstream_st s = arena.stream();
    int err =
        toDevice
            ? cudart.cudaMemcpyAsync(ptr, host, n, cudart.cudaMemcpyHostToDevice, s)
            : cudart.cudaMemcpyAsync(host, ptr, n, cudart.cudaMemcpyDeviceToHost, s);
    String dir = toDevice ? "host->device" : "device->host";
    CudaException.check(err, "cudaMemcpyAsync " + dir + " " + n + " B");
    arena.countCopy(toDevice, n);
    // the staging area is reused by the next copy: the transfer must be done first
    CudaException.check(cudart.cudaStreamSynchronize(s), "cudaStreamSynchronize after " + dir);
  }

  private void require(long n, String what) {
    checkOpen();
    if (n > bytes) {
      throw new CudaException(what + " does not fit a buffer of " + bytes + " B", 0);
    }
  }

  private void checkOpen() {
    if (!open || (parent != null && (!parent.open || parent.generation != parentGeneration))) {
      throw new IllegalStateException("device buffer used after close()");
    }
  }

  /** Returns the block to its arena (a slice just stops being usable). Idempotent. */
  @Override
  public void close() {
    if (open) {
      open = false;
      if (parent == null) {
        arena.giveBack(this);
      }
    }
  }

  /** The arena's own release: frees the device memory. */
  void free() {
    CudaException.check(cudart.cudaFree(ptr), "cudaFree " + capacity + " B");
  }
}
