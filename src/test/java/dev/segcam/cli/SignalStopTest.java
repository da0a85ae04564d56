package dev.segcam.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.segcam.video.Ffmpeg;
import dev.segcam.video.VideoException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A real {@code segcam} JVM (the test class path, {@code dev.segcam.cli.Main}) is sent SIGINT or
 * SIGTERM in the middle of a multi-image run: explain leaves its output folder as it was, video
 * keeps every finished frame under its final name and no partial or temporary file; both say so in
 * one line and exit with 128 + the signal number. The child runs under umask 022, so its finished
 * files must be mode 0644.
 */
class SignalStopTest {
  static final Path MODEL = Path.of("weights/scene-unet");

  /** Input images: enough that the run is still going when the signal comes. */
  private static final int IMAGES = 400;

  private static final long START_TIMEOUT_S = 120;
  private static final long EXIT_TIMEOUT_S = 60;

  @TempDir Path tmp;

  private Path inputs() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("in"));
    byte[] png = Files.readAllBytes(Path.of("samples/scene_03.png"));
    for (int i = 0; i < IMAGES; i++) {
      Files.write(dir.resolve(String.format("img_%04d.png", i)), png);
    }
    return dir;
  }

  private static Process start(Path log, List<String> args) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>();
    // A child inherits ignored signals: started from a background job without job control (as a CI
    // runner may start `mvn`), SIGINT would be ignored by the JVM under test. env resets them.
    cmd.add("env");
    cmd.add("--default-signal=INT,TERM");
    cmd.add("/bin/sh");
    cmd.add("-c");
    // umask 022 and exec: the signal goes to the JVM itself
    StringBuilder line = new StringBuilder("umask 022; exec \"$0\" \"$@\"");
    cmd.add(line.toString());
    cmd.add(java);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("dev.segcam.cli.Main");
    cmd.addAll(args);
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  /** Waits until {@code ready} holds (the run is under way), failing if the child ends first. */
  private static void awaitMidRun(Process p, Path log, Predicate<Void> ready) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_TIMEOUT_S);
    while (!ready.test(null)) {
      if (!p.isAlive()) {
        fail("the run ended before the signal: " + Files.readString(log));
      }
      if (System.nanoTime() > end) {
        p.destroyForcibly();
        fail("the run did not get under way: " + Files.readString(log));
      }
      Thread.sleep(20);
    }
  }

  private static int signal(Process p, String sig, Path log) throws Exception {
    Process k = new ProcessBuilder("kill", "-" + sig, Long.toString(p.pid())).start();
    assertEquals(0, k.waitFor());
    if (!p.waitFor(EXIT_TIMEOUT_S, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("still running " + EXIT_TIMEOUT_S + " s after SIG" + sig + ": " + Files.readString(log));
    }
    return p.exitValue();
  }

  private static int number(String sig) {
    return sig.equals("INT") ? 2 : 15;
  }

  private static List<Path> tree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return List.of();
    }
    try (Stream<Path> s = Files.walk(root)) {
      return s.filter(p -> !p.equals(root)).map(root::relativize).sorted().toList();
    }
  }

  private static boolean anyFileUnder(Path root, String namePart) {
    try (Stream<Path> s = Files.walk(root)) {
      return s.anyMatch(p -> Files.isRegularFile(p) && p.toString().contains(namePart));
    } catch (IOException | java.io.UncheckedIOException e) {
      return false; // the tree changes while we look
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"INT", "TERM"})
  void explainLeavesTheFolderAsItWas(String sig) throws Exception {
    Path in = inputs();
    Path out = Files.createDirectories(tmp.resolve("out"));
    Files.writeString(out.resolve("keep.txt"), "from before\n");
    List<Path> before = tree(out);
    List<String> args = new ArrayList<>(List.of("explain", MODEL.toString()));
    try (Stream<Path> s = Files.list(in)) {
      s.sorted().forEach(p -> args.add(p.toString()));
    }
    args.addAll(List.of("--out", out.toString(), "--backend", "cpu"));
    Path log = tmp.resolve("log.txt");
    Process p = start(log, args);
    // staged files exist: the run is half way through writing
    awaitMidRun(p, log, v -> anyFileUnder(out, ".segcam-staging-") && anyFileUnder(out, ".png"));
    int code = signal(p, sig, log);
    String said = Files.readString(log);
    assertEquals(128 + number(sig), code, said);
    assertTrue(said.contains("stopped by SIG" + sig), said);
    assertTrue(said.contains("is as it was"), said);
    assertEquals(before, tree(out), "output folder after SIG" + sig + "; log: " + said);
  }

  @ParameterizedTest
  @ValueSource(strings = {"INT", "TERM"})
  void explainRemovesTheFolderItCreated(String sig) throws Exception {
    Path in = inputs();
    Path out = tmp.resolve("new-out");
    List<String> args = new ArrayList<>(List.of("explain", MODEL.toString()));
    try (Stream<Path> s = Files.list(in)) {
      s.sorted().forEach(p -> args.add(p.toString()));
    }
    args.addAll(List.of("--out", out.toString(), "--backend", "cpu"));
    Path log = tmp.resolve("log.txt");
    Process p = start(log, args);
    awaitMidRun(p, log, v -> Files.exists(out) && anyFileUnder(out, ".png"));
    int code = signal(p, sig, log);
    String said = Files.readString(log);
    assertEquals(128 + number(sig), code, said);
    assertFalse(Files.exists(out), "left " + tree(out) + "; log: " + said);
  }

  @ParameterizedTest
  @ValueSource(strings = {"INT", "TERM"})
  void videoKeepsWholeFramesOnly(String sig) throws Exception {
    Path in = inputs();
    Path out = tmp.resolve("frames");
    Path log = tmp.resolve("log.txt");
    Process p =
        start(log, List.of("video", MODEL.toString(), in.toString(), out.toString(), "-c", "1"));
    // a finished frame (not the hidden temporary file of one) is under its final name
    awaitMidRun(p, log, v -> Files.exists(out) && anyFileUnder(out, "/frame_"));
    int code = signal(p, sig, log);
    String said = Files.readString(log);
    assertEquals(128 + number(sig), code, said);
    assertTrue(said.contains("stopped by SIG" + sig) && said.contains("whole frame"), said);
    List<Path> left = tree(out);
    assertFalse(left.isEmpty(), said);
    assertTrue(left.size() < IMAGES, "the run finished before the signal: " + said);
    for (Path f : left) {
      Path abs = out.resolve(f);
      assertTrue(f.toString().matches("frame_\\d{6}\\.png"), "stray file " + f + "; " + said);
      assertNotNull(ImageIO.read(abs.toFile()), f + " is not a whole PNG");
      assertEquals(
          "rw-r--r--",
          PosixFilePermissions.toString(Files.getPosixFilePermissions(abs)),
          f + " under umask 022");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"INT", "TERM"})
  void videoFileLeavesNoPartialFile(String sig) throws Exception {
    try {
      Ffmpeg.locate(null);
    } catch (VideoException.FfmpegMissingException e) {
      assumeTrue(false, "ffmpeg is not installed (apt-get install ffmpeg): " + e.getMessage());
    }
    Path in = inputs();
    Path mp4 = tmp.resolve("out.mp4");
    Path partial = tmp.resolve("out.mp4.partial");
    Path log = tmp.resolve("log.txt");
    Process p =
        start(log, List.of("video", MODEL.toString(), in.toString(), mp4.toString(), "-c", "1"));
    awaitMidRun(p, log, v -> Files.exists(partial));
    int code = signal(p, sig, log);
    String said = Files.readString(log, StandardCharsets.UTF_8);
    assertEquals(128 + number(sig), code, said);
    assertFalse(Files.exists(partial), said);
    assertFalse(Files.exists(mp4), said);
  }
}
