package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** README.md's command lines parse, and every option its synopses name exists in the code. */
class ReadmeCliTest {
  private static List<String> readme() throws IOException {
    return Files.readAllLines(Path.of("README.md"));
  }

  /** Indented example lines: {@code ./segcam CMD ...} without synopsis brackets. */
  @Test
  void everyReadmeCommandLineParses() throws IOException {
    int n = 0;
    for (String line : readme()) {
      String l = line.strip();
      if (!line.startsWith("    ") || !l.startsWith("./segcam ") || l.contains("[")) {
        continue;
      }
      String[] args = l.substring("./segcam ".length()).split("\\s+");
      CommandLine.ParseResult r = Main.commandLine().parseArgs(args);
      assertNotNull(r.subcommand(), l);
      n++;
    }
    assertTrue(n >= 1, "no example command line found in README.md");
  }

  /** Synopsis blocks ({@code segcam CMD ...} and the indented lines after it) name real options. */
  @Test
  void everyOptionOfTheSynopsesExists() throws IOException {
    List<String> lines = readme();
    CommandLine cl = Main.commandLine();
    List<String> missing = new ArrayList<>();
    int checked = 0;
    for (int i = 0; i < lines.size(); i++) {
      String l = lines.get(i).strip();
      Matcher m = Pattern.compile("^segcam (\\w+) ").matcher(l);
      if (!lines.get(i).startsWith("    ") || !m.find()) {
        continue;
      }
      CommandLine sub = cl.getSubcommands().get(m.group(1));
      assertNotNull(sub, "README names an unknown command: " + l);
      for (int j = i; j < lines.size() && lines.get(j).startsWith("    "); j++) {
        Matcher o = Pattern.compile("(--?[a-z][a-z-]*)").matcher(lines.get(j));
        while (o.find()) {
          checked++;
          if (sub.getCommandSpec().findOption(o.group(1)) == null) {
            missing.add(m.group(1) + " " + o.group(1));
          }
        }
      }
    }
    assertTrue(checked > 20, "too few synopsis options found: " + checked);
    assertFalse(!missing.isEmpty(), "README synopses name options the code lacks: " + missing);
  }

  /** The help of every command renders, and its options are in README (by name). */
  @Test
  void everyHelpOptionIsInTheReadme() throws IOException {
    String text = String.join("\n", readme());
    List<String> missing = new ArrayList<>();
    for (var e : Main.commandLine().getSubcommands().entrySet()) {
      for (var opt : e.getValue().getCommandSpec().options()) {
        String name = opt.longestName();
        if (Arrays.asList("--help", "--version", "--verbose").contains(name)) {
          continue; // every command has them (README: "Errors")
        }
        if (!text.contains(name)) {
          missing.add(e.getKey() + " " + name);
        }
      }
    }
    assertTrue(missing.isEmpty(), "options missing from README.md: " + missing);
  }
}
