package dev.segcam.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.segcam.image.Images;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Atomic writes honour the umask (the mode a plain new file gets) and leave no debris. */
class AtomicFileTest {
  @TempDir Path dir;

  /** The mode a file created with no explicit permissions gets here: 0666 less the umask. */
  private Set<PosixFilePermission> umaskMode() throws IOException {
    Path ref = Files.createFile(dir.resolve("reference"));
    Set<PosixFilePermission> p = Files.getPosixFilePermissions(ref);
    Files.delete(ref);
    return p;
  }

  @Test
  void pngAndTextGetTheUmaskModeNot0600() throws IOException {
    Set<PosixFilePermission> want = umaskMode();
    Path png = dir.resolve("sub/a.png");
    Images.writePng(new BufferedImage(3, 2, BufferedImage.TYPE_INT_RGB), png);
    Path txt = dir.resolve("b.json");
    AtomicFile.write(txt, "{}\n".getBytes(StandardCharsets.UTF_8));
    for (Path p : List.of(png, txt)) {
      assertEquals(
          PosixFilePermissions.toString(want),
          PosixFilePermissions.toString(Files.getPosixFilePermissions(p)),
          p.toString());
    }
    try (Stream<Path> s = Files.walk(dir)) {
      assertEquals(0, s.filter(p -> p.getFileName().toString().endsWith(".tmp")).count());
    }
  }

  @Test
  void failedWriteLeavesNoTemporaryFileAndKeepsTheOldOne() throws IOException {
    Path f = dir.resolve("c.json");
    AtomicFile.write(f, "old".getBytes(StandardCharsets.UTF_8));
    assertThrows(
        IOException.class,
        () ->
            AtomicFile.write(
                f,
                out -> {
                  out.write('x');
                  throw new IOException("No space left on device");
                },
                Files::newOutputStream));
    assertEquals("old", Files.readString(f));
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(List.of(f), s.toList());
    }
  }
}
