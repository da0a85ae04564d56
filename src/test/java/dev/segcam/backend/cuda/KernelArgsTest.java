package dev.segcam.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.segcam.kernels.KernelArgumentException;
import org.junit.jupiter.api.Test;

/** No GPU needed: the launchers' argument lists and grid sizes. */
class KernelArgsTest {
  @Test
  void flatSplicesArraysInOrder() {
    Object[] got = KernelArgs.flat("a", new int[] {1, 2}, 3f, new Object[] {4L, "b"}, 5);
    assertArrayEquals(new Object[] {"a", 1, 2, 3f, 4L, "b", 5}, got);
    assertArrayEquals(new Object[] {7}, KernelArgs.flat(7, new Object[0]));
  }

  @Test
  void gridAndCount() {
    assertEquals(1, KernelArgs.gridFor(0));
    assertEquals(2, KernelArgs.gridFor(KernelArgs.BLOCK + 1));
    assertEquals(KernelArgs.MAX_GRID, KernelArgs.gridFor(1L << 40));
    assertThrows(KernelArgumentException.class, () -> KernelArgs.count(-1, "k"));
  }
}
