package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.cam.CamMethod;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** One vocabulary, one exit-code rule and generated help texts across explain, video and bench. */
class CliVocabularyTest {
  static final String MODEL = ExplainCommandTest.MODEL.toString();
  static final String IMG = ExplainCommandTest.sample(0).toString();

  @TempDir Path tmp;

  private ExplainCommandTest.Run run(String... args) {
    return ExplainCommandTest.run(args);
  }

  private void assertUsageError(String what, String... args) {
    ExplainCommandTest.Run r = run(args);
    assertEquals(Main.EXIT_USAGE, r.code(), what + ": " + r.err());
    assertTrue(r.err().contains("--help"), what + " names the help: " + r.err());
    assertEquals(2, r.err().strip().split("\n").length, what + ": one line + hint: " + r.err());
  }

  @Test
  void badOptionValuesAreUsageErrorsInEveryCommand() {
    String out = tmp.resolve("o").toString();
    String frames = tmp.resolve("frames").toString();
    String dir = "samples";
    assertUsageError("explain --method", "explain", MODEL, IMG, "--out", out, "--method", "x");
    assertUsageError("explain --backend", "explain", MODEL, IMG, "--out", out, "--backend", "x");
    assertUsageError("video --method", "video", MODEL, dir, frames, "-c", "1", "--method", "x");
    assertUsageError("video --backend", "video", MODEL, dir, frames, "-c", "1", "--backend", "x");
    assertUsageError("video --size", "video", MODEL, dir, frames, "-c", "1", "--size", "64");
    assertUsageError("video --colormap", "video", MODEL, dir, frames, "-c", "1", "--colormap", "x");
    assertUsageError("video --score", "video", MODEL, dir, frames, "-c", "1", "--score", "x");
    assertUsageError("video --batch", "video", MODEL, dir, frames, "-c", "1", "--batch", "0");
    assertUsageError("video --alpha", "video", MODEL, dir, frames, "-c", "1", "--alpha", "2");
    assertUsageError(
        "video --fixed-scale", "video", MODEL, dir, frames, "-c", "1", "--fixed-scale", "x");
    assertUsageError("bench --size", "bench", MODEL, "--size", "64");
    assertUsageError("bench --batch", "bench", MODEL, "--batch", "0");
    assertUsageError("bench --backend", "bench", MODEL, "--backend", "x");
  }

  @ParameterizedTest
  @ValueSource(strings = {"gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "grad-cam"})
  void explainAndVideoTakeTheSameMethodNames(String m) {
    CommandLine.ParseResult e =
        Main.commandLine().parseArgs("explain", MODEL, IMG, "--out", "o", "--method", m);
    CommandLine.ParseResult v =
        Main.commandLine().parseArgs("video", MODEL, "samples", "o", "-c", "1", "--method", m);
    // explain's --method also takes guided-gradcam, so it parses to (method, guided)
    Vocabulary.ExplainMethod ex = e.subcommand().matchedOptionValue("--method", null);
    assertEquals(false, ex.guided(), m);
    CamMethod em = ex.method();
    CamMethod vm = v.subcommand().matchedOptionValue("--method", null);
    assertEquals(em, vm, m);
  }

  @Test
  void explainAndVideoTakeTheSameRegionFlags() {
    for (String flag : List.of("--predicted", "--component", "--whole")) {
      Main.commandLine().parseArgs("explain", MODEL, IMG, "--out", "o", flag);
      Main.commandLine().parseArgs("video", MODEL, "samples", "o", "-c", "1", flag);
    }
  }

  @Test
  void aModelFileInsteadOfItsFolderIsNamedAsSuch() {
    ExplainCommandTest.Run r = run("layers", MODEL + "/saved_model.pb");
    assertEquals(Main.EXIT_ERROR, r.code(), r.err());
    assertTrue(r.err().contains("is a file, not a SavedModel directory"), r.err());
  }

  @Test
  void benchTakesAClassName() {
    ExplainCommandTest.Run r =
        run("bench", MODEL, "--class", "shadow", "--iterations", "1", "--warmup", "0");
    assertEquals(0, r.code(), r.err());
  }

  /**
   * Help texts: labels in capitals, shared options worded alike (generated from one definition).
   */
  @Test
  void helpTextsAgree() {
    CommandLine cl = Main.commandLine();
    List<String> methodLines = new ArrayList<>();
    for (String cmd : List.of("explain", "video", "bench", "layers")) {
      String help = cl.getSubcommands().get(cmd).getUsageMessage(CommandLine.Help.Ansi.OFF);
      Matcher lower = Pattern.compile("<[a-z][A-Za-z]*>").matcher(help);
      assertFalse(lower.find(), cmd + " --help shows a field name " + help);
      if (!cmd.equals("layers")) {
        assertTrue(help.contains("--backend=auto|cpu|java|cuda"), cmd + ": " + help);
      }
      if (cmd.equals("video") || cmd.equals("bench")) {
        assertTrue(help.contains("--size=WxH"), cmd + ": " + help);
      }
      if (!cmd.equals("layers") && !cmd.equals("bench")) {
        Matcher m = Pattern.compile("--method=METHOD\\s+(.*)").matcher(help);
        assertTrue(m.find(), cmd + ": " + help);
        methodLines.add(m.group(1));
      }
    }
    assertEquals(methodLines.get(0), methodLines.get(1), "explain and video describe --method");
  }
}
