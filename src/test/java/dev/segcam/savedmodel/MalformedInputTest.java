package dev.segcam.savedmodel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.BundleEntryProto;
import org.tensorflow.proto.BundleHeaderProto;
import org.tensorflow.proto.DataType;

/** Missing, truncated and corrupt inputs fail with typed errors naming the file, key or node. */
class MalformedInputTest {
  @TempDir Path tmp;

  private static ImportException fails(Path dir) {
    return fails(dir, null);
  }

  private static ImportException fails(Path dir, String signature) {
    return Assertions.assertTimeoutPreemptively(
        Duration.ofSeconds(20),
        () -> assertThrows(ImportException.class, () -> SavedModelImporter.load(dir, signature)));
  }

  private static void truncate(Path file, long size) throws IOException {
    try (var ch = Files.newByteChannel(file, StandardOpenOption.WRITE)) {
      ch.truncate(size);
    }
  }

  private static void flipByte(Path file, long at) throws IOException {
    byte[] b = Files.readAllBytes(file);
    b[(int) at] ^= 0x5a;
    Files.write(file, b);
  }

  @Test
  void missingDirectoryAndFiles() throws IOException {
    ImportException e = fails(tmp.resolve("nope"));
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    Files.createDirectories(tmp.resolve("empty"));
    ImportException e2 = fails(tmp.resolve("empty"));
    assertTrue(e2.where().file().endsWith("saved_model.pb"), e2.getMessage());
  }

  @Test
  void truncatedSavedModelPb() throws IOException {
    Path dir = Fixtures.copy("tf1-cifar-cnn", tmp);
    Path pb = dir.resolve("saved_model.pb");
    long full = Files.size(pb);
    for (long size : new long[] {0, 1, 7, full / 3, full / 2, full - 1}) {
      Path d = Fixtures.copy("tf1-cifar-cnn", tmp.resolve("t" + size));
      truncate(d.resolve("saved_model.pb"), size);
      ImportException e = fails(d);
      assertTrue(e.getMessage().contains("saved_model.pb"), e.getMessage());
    }
  }

  @Test
  void garbageSavedModelPb() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("g"));
    byte[] junk = new byte[4096];
    new Random(5).nextBytes(junk);
    Files.write(dir.resolve("saved_model.pb"), junk);
    ImportException e = fails(dir);
    assertTrue(e.where().file().endsWith("saved_model.pb"), e.getMessage());
  }

  @Test
  void missingVariablesFolder() throws IOException {
    Path dir = Fixtures.copy("tf1-cifar-cnn", tmp);
    Files.walk(dir.resolve("variables"))
        .sorted((a, b) -> b.compareTo(a))
        .forEach(p -> p.toFile().delete());
    ImportException e = fails(dir);
    assertTrue(e.getMessage().contains("variables index is missing"), e.getMessage());
  }

  @Test
  void truncatedIndex() throws IOException {
    Path dir = Fixtures.copy("tf1-cifar-cnn", tmp);
    Path idx = dir.resolve("variables/variables.index");
    truncate(idx, 30);
    ImportException e = fails(dir);
    assertTrue(e.where().file().endsWith("variables.index"), e.getMessage());
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void corruptIndexBlockFailsItsChecksum() throws IOException {
    Path dir = Fixtures.copy("tf2-keras-conv2d-effdet-fake", tmp);
    Path idx = dir.resolve("variables/variables.index");
    flipByte(idx, 10);
    ImportException e = fails(dir);
    assertTrue(e.where().file().endsWith("variables.index"), e.getMessage());
  }

  @Test
  void truncatedDataNamesFileAndKey() throws IOException {
    Path dir = Fixtures.copy("tf1-cifar-cnn", tmp);
    Path data = dir.resolve("variables/variables.data-00000-of-00001");
    truncate(data, Files.size(data) / 2);
    ImportException e = fails(dir);
    assertTrue(e.where().file().endsWith("variables.data-00000-of-00001"), e.getMessage());
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    assertTrue(e.getMessage().matches(".*tensor '[A-Za-z0-9/]+'.*"), e.getMessage());
  }

  @Test
  void corruptDataFailsChecksum() throws IOException {
    Path dir = Fixtures.copy("tf1-cifar-cnn", tmp);
    TensorBundle b = TensorBundle.open(dir.resolve("variables"));
    long off = b.entry("Wconv1").getOffset();
    flipByte(dir.resolve("variables/variables.data-00000-of-00001"), off + 5);
    ImportException e = fails(dir);
    assertTrue(e.getMessage().contains("checksum mismatch for tensor 'Wconv1'"), e.getMessage());
  }

  @Test
  void missingDataShard() throws IOException {
    Path dir = Fixtures.copy("tf2-keras-dense-two-shards", tmp);
    Files.delete(dir.resolve("variables/variables.data-00001-of-00002"));
    ImportException e = fails(dir);
    assertTrue(e.where().file().endsWith("variables.data-00001-of-00002"), e.getMessage());
    assertTrue(e.getMessage().contains("missing"), e.getMessage());
  }

  @Test
  void entryClaimingHugeSizeDoesNotAllocate() throws IOException {
    Path vars = Files.createDirectories(tmp.resolve("v"));
    TreeMap<String, byte[]> entries = new TreeMap<>();
    entries.put("", BundleHeaderProto.newBuilder().setNumShards(1).build().toByteArray());
    entries.put(
        "big",
        BundleEntryProto.newBuilder()
            .setDtype(DataType.DT_FLOAT)
            .setShape(SyntheticModel.shape(1 << 20, 1 << 10))
            .setOffset(0)
            .setSize(4L << 30)
            .build()
            .toByteArray());
    entries.put(
        "huge",
        BundleEntryProto.newBuilder()
            .setDtype(DataType.DT_FLOAT)
            .setShape(SyntheticModel.shape(1 << 30, 1 << 30))
            .setSize(16)
            .build()
            .toByteArray());
    entries.put(
        "str",
        BundleEntryProto.newBuilder()
            .setDtype(DataType.DT_STRING)
            .setSize(4)
            .build()
            .toByteArray());
    Files.write(vars.resolve("variables.index"), SyntheticModel.table(entries));
    Files.write(vars.resolve("variables.data-00000-of-00001"), new byte[64]);
    TensorBundle b = TensorBundle.open(vars);
    ImportException big = assertThrows(ImportException.class, () -> b.readFloat("big"));
    assertTrue(big.getMessage().contains("'big'"), big.getMessage());
    ImportException huge = assertThrows(ImportException.class, () -> b.readFloat("huge"));
    assertTrue(huge.getMessage().contains("'huge'"), huge.getMessage());
    ImportException str = assertThrows(ImportException.class, () -> b.readFloat("str"));
    assertTrue(str.getMessage().contains("DT_STRING"), str.getMessage());
    ImportException none = assertThrows(ImportException.class, () -> b.readFloat("absent"));
    assertTrue(none.getMessage().contains("no tensor 'absent'"), none.getMessage());
  }

  @Test
  void unknownSignatureListsTheAvailableOnes() {
    ImportException e = fails(Fixtures.dir("tf1-half-plus-two"), "predict_everything");
    assertTrue(e.getMessage().contains("no signature 'predict_everything'"), e.getMessage());
    assertTrue(e.getMessage().contains("regress_x2_to_y3"), e.getMessage());
  }

  /** Random byte flips in index and data: only typed errors (or a still-valid model). */
  @Test
  void fuzzedBundlesFailCleanly() throws IOException {
    Random r = new Random(7);
    for (String fx : new String[] {"tf2-keras-conv2d-effdet-fake", "tf1-cifar-cnn"}) {
      Path orig = Fixtures.dir(fx).resolve("variables");
      byte[] index = Files.readAllBytes(orig.resolve("variables.index"));
      for (int trial = 0; trial < 150; trial++) {
        Path d = Files.createDirectories(tmp.resolve(fx + trial));
        byte[] b = Arrays.copyOf(index, index.length);
        int flips = 1 + r.nextInt(3);
        for (int k = 0; k < flips; k++) {
          b[r.nextInt(b.length)] = (byte) r.nextInt(256);
        }
        if (r.nextBoolean()) {
          b = Arrays.copyOf(b, r.nextInt(b.length));
        }
        Files.write(d.resolve("variables.index"), b);
        Files.copy(
            orig.resolve("variables.data-00000-of-00001"),
            d.resolve("variables.data-00000-of-00001"));
        try {
          TensorBundle t = TensorBundle.open(d);
          for (String key : t.keys()) {
            if (t.entry(key).getDtype() == DataType.DT_FLOAT) {
              t.readFloat(key);
            }
          }
        } catch (ImportException expected) {
          // typed: fine
        }
      }
    }
  }

  @Test
  void fuzzedSnappyFailsCleanly() {
    Random r = new Random(9);
    for (int trial = 0; trial < 2000; trial++) {
      byte[] b = new byte[1 + r.nextInt(64)];
      r.nextBytes(b);
      try {
        Snappy.decompress(b, 0, b.length, "x");
      } catch (ImportException expected) {
        // typed: fine
      }
    }
  }

  @Test
  void snappyRoundTripOfKnownStream() {
    // "abcabcabcabc": literal "abc" then a copy of 9 bytes at offset 3 (overlapping).
    byte[] s = {12, (byte) (2 << 2), 'a', 'b', 'c', (byte) (((9 - 4) << 2) | 1), 3};
    byte[] out = Snappy.decompress(s, 0, s.length, "x");
    assertEquals("abcabcabcabc", new String(out, java.nio.charset.StandardCharsets.US_ASCII));
  }

  @Test
  void halfFloats() {
    assertEquals(1.0f, TensorDecoding.halfToFloat((short) 0x3c00));
    assertEquals(-2.0f, TensorDecoding.halfToFloat((short) 0xc000));
    assertEquals(65504f, TensorDecoding.halfToFloat((short) 0x7bff));
    assertEquals(5.9604645e-8f, TensorDecoding.halfToFloat((short) 0x0001));
    assertTrue(Float.isInfinite(TensorDecoding.halfToFloat((short) 0x7c00)));
    assertTrue(Float.isNaN(TensorDecoding.halfToFloat((short) 0x7e00)));
  }
}
