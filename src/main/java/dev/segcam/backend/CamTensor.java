package dev.segcam.backend;

import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;

/**
 * A tensor owned by a {@link CamBackend}: host memory for the CPU backend, device memory for CUDA.
 * The pipeline only copies to the host what it hands to the caller (maps, weights, scores), never
 * the activations or gradients. Close it to free device memory (a no-op on the CPU).
 */
public interface CamTensor extends AutoCloseable {
  Shape shape();

  /** A host copy (or, on the CPU, the tensor itself: treat it as read-only). */
  FloatTensor toHost();

  @Override
  void close();

  /** A host tensor viewed as a CamTensor; close does nothing. */
  static CamTensor host(FloatTensor t) {
    return new Host(t);
  }

  /** The CPU backend's tensor: a FloatTensor. */
  record Host(FloatTensor tensor) implements CamTensor {
    @Override
    public Shape shape() {
      return tensor.shape();
    }

    @Override
    public FloatTensor toHost() {
      return tensor;
    }

    @Override
    public void close() {}
  }
}
