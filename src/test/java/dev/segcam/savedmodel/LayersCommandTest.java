package dev.segcam.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code segcam layers} through picocli with captured output. */
class LayersCommandTest {
  private record Run(int code, String out, String err) {}

  private static Run run(String... args) {
    CommandLine cl = Main.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void listsLayersWithShapesParamsAndTotals() {
    Run r = run("layers", Fixtures.dir("tf2-keras-conv2d-effdet-fake").toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("Signature: serving_default"), r.out());
    assertTrue(
        r.out().matches("(?s).*conv2d_3\\s+Conv2D\\s+\\[\\?,5,5,64]\\s+256\\s+input_1.*"), r.out());
    assertTrue(r.out().contains("Total: 11 layers, 2,560 parameters"), r.out());
    assertTrue(r.out().contains("input  input_1"), r.out());
  }

  @Test
  void signatureOption() {
    Run r =
        run(
            "layers",
            Fixtures.dir("tf2-module-half-plus-two").toString(),
            "--signature",
            "regress_x2_to_y3");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("Signature: regress_x2_to_y3"), r.out());
  }

  @Test
  void errorsAreOneLineWithNonZeroExit() {
    Run r = run("layers", Fixtures.dir("tf2-keras-subclassed-conv1d").toString());
    assertEquals(Main.EXIT_ERROR, r.code());
    assertTrue(r.err().startsWith("segcam: error: "), r.err());
    assertTrue(r.err().contains("unsupported op IsNan"), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertFalse(r.err().contains("\tat "), r.err());

    Run missing = run("layers", "/no/such/model");
    assertEquals(Main.EXIT_ERROR, missing.code());
    assertTrue(missing.err().contains("does not exist"), missing.err());

    Run sig = run("layers", Fixtures.dir("tf1-cifar-cnn").toString(), "-s", "nope");
    assertEquals(Main.EXIT_ERROR, sig.code());
    assertTrue(sig.err().contains("no signature 'nope'"), sig.err());
  }

  @Test
  void verbosePrintsTheStackTrace() {
    Run r = run("layers", "--verbose", "/no/such/model");
    assertEquals(Main.EXIT_ERROR, r.code());
    assertTrue(r.err().contains("\tat "), r.err());
  }

  @Test
  void usageErrorsExitWithTwo() {
    assertEquals(2, run("layers").code());
    assertEquals(2, run("frobnicate").code());
  }

  @Test
  void inputShapeOption(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) {
    String dir = OpMappingTest.upsampleOfUnknownSize().write(tmp.resolve("m")).toString();
    Run without = run("layers", dir);
    assertEquals(Main.EXIT_ERROR, without.code());
    assertTrue(without.err().contains("known only at run time"), without.err());
    Run with = run("layers", dir, "--input-shape", "1,4,6,2");
    assertEquals(0, with.code(), with.err());
    assertTrue(with.out().matches("(?s).*up\\s+Resize\\s+\\[1,8,12,2].*"), with.out());
    Run keyed = run("layers", dir, "--input-shape", "x=-1,5,5,2");
    assertEquals(0, keyed.code(), keyed.err());
    Run bad = run("layers", dir, "--input-shape", "x=1,a,2");
    assertEquals(Main.EXIT_ERROR, bad.code());
    assertTrue(bad.err().contains("--input-shape 'x=1,a,2'"), bad.err());
  }
}
