package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.segcam.image.Images;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code segcam explain} on broken images (issue #7): exit 1, one line on stderr naming the file
 * and what is wrong, and nothing written (a fresh --out is not even created; an existing one keeps
 * only what it had).
 */
class ExplainBadImageTest {
  static final Path MODEL = Path.of("weights/scene-unet");
  static final Path GOOD = Path.of("samples/scene_00.png");

  @TempDir Path tmp;

  record Run(int code, String out, String err) {}

  static Run explain(Path out, Path... images) {
    List<String> args = new ArrayList<>(List.of("explain", MODEL.toString()));
    for (Path p : images) {
      args.add(p.toString());
    }
    args.addAll(List.of("--out", out.toString(), "--backend", "cpu"));
    CommandLine cl = Main.commandLine();
    StringWriter o = new StringWriter();
    StringWriter e = new StringWriter();
    cl.setOut(new PrintWriter(o));
    cl.setErr(new PrintWriter(e));
    int code = cl.execute(args.toArray(String[]::new));
    return new Run(code, o.toString(), e.toString());
  }

  /** Exit 1 and exactly one error line (progress lines of earlier images aside). */
  static void assertOneLineError(Run r, String... contains) {
    assertEquals(Main.EXIT_ERROR, r.code(), r.out() + r.err());
    List<String> lines = r.err().strip().lines().filter(l -> !l.startsWith("segcam: [")).toList();
    assertEquals(1, lines.size(), r.err());
    String line = lines.get(0);
    assertTrue(line.startsWith("segcam: error: "), r.err());
    assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    for (String c : contains) {
      assertTrue(line.contains(c), "want '" + c + "' in: " + line);
    }
  }

  static List<String> list(Path d) throws IOException {
    try (Stream<Path> s = Files.list(d)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void badCrcAfterAGoodImageLeavesTheOutputFolderAsItWas() throws IOException {
    byte[] png = Files.readAllBytes(GOOD);
    png[8 + 8 + 13] ^= 1; // IHDR's CRC
    Path bad = tmp.resolve("flipped.png");
    Files.write(bad, png);
    Path out = Files.createDirectories(tmp.resolve("out"));
    Files.writeString(out.resolve("keep.txt"), "an earlier file");
    Run r = explain(out, GOOD, bad);
    assertOneLineError(r, bad.toString(), "corrupt PNG: CRC mismatch in chunk IHDR");
    assertEquals(List.of("keep.txt"), list(out), "no half-written outputs, no staging folder");
  }

  @Test
  void eachKindOfBadImageIsOneClearLineAndNoOutputFolder() throws IOException {
    byte[] png = Files.readAllBytes(GOOD);
    Path truncated = tmp.resolve("cut.png");
    Files.write(truncated, Arrays.copyOf(png, png.length - 20));
    Path text = tmp.resolve("notes.png");
    Files.writeString(text, "not a picture\n", StandardCharsets.UTF_8);
    Path empty = tmp.resolve("empty.jpg");
    Files.write(empty, new byte[0]);
    Path huge = tmp.resolve("huge.png");
    byte[] header = Arrays.copyOf(png, 8 + 25); // signature + IHDR
    header[16] = 0x7F; // width 2^31-1 instead of 64, with a matching CRC: only the size is wrong
    header[17] = (byte) 0xFF;
    header[18] = (byte) 0xFF;
    header[19] = (byte) 0xFF;
    CRC32 crc = new CRC32();
    crc.update(header, 12, 17); // "IHDR" and its 13 bytes
    int c = (int) crc.getValue();
    header[29] = (byte) (c >>> 24);
    header[30] = (byte) (c >>> 16);
    header[31] = (byte) (c >>> 8);
    header[32] = (byte) c;
    Files.write(huge, header);

    Object[][] cases = {
      {truncated, "truncated PNG"},
      {text, "not an image in a format segcam reads"},
      {empty, "empty file (0 bytes)"},
      {huge, "image dimensions 2147483647x64 out of range"},
      {tmp.resolve("missing.png"), "no such image"},
    };
    for (Object[] k : cases) {
      Path img = (Path) k[0];
      Path out = tmp.resolve("out-" + img.getFileName());
      Run r = explain(out, img);
      assertOneLineError(r, img.toString(), (String) k[1]);
      assertFalse(Files.exists(out), "no output folder after a failed run: " + out);
    }
    assertEquals(Images.MAX_PIXELS, Images.maxPixels());
  }
}
