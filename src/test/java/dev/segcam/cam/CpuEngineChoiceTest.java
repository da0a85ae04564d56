package dev.segcam.cam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.backend.onednn.OneDnnProbe;
import dev.segcam.ir.Graph;
import dev.segcam.savedmodel.SavedModelImporter;
import dev.segcam.testing.RequiresOneDnn;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which CPU engine {@link CpuCamBackend#open} builds, and the line that says so. */
class CpuEngineChoiceTest {
  private static final Path MODEL = Path.of("weights/scene-unet");

  @Test
  void javaOnlyIsThePureJavaEngineWithoutNotes() {
    Graph g = SavedModelImporter.load(MODEL).graph();
    List<String> notes = new ArrayList<>();
    try (CpuCamBackend b = CpuCamBackend.open(g, 1, true, notes::add)) {
      assertEquals(CpuCamBackend.JAVA_ENGINE, b.engine());
      assertEquals("cpu", b.name());
    }
    assertEquals(List.of(), notes);
  }

  @Test
  @RequiresOneDnn
  void cpuPicksOneDnnWhenItLoads() {
    Graph g = SavedModelImporter.load(MODEL).graph();
    List<String> notes = new ArrayList<>();
    try (CpuCamBackend b = CpuCamBackend.open(g, 1, false, notes::add)) {
      assertEquals(OneDnnProbe.status().describe(), b.engine());
      assertTrue(b.engine().startsWith("oneDNN "), b.engine());
    }
    assertEquals(List.of(), notes);
  }
}
