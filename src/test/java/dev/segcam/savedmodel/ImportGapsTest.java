package dev.segcam.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.cli.Main;
import dev.segcam.testing.ImportZoo;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** An import with several unsupported ops lists them all in one typed error. */
class ImportGapsTest {

  @Test
  void everyUnsupportedOpIsListedOnceWithCountAndFirstNode() {
    Path dir = ImportZoo.threeGaps();
    UnsupportedOpsException e =
        assertThrows(UnsupportedOpsException.class, () -> SavedModelImporter.load(dir));
    Map<String, Integer> counts = new LinkedHashMap<>();
    Map<String, String> first = new LinkedHashMap<>();
    for (UnsupportedOpsException.Gap g : e.gaps()) {
      counts.put(g.op(), g.count());
      first.put(g.op(), g.firstNode());
    }
    // Cos only reads a Sin: it is listed all the same
    assertEquals(Map.of("Sin", 2, "Cos", 1, "Cumsum", 1), counts, e.getMessage());
    assertEquals("gaps/cos", first.get("Cos"));
    assertEquals("gaps/cumsum", first.get("Cumsum"));
    assertTrue(first.get("Sin").startsWith("gaps/sin_"), first.toString());
    assertTrue(e.getMessage().contains("3 unsupported op type(s) in 4 node(s)"), e.getMessage());
    for (String op : counts.keySet()) {
      assertTrue(e.getMessage().contains("unsupported op " + op), e.getMessage());
    }
    assertEquals(e.gaps().get(0).firstNode(), e.where().node());
    assertTrue(e.where().file().endsWith("saved_model.pb"), e.where().file());
  }

  @Test
  void layersPrintsTheListAndFailsWithOneLine() {
    Path dir = ImportZoo.threeGaps();
    CommandLine cl = Main.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute("layers", dir.toString());
    assertEquals(Main.EXIT_ERROR, code);
    String o = out.toString();
    assertTrue(o.contains("Unsupported ops: 3 type(s) in 4 node(s)"), o);
    assertTrue(o.matches("(?s).*Cumsum\\s+1\\s+gaps/cumsum.*"), o);
    assertTrue(o.matches("(?s).*Sin\\s+2\\s+gaps/sin_.*"), o);
    assertTrue(o.matches("(?s).*Cos\\s+1\\s+gaps/cos.*"), o);
    assertEquals(1, err.toString().strip().lines().count(), err.toString());
    assertTrue(err.toString().contains("unsupported op Cumsum"), err.toString());
  }
}
