package dev.segcam.backend;

import dev.segcam.SegcamException;
import java.util.function.Consumer;

/**
 * The device could not allocate memory for a batch (cudaMalloc, or a cuBLAS/cuDNN workspace,
 * returned an allocation failure). Callers that batch work (the video pipeline, {@code segcam
 * bench}) catch it, halve the batch and go on; nothing computed before it is lost. It lives outside
 * the CUDA package so that code which only catches it never loads the CUDA bindings.
 */
public class DeviceOutOfMemoryException extends SegcamException {
  private final long requestedBytes;

  /**
   * @param what the call or buffer that failed, with its size
   * @param requestedBytes bytes asked for, or -1 when the library did not say
   */
  public DeviceOutOfMemoryException(String what, long requestedBytes) {
    super(what);
    this.requestedBytes = requestedBytes;
  }

  /** Bytes the failed allocation asked for, or -1 when unknown. */
  public long requestedBytes() {
    return requestedBytes;
  }

  /**
   * The batch to go on with after this failure at {@code batch} (more than 1): half of it, rounded
   * up. Says so in one line on {@code log}, the same wording wherever batches halve.
   */
  public int halvedBatch(int batch, Consumer<String> log) {
    if (batch <= 1) {
      throw new IllegalArgumentException("a batch of " + batch + " cannot halve");
    }
    int half = (batch + 1) / 2;
    log.accept(
        "segcam: out of device memory at batch "
            + batch
            + " ("
            + getMessage()
            + "); halving to "
            + half);
    return half;
  }
}
