package dev.segcam.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ScopeTest {
  private record Res(String name, List<String> log) implements AutoCloseable {
    @Override
    public void close() {
      log.add(name);
    }
  }

  @Test
  void closesWhatIsNotDetachedNewestFirst() {
    List<String> log = new ArrayList<>();
    Res kept;
    try (Scope s = new Scope()) {
      s.own(new Res("a", log));
      kept = s.detach(s.own(new Res("result", log)));
      s.own(new Res("b", log));
    }
    assertEquals(List.of("b", "a"), log);
    kept.close();
    assertEquals(List.of("b", "a", "result"), log);
  }

  @Test
  void aFailingStepFreesEverythingItMade() {
    List<String> log = new ArrayList<>();
    assertThrows(
        IllegalStateException.class,
        () -> {
          try (Scope s = new Scope()) {
            s.own(new Res("x", log));
            s.own(new Res("y", log));
            throw new IllegalStateException("the kernel failed");
          }
        });
    assertEquals(List.of("y", "x"), log);
  }
}
