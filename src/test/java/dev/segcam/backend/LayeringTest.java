package dev.segcam.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The layers of docs/ARCHITECTURE.md: the engine layer never depends on the CAM pipeline. */
class LayeringTest {
  private static final Path MAIN = Path.of("src/main/java/dev/segcam");

  @Test
  void backendKernelsAndIrDoNotImportCam() throws IOException {
    assertTrue(Files.isDirectory(MAIN), "run from the project root: " + MAIN.toAbsolutePath());
    List<String> offenders = new ArrayList<>();
    for (String layer : List.of("backend", "kernels", "ir")) {
      try (Stream<Path> files = Files.walk(MAIN.resolve(layer))) {
        for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
          for (String line : Files.readAllLines(f)) {
            if (line.startsWith("import dev.segcam.cam.")
                || line.startsWith("import static dev.segcam.cam.")) {
              offenders.add(MAIN.relativize(f) + ": " + line);
            }
          }
        }
      }
    }
    assertEquals(List.of(), offenders, "the engine layer must not depend on cam");
  }
}
