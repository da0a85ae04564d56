package dev.segcam.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Issue 12 point 10 (c): close() waits for the stream and releases nothing when that fails. */
class CloseOrderTest {

  @Test
  void failedStreamSyncReleasesNothing() {
    List<String> done = new ArrayList<>();
    CudaException syncFailure = new CudaException("stream synchronize at close: fake failure", 700);
    RuntimeException thrown =
        assertThrows(
            RuntimeException.class,
            () ->
                CloseOrder.afterSync(
                    () -> {
                      done.add("sync");
                      throw syncFailure;
                    },
                    List.of(() -> done.add("unload modules"), () -> done.add("free arena"))));
    assertSame(syncFailure, thrown);
    assertEquals(List.of("sync"), done, "no module may be unloaded after a failed stream sync");
  }

  @Test
  void afterSyncEveryReleaseRunsInOrderAndTheFirstFailureIsThrown() {
    List<String> done = new ArrayList<>();
    IllegalStateException unloadFailure = new IllegalStateException("fake cuModuleUnload failure");
    RuntimeException thrown =
        assertThrows(
            RuntimeException.class,
            () ->
                CloseOrder.afterSync(
                    () -> done.add("sync"),
                    List.of(
                        () -> {
                          done.add("unload modules");
                          throw unloadFailure;
                        },
                        () -> {
                          done.add("free arena");
                          throw new IllegalStateException("second failure");
                        },
                        () -> done.add("destroy stream"))));
    assertSame(unloadFailure, thrown);
    assertEquals(List.of("sync", "unload modules", "free arena", "destroy stream"), done);
  }
}
