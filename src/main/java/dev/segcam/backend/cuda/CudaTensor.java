package dev.segcam.backend.cuda;

import dev.segcam.backend.CamTensor;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;

/**
 * A float32 tensor in device memory, owned by the {@link CudaCamBackend} that made it. Several
 * tensors may share one block (a Reshape is a view; a forward pass keeps a reference to the images
 * it was given): the block goes back to the arena when the last of them is closed. Closing is
 * idempotent. {@link #toHost()} is a download (counted by the arena).
 */
public final class CudaTensor implements CamTensor {
  /** A device block shared by reference count. */
  static final class Storage {
    private final DeviceBuffer buffer;
    private int refs = 1;

    Storage(DeviceBuffer buffer) {
      this.buffer = buffer;
    }

    synchronized void retain() {
      if (refs <= 0) {
        throw new IllegalStateException("device tensor used after close()");
      }
      refs++;
    }

    synchronized void release() {
      if (--refs == 0) {
        buffer.close();
      }
    }

    synchronized int refs() {
      return refs;
    }
  }

  private final CudaCamBackend owner;
  private final Storage storage;
  private final Shape shape;
  private boolean closed;

  /** A new tensor over a freshly allocated buffer (takes the buffer). */
  CudaTensor(CudaCamBackend owner, DeviceBuffer buffer, Shape shape) {
    this(owner, new Storage(buffer), shape);
  }

  private CudaTensor(CudaCamBackend owner, Storage storage, Shape shape) {
    this.owner = owner;
    this.storage = storage;
    this.shape = shape;
  }

  /** Another reference to the same memory, with the same or another shape of the same size. */
  CudaTensor view(Shape s) {
    checkOpen();
    if (s.size() != shape.size()) {
      throw new CudaException("view " + s + " of a tensor of shape " + shape, 0);
    }
    storage.retain();
    return new CudaTensor(owner, storage, s);
  }

  CudaTensor retain() {
    return view(shape);
  }

  /** True when no other tensor shares this memory, so it may be written in place. */
  boolean exclusive() {
    return storage.refs() == 1;
  }

  CudaCamBackend owner() {
    return owner;
  }

  DeviceBuffer buffer() {
    checkOpen();
    return storage.buffer;
  }

  /** Number of floats. */
  int size() {
    return shape.size();
  }

  @Override
  public Shape shape() {
    return shape;
  }

  @Override
  public FloatTensor toHost() {
    checkOpen();
    float[] a = new float[shape.size()];
    if (a.length > 0) {
      storage.buffer.download(a);
    }
    return new FloatTensor(shape, a);
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("device tensor " + shape + " used after close()");
    }
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      storage.release();
    }
  }

  @Override
  public String toString() {
    return "CudaTensor" + shape;
  }
}
