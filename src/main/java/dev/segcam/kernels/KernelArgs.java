package dev.segcam.kernels;

/** The twins' shared argument checks (dimensions and array lengths), one place for all of them. */
final class KernelArgs {
  private KernelArgs() {}

  /** Returns v when it is > 0, else throws naming the dimension. */
  static int positive(String name, int v) {
    if (v <= 0) {
      throw new KernelArgumentException("dimension " + name + " must be > 0, got " + v);
    }
    return v;
  }

  /** Throws unless the array exists and has exactly the expected number of elements. */
  static void length(String name, Object array, long expected) {
    if (array == null) {
      throw new KernelArgumentException(name + " is null");
    }
    int len = java.lang.reflect.Array.getLength(array);
    if (expected > Integer.MAX_VALUE) {
      throw new KernelArgumentException(name + " would need " + expected + " elements (> 2^31)");
    }
    if (len != expected) {
      throw new KernelArgumentException(
          name + " has " + len + " elements, the dimensions need " + expected);
    }
  }
}
