package dev.segcam.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/**
 * A slice kept after its parent is closed must stay unusable when the arena lends the block again
 * (issue 12, 10(h)). No device is touched: the arena's pool hands back a block without cudaMalloc,
 * and the pointer is never dereferenced.
 */
class DeviceBufferGenerationTest {
  @Test
  void aStaleSliceFailsAfterTheBlockIsReused() {
    DeviceArena arena =
        new DeviceArena(
            null,
            () -> {
              throw new AssertionError("no device call expected");
            });
    long size = DeviceArena.sizeClass(64);
    DeviceBuffer block = new DeviceBuffer(arena, new Pointer(), size, 64);
    DeviceBuffer slice = block.slice(16, 16);
    assertDoesNotThrow(slice::address);
    block.close(); // back to the pool
    assertThrows(IllegalStateException.class, slice::address);
    DeviceBuffer again = arena.alloc(64); // the same block, lent again
    assertSame(block, again);
    assertDoesNotThrow(again::address);
    assertThrows(IllegalStateException.class, slice::address);
    assertDoesNotThrow(() -> again.slice(16, 16).address());
  }
}
