package dev.segcam.backend.cuda;

import dev.segcam.kernels.KernelArgumentException;
import dev.segcam.kernels.ResizeDims;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Host-side checks and argument lists shared by the kernel launchers. */
final class KernelArgs {
  private KernelArgs() {}

  /** Threads per block of the grid-stride kernels. */
  static final int BLOCK = 256;

  /** The most blocks a grid-stride launch uses (also grid.y's limit). */
  static final int MAX_GRID = 65535;

  /** The grid-stride loops step an int by up to MAX_GRID·BLOCK: it must not overflow. */
  private static final long MAX_ELEMENTS = Integer.MAX_VALUE - (long) MAX_GRID * BLOCK;

  /** n as an int element count the grid-stride kernels can index, else a typed error. */
  static int count(long n, String what) {
    if (n < 0 || n > MAX_ELEMENTS) {
      throw new KernelArgumentException(
          what + ": " + n + " elements do not fit the kernels' int indexing");
    }
    return (int) n;
  }

  /** Blocks of a grid-stride launch over the given threads. */
  static int gridFor(long threads) {
    return (int) Math.max(1, Math.min(MAX_GRID, (threads + BLOCK - 1) / BLOCK));
  }

  /** Checks that buffer b is there and holds at least the given floats. */
  static void need(String name, DeviceBuffer b, long floats) {
    if (b == null) {
      throw new KernelArgumentException(name + " is null");
    }
    if (b.bytes() < 4 * floats) {
      throw new KernelArgumentException(
          name + " holds " + b.bytes() / 4 + " floats, the dimensions need " + floats);
    }
  }

  /**
   * Checks the dims and both buffers of a resize kernel, forward (out on the big grid) or backward
   * (out on the small grid); returns the output's size.
   */
  static int resize(
      String kernel, boolean backward, DeviceBuffer out, DeviceBuffer in, ResizeDims d) {
    if (d.n() <= 0 || d.h() <= 0 || d.w() <= 0 || d.c() <= 0 || d.oh() <= 0 || d.ow() <= 0) {
      throw new KernelArgumentException(kernel + ": dims must be > 0, got " + d);
    }
    long outFloats = backward ? d.small() : d.big();
    int total = count(outFloats, kernel);
    need(kernel + " out", out, outFloats);
    need(kernel + " in", in, backward ? d.big() : d.small());
    return total;
  }

  /** A resize kernel's arguments: out, in, N, H, W, C, OH, OW, align, half (as ints). */
  static Object[] resize(DeviceBuffer out, DeviceBuffer in, ResizeDims d) {
    return new Object[] {
      out, in, d.n(), d.h(), d.w(), d.c(), d.oh(), d.ow(), d.align() ? 1 : 0, d.half() ? 1 : 0
    };
  }

  /** The arguments in order, with each Object[] and int[] among them spliced in. */
  static Object[] flat(Object... parts) {
    List<Object> out = new ArrayList<>();
    for (Object p : parts) {
      if (p instanceof Object[] a) {
        out.addAll(Arrays.asList(a));
      } else if (p instanceof int[] a) {
        for (int v : a) {
          out.add(v);
        }
      } else {
        out.add(p);
      }
    }
    return out.toArray();
  }
}
