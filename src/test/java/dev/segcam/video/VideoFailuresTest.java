package dev.segcam.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.segcam.backend.BackendChoice;
import dev.segcam.cli.Main;
import dev.segcam.image.Images;
import dev.segcam.synth.SceneGenerator;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Issue 7 part 5: a reader that goes away, a full disk, a killed ffmpeg. In each case every
 * finished frame is on disk, the error is one clear line naming the file or process, and no output
 * carries its final name unless it is complete. Each test is time-bound on its own thread, so a
 * hang fails instead of blocking the build.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class VideoFailuresTest {
  static final Path MODEL = Path.of("weights/scene-unet");
  static final int N = 24;
  static final int SIDE = 64;

  @TempDir static Path tmp;
  static Path frames;

  @BeforeAll
  static void makeFrames() {
    frames = tmp.resolve("frames");
    SceneGenerator gen = new SceneGenerator(SIDE, SIDE);
    for (int i = 0; i < N; i++) {
      Images.writePng(gen.generate(99, i).toTensor(), frames.resolve("s_" + i + ".png"));
    }
  }

  record Run(int code, String out, String err) {}

  static Run cli(String... args) {
    CommandLine cl = Main.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  static VideoRun.Options options(Path out) {
    VideoRun.Options o = new VideoRun.Options();
    o.model = MODEL;
    o.input = frames.toString();
    o.output = out;
    o.classes = List.of("1", "3");
    o.backend = BackendChoice.CPU;
    o.batch = 1;
    o.threads = 2;
    return o;
  }

  /** One "segcam: error: ..." line and no stack trace. */
  static void assertOneLineError(Run r) {
    assertEquals(Main.EXIT_ERROR, r.code(), r.err());
    List<String> errors = r.err().lines().filter(l -> l.startsWith("segcam: error: ")).toList();
    assertEquals(1, errors.size(), r.err());
    assertFalse(r.err().contains("\tat "), "a stack trace: " + r.err());
    assertFalse(r.err().contains("Exception"), "an exception class name: " + r.err());
  }

  static List<String> names(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /** Exactly frame_0..k-1, each a whole PNG equal to the source frame; no temporary debris. */
  static void assertFinishedPngs(Path dir, int k, boolean sameAsSource) throws IOException {
    List<String> want = new ArrayList<>();
    for (int i = 0; i < k; i++) {
      want.add(PngSequenceSink.fileName(i));
    }
    assertEquals(want, names(dir), "finished PNGs (and nothing else) in " + dir);
    for (int i = 0; i < k; i++) {
      BufferedImage got = Images.read(dir.resolve(PngSequenceSink.fileName(i)));
      if (sameAsSource) {
        BufferedImage src = Images.read(frames.resolve("s_" + i + ".png"));
        for (int y = 0; y < SIDE; y++) {
          for (int x = 0; x < SIDE; x++) {
            assertEquals(
                src.getRGB(x, y) & 0xffffff, got.getRGB(x, y) & 0xffffff, "pixel " + x + "," + y);
          }
        }
      }
    }
  }

  // ---- a reader that goes away ----

  /** JSON lines on stdout ("-"), whose reader closes after three lines. */
  @Test
  void stdoutWhoseReaderGoesAwayIsAClosedPipe() {
    VideoRun.Options o = options(Path.of("-"));
    AtomicInteger lines = new AtomicInteger();
    o.stdout =
        new OutputStream() {
          @Override
          public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
          }

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            if (lines.get() >= 3) {
              throw new IOException("Broken pipe");
            }
            for (int i = off; i < off + len; i++) {
              if (b[i] == '\n') {
                lines.incrementAndGet();
              }
            }
          }
        };
    VideoException e =
        assertThrows(
            VideoException.class, () -> VideoRun.run(o, new PrintWriter(new StringWriter())));
    String m = e.getMessage();
    assertTrue(
        m.startsWith("output pipe closed: the reader of stdout went away after 3 frame(s)"), m);
  }

  /** A named pipe whose reader reads one line and closes it: exit 1, one line, no trace. */
  @Test
  void namedPipeWhoseReaderClosesEarlyFailsWithOneClearLine() throws Exception {
    Path fifo = tmp.resolve("out.fifo");
    Process mk = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
    assumeTrue(mk.waitFor() == 0, "mkfifo is not available");
    AtomicReference<String> first = new AtomicReference<>();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader r = Files.newBufferedReader(fifo, StandardCharsets.UTF_8)) {
                first.set(r.readLine());
              } catch (IOException e) {
                first.set("reader failed: " + e);
              }
            });
    reader.setDaemon(true);
    reader.start();
    Run r =
        cli(
            "video",
            MODEL.toString(),
            frames.toString(),
            fifo.toString(),
            "--class",
            "1",
            "--backend",
            "cpu",
            "--batch",
            "1");
    reader.join(10_000);
    assertNotNull(first.get());
    assertTrue(first.get().startsWith("{\"frame\":0,"), first.get());
    assertOneLineError(r);
    assertTrue(
        r.err().contains("segcam: error: output pipe closed: the reader of " + fifo + " went away"),
        r.err());
    assertFalse(Files.exists(tmp.resolve("out.fifo.partial")));
  }

  // ---- a full disk ----

  /** /dev/full as the JSON-lines stream: the first write fails, naming the device. */
  @Test
  void fullDeviceAsJsonLinesOutputNamesItAndLeavesNoDebris() {
    Path full = Path.of("/dev/full");
    assumeTrue(Files.exists(full), "no /dev/full on this system");
    Run r =
        cli(
            "video",
            MODEL.toString(),
            frames.toString(),
            full.toString(),
            "--class",
            "1",
            "--backend",
            "cpu");
    assertOneLineError(r);
    assertTrue(
        r.err().contains("segcam: error: cannot write /dev/full: No space left on device"),
        r.err());
    assertFalse(Files.exists(Path.of("/dev/full.partial")));
  }

  /** PNGs to a directory, JSON lines to /dev/full: the PNG of the frame in flight is finished. */
  @Test
  void fullDeviceBehindPngsKeepsTheFinishedPngs() throws IOException {
    Path full = Path.of("/dev/full");
    assumeTrue(Files.exists(full), "no /dev/full on this system");
    Path dir = tmp.resolve("png-then-full");
    VideoRun.Options o = options(dir);
    o.jsonl = full;
    VideoException e =
        assertThrows(
            VideoException.class, () -> VideoRun.run(o, new PrintWriter(new StringWriter())));
    String m = e.getMessage();
    assertTrue(m.startsWith("cannot write /dev/full: No space left on device"), m);
    assertTrue(m.contains("1 finished PNG(s) remain in " + dir), m);
    assertFinishedPngs(dir, 1, false);
  }

  /**
   * The disk fills while frame K is written: that frame's temporary file is half written and
   * removed, frames 0..K-1 stay as whole PNGs under their names, and the JSON lines written next to
   * them stay under .partial.
   */
  @Test
  void diskFullDuringAPngKeepsTheFinishedOnesAndNoHalfFile() throws IOException {
    int k = 5;
    Path dir = tmp.resolve("png-full");
    Path jsonl = tmp.resolve("png-full.jsonl");
    AtomicInteger opened = new AtomicInteger();
    PngSequenceSink png =
        new PngSequenceSink(
            dir,
            file -> {
              OutputStream real = Files.newOutputStream(file);
              if (opened.getAndIncrement() < k) {
                return real;
              }
              return new OutputStream() {
                int n;

                @Override
                public void write(int b) throws IOException {
                  write(new byte[] {(byte) b}, 0, 1);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                  int room = Math.max(0, 100 - n); // the disk takes 100 bytes, then is full
                  real.write(b, off, Math.min(room, len));
                  n += Math.min(room, len);
                  if (len > room) {
                    throw new IOException("No space left on device");
                  }
                }

                @Override
                public void close() throws IOException {
                  real.close();
                }
              };
            });
    JsonLinesSink json = new JsonLinesSink(jsonl, new int[0], List.of());
    FramePipeline p =
        new FramePipeline(
            new ImageDirectorySource(frames), List.of(), new TeeSink(List.of(png, json)), 4, null);
    VideoException e = assertThrows(VideoException.class, p::run);
    String m = e.getMessage();
    Path bad = dir.resolve(PngSequenceSink.fileName(k));
    assertTrue(
        m.startsWith("cannot write frame " + k + " to " + bad + ": No space left on device"), m);
    assertTrue(m.contains(k + " finished PNG(s) remain in " + dir), m);
    assertTrue(m.contains("png-full.jsonl.partial (incomplete)"), m);
    assertFinishedPngs(dir, k, true);
    assertFalse(Files.exists(jsonl), "a complete-looking " + jsonl);
    List<String> lines = Files.readAllLines(tmp.resolve("png-full.jsonl.partial"));
    assertEquals(k, lines.size(), "JSON lines of the finished frames");
  }

  // ---- a killed ffmpeg ----

  static Optional<ProcessHandle> child(String commandPart) {
    return ProcessHandle.current()
        .descendants()
        .filter(ph -> ph.info().commandLine().map(c -> c.contains(commandPart)).orElse(false))
        .findFirst();
  }

  /**
   * The decoding ffmpeg is killed mid-run: the frames it delivered are explained and written, the
   * error names ffmpeg, the file and the signal, the JSON lines stay under .partial.
   */
  @Test
  void killedDecoderKeepsTheDecodedFramesAndNamesTheSignal() throws Exception {
    Ffmpeg ff;
    try {
      ff = Ffmpeg.locate(null);
    } catch (VideoException.FfmpegMissingException e) {
      assumeTrue(false, "ffmpeg is not installed (apt-get install ffmpeg): " + e.getMessage());
      return;
    }
    Path video = tmp.resolve("long-input.mkv");
    Process mk =
        new ProcessBuilder(
                ff.ffmpeg().toString(),
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=64x64:rate=25",
                "-frames:v",
                "300",
                "-c:v",
                "ffv1",
                video.toString())
            .redirectErrorStream(true)
            .start();
    String log = new String(mk.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, mk.waitFor(), log);

    Path dir = tmp.resolve("from-killed");
    Path jsonl = tmp.resolve("from-killed.jsonl");
    VideoRun.Options o = options(dir);
    o.input = video.toString();
    o.jsonl = jsonl;
    o.classes = List.of("1");
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread t =
        new Thread(
            () -> {
              try {
                VideoRun.run(o, new PrintWriter(new StringWriter()));
              } catch (Throwable e) {
                thrown.set(e);
              }
            });
    t.setDaemon(true);
    t.start();
    Optional<ProcessHandle> dec = Optional.empty();
    while (t.isAlive()) {
      dec = child("long-input.mkv");
      if (dec.isPresent() && Files.isDirectory(dir) && names(dir).size() >= 2) {
        break;
      }
      Thread.sleep(5);
    }
    assertTrue(dec.isPresent(), "never saw the decoder; run ended with " + thrown.get());
    assertTrue(t.isAlive(), "the run ended before the decoder could be killed: " + thrown.get());
    dec.get().destroyForcibly();
    t.join(60_000);
    assertFalse(t.isAlive(), "the run hangs after its decoder was killed");
    Throwable e = thrown.get();
    assertNotNull(e, "the run succeeded although its decoder was killed");
    assertTrue(e instanceof VideoException, e.toString());
    String m = e.getMessage();
    assertTrue(m.startsWith("ffmpeg could not decode " + video + ": it was killed by signal 9"), m);
    int k = names(dir).size();
    assertTrue(k >= 2 && k < 300, k + " frames");
    assertTrue(m.contains(k + " frame(s) were handed to the output before the failure"), m);
    assertFinishedPngs(dir, k, false);
    assertFalse(Files.exists(jsonl), "a complete-looking " + jsonl);
    List<String> lines = Files.readAllLines(tmp.resolve("from-killed.jsonl.partial"));
    assertEquals(k, lines.size());
    for (int i = 0; i < k; i++) {
      assertTrue(lines.get(i).startsWith("{\"frame\":" + i + ","), lines.get(i));
      assertFalse(lines.get(i).contains("\"error\""), lines.get(i));
    }
  }

  /**
   * Reading from a pipe works for the test's own sanity: the JVM is not left with live children.
   */
  @Test
  void noFfmpegOutlivesAFailedRun() throws Exception {
    // runs after (or alongside) the others in this JVM: any child still alive would be a leak
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (System.nanoTime() < deadline
        && ProcessHandle.current().descendants().anyMatch(ph -> isFfmpeg(ph))) {
      Thread.sleep(50);
    }
    assertFalse(
        ProcessHandle.current().descendants().anyMatch(ph -> isFfmpeg(ph)),
        "an ffmpeg child is still running");
  }

  static boolean isFfmpeg(ProcessHandle ph) {
    return ph.info().command().map(c -> c.endsWith("ffmpeg")).orElse(false);
  }

  static String read(InputStream in) throws IOException {
    return new String(in.readAllBytes(), StandardCharsets.UTF_8);
  }
}
