package dev.segcam.kernels;

/**
 * The sizes of one Concat input's block copy, the arguments concat_copy (kernels/concat_pad.cu)
 * takes after its two buffers, in that order: tensors viewed as (outer, axis, inner), the part's
 * inAxis rows at [offset, offset+inAxis) of big's outAxis. Its Java twin ({@link
 * LayoutKernels#concat_copy}) and the CUDA launcher take them as this one record.
 */
public record ConcatDims(int outer, int inAxis, int inner, int outAxis, int offset) {
  /** outer, inAxis, inner, outAxis, offset in the kernel's order. */
  public int[] args() {
    return new int[] {outer, inAxis, inner, outAxis, offset};
  }

  /** The size of the part (outer, inAxis, inner). */
  public long part() {
    return (long) outer * inAxis * inner;
  }

  /** The size of big (outer, outAxis, inner). */
  public long big() {
    return (long) outer * outAxis * inner;
  }
}
