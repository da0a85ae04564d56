package dev.segcam.backend;

import dev.segcam.SegcamException;

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
}
