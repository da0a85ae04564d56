package dev.segcam.savedmodel;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32C;
import org.tensorflow.proto.BundleEntryProto;
import org.tensorflow.proto.BundleHeaderProto;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.TensorShapeProto;

/**
 * Reads a TensorFlow tensor bundle (the {@code variables/} folder of a SavedModel) without the
 * TensorFlow runtime. {@code variables.index} is a LevelDB-format table mapping checkpoint keys to
 * {@link BundleEntryProto}s (the empty key holds the {@link BundleHeaderProto}); tensor bytes live
 * in {@code variables.data-0000K-of-0000N}. Every offset and size is checked against the file it
 * points into before anything is allocated.
 */
public final class TensorBundle {
  private static final long TABLE_MAGIC = 0xdb4775248b80fb57L;
  private static final int FOOTER_LENGTH = 48;
  private static final int BLOCK_TRAILER = 5;
  private static final int MASK_DELTA = 0xa282ead8;

  /** Tables are a few kB to MBs; refuse absurd index files instead of reading them whole. */
  private static final long MAX_INDEX_BYTES = 1L << 30;

  private final Path dir;
  private final String prefix;
  private final Map<String, BundleEntryProto> entries;
  private final int numShards;

  private TensorBundle(Path dir, String prefix, Map<String, BundleEntryProto> entries, int shards) {
    this.dir = dir;
    this.prefix = prefix;
    this.entries = entries;
    this.numShards = shards;
  }

  /** Opens {@code dir/variables.index} (the usual SavedModel layout). */
  public static TensorBundle open(Path variablesDir) {
    return open(variablesDir, "variables");
  }

  /** Opens the bundle {@code dir/prefix.index} with data files {@code dir/prefix.data-*}. */
  public static TensorBundle open(Path dir, String prefix) {
    Path index = dir.resolve(prefix + ".index");
    String file = index.toString();
    if (!Files.isRegularFile(index)) {
      throw ImportException.inFile(file, "variables index file is missing");
    }
    byte[] table;
    try {
      long len = Files.size(index);
      if (len > MAX_INDEX_BYTES) {
        throw ImportException.inFile(file, "index file is implausibly large (" + len + " bytes)");
      }
      table = Files.readAllBytes(index);
    } catch (IOException e) {
      throw ImportException.inFile(file, "cannot read: " + e.getMessage(), e);
    }
    Map<String, byte[]> raw = readTable(file, table);
    byte[] headerBytes = raw.remove("");
    if (headerBytes == null) {
      throw ImportException.inFile(file, "no bundle header (empty key) in the table");
    }
    BundleHeaderProto header;
    try {
      header = BundleHeaderProto.parseFrom(headerBytes);
    } catch (InvalidProtocolBufferException e) {
      throw ImportException.inFile(file, "bundle header is not a BundleHeaderProto", e);
    }
    if (header.getEndianness() != BundleHeaderProto.Endianness.LITTLE) {
      throw ImportException.inFile(file, "big-endian bundles are not supported");
    }
    int shards = header.getNumShards();
    if (shards < 1 || shards > 100_000) {
      throw ImportException.inFile(file, "bundle header names " + shards + " shards");
    }
    Map<String, BundleEntryProto> entries = new LinkedHashMap<>();
    for (Map.Entry<String, byte[]> e : raw.entrySet()) {
      try {
        entries.put(e.getKey(), BundleEntryProto.parseFrom(e.getValue()));
      } catch (InvalidProtocolBufferException ex) {
        throw new ImportException(
            "entry for key '" + e.getKey() + "' is not a BundleEntryProto", file, null, null, ex);
      }
    }
    return new TensorBundle(dir, prefix, Collections.unmodifiableMap(entries), shards);
  }

  public Set<String> keys() {
    return entries.keySet();
  }

  public boolean contains(String key) {
    return entries.containsKey(key);
  }

  public int numShards() {
    return numShards;
  }

  /** The entry (dtype, shape, shard, offset, size) for a key, or throws naming the key. */
  public BundleEntryProto entry(String key) {
    BundleEntryProto e = entries.get(key);
    if (e == null) {
      throw new ImportException(
          "no tensor '" + key + "' in the checkpoint", indexFile(), null, null);
    }
    return e;
  }

  /** The tensor stored under key, converted to float32. */
  public FloatTensor readFloat(String key) {
    BundleEntryProto e = entry(key);
    Shape shape = shapeOf(key, e);
    DataType dt = e.getDtype();
    int width = TensorDecoding.width(dt);
    if (!TensorProtos.isFloat(dt) && dt != DataType.DT_INT32 && dt != DataType.DT_INT64) {
      throw new ImportException(
          "tensor '" + key + "' has dtype " + dt + ", which cannot be read as float",
          indexFile(),
          null,
          null);
    }
    long n = elements(key, shape);
    if (n * width != e.getSize()) {
      throw new ImportException(
          "tensor '"
              + key
              + "' of shape "
              + shape
              + " and dtype "
              + dt
              + " needs "
              + n * width
              + " bytes but the entry says "
              + e.getSize(),
          indexFile(),
          null,
          null);
    }
    ByteBuffer b = ByteBuffer.wrap(readBytes(key)).order(ByteOrder.LITTLE_ENDIAN);
    return new FloatTensor(shape, TensorDecoding.toFloats(b, dt, (int) n));
  }

  /** The single string of a scalar DT_STRING entry (e.g. the checkpoint's object graph). */
  public byte[] readScalarString(String key) {
    BundleEntryProto e = entry(key);
    if (e.getDtype() != DataType.DT_STRING) {
      throw new ImportException(
          "tensor '" + key + "' is " + e.getDtype() + ", expected DT_STRING",
          indexFile(),
          null,
          null);
    }
    byte[] bytes = readBytes(key, false);
    // Layout: varint64 length per element, masked crc32c (4 bytes) of the lengths, then the bytes.
    int[] pos = {0};
    long len = varint(bytes, pos, dataFile(e.getShardId()), key);
    int start = pos[0] + 4;
    if (len < 0 || start + len > bytes.length) {
      throw new ImportException(
          "string tensor '" + key + "' is truncated", dataFile(e.getShardId()), null, null);
    }
    if (start + len != bytes.length) {
      throw new ImportException(
          "string tensor '" + key + "' holds more than one element",
          dataFile(e.getShardId()),
          null,
          null);
    }
    // TensorFlow checksums a string tensor over its lengths as uint32, the stored length checksum,
    // then the bytes.
    CRC32C crc = new CRC32C();
    crc.update(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) len).array());
    crc.update(bytes, pos[0], bytes.length - pos[0]);
    if (mask((int) crc.getValue()) != e.getCrc32C()) {
      throw new ImportException(
          "checksum mismatch for tensor '" + key + "' (corrupt data file)",
          dataFile(e.getShardId()),
          null,
          null);
    }
    byte[] out = new byte[(int) len];
    System.arraycopy(bytes, start, out, 0, (int) len);
    return out;
  }

  /** The raw bytes of an entry, bounds-checked against its data file and crc32c-verified. */
  public byte[] readBytes(String key) {
    return readBytes(key, true);
  }

  private byte[] readBytes(String key, boolean verify) {
    BundleEntryProto e = entry(key);
    if (e.getSlicesCount() > 0) {
      throw new ImportException(
          "tensor '" + key + "' is stored as partitioned slices, which are not supported",
          indexFile(),
          null,
          null);
    }
    if (e.getShardId() < 0 || e.getShardId() >= numShards) {
      throw new ImportException(
          "tensor '" + key + "' names shard " + e.getShardId() + " of " + numShards,
          indexFile(),
          null,
          null);
    }
    Path data = dir.resolve(dataFileName(e.getShardId()));
    String file = data.toString();
    if (!Files.isRegularFile(data)) {
      throw new ImportException("data file for tensor '" + key + "' is missing", file, null, null);
    }
    try (RandomAccessFile raf = new RandomAccessFile(data.toFile(), "r")) {
      long len = raf.length();
      long off = e.getOffset();
      long size = e.getSize();
      if (off < 0 || size < 0 || size > Integer.MAX_VALUE - 16 || off + size > len) {
        throw new ImportException(
            "tensor '"
                + key
                + "' lies at bytes ["
                + off
                + ", "
                + (off + size)
                + ") but the file has "
                + len
                + " bytes (truncated?)",
            file,
            null,
            null);
      }
      byte[] buf = new byte[(int) size];
      raf.seek(off);
      raf.readFully(buf);
      CRC32C crc = new CRC32C();
      crc.update(buf);
      int actual = (int) crc.getValue();
      if (verify && mask(actual) != e.getCrc32C()) {
        throw new ImportException(
            "checksum mismatch for tensor '" + key + "' (corrupt data file)", file, null, null);
      }
      return buf;
    } catch (IOException ex) {
      throw new ImportException("cannot read tensor '" + key + "': " + ex, file, null, null, ex);
    }
  }

  static int mask(int crc) {
    return ((crc >>> 15) | (crc << 17)) + MASK_DELTA;
  }

  private String indexFile() {
    return dir.resolve(prefix + ".index").toString();
  }

  private String dataFileName(int shard) {
    return String.format("%s.data-%05d-of-%05d", prefix, shard, numShards);
  }

  private String dataFile(int shard) {
    return dir.resolve(dataFileName(shard)).toString();
  }

  private Shape shapeOf(String key, BundleEntryProto e) {
    if (e.getShape().getUnknownRank()) {
      throw new ImportException("tensor '" + key + "' has unknown rank", indexFile(), null, null);
    }
    int r = e.getShape().getDimCount();
    int[] d = new int[r];
    for (int i = 0; i < r; i++) {
      TensorShapeProto.Dim dim = e.getShape().getDim(i);
      if (dim.getSize() < 0 || dim.getSize() > Integer.MAX_VALUE - 16) {
        throw new ImportException(
            "tensor '" + key + "' has invalid dimension " + dim.getSize(), indexFile(), null, null);
      }
      d[i] = (int) dim.getSize();
    }
    return Shape.of(d);
  }

  private long elements(String key, Shape s) {
    long n = 1;
    for (int i = 0; i < s.rank(); i++) {
      n *= s.dim(i);
      if (n > Integer.MAX_VALUE - 16) {
        throw new ImportException(
            "tensor '" + key + "' of shape " + s + " is too large", indexFile(), null, null);
      }
    }
    return n;
  }

  // ---- LevelDB table format ----

  /** All key/value pairs of the table, in key order. */
  static Map<String, byte[]> readTable(String file, byte[] t) {
    if (t.length < FOOTER_LENGTH) {
      throw ImportException.inFile(
          file, "index is " + t.length + " bytes, shorter than a table footer (truncated?)");
    }
    ByteBuffer footer =
        ByteBuffer.wrap(t, t.length - FOOTER_LENGTH, FOOTER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
    long magic = footer.getLong(t.length - 8);
    if (magic != TABLE_MAGIC) {
      throw ImportException.inFile(
          file, "not a TensorFlow bundle index (bad table magic; truncated or corrupt?)");
    }
    int[] pos = {t.length - FOOTER_LENGTH};
    varint(t, pos, file, "footer"); // metaindex offset: unused
    varint(t, pos, file, "footer"); // metaindex size
    long indexOff = varint(t, pos, file, "footer");
    long indexSize = varint(t, pos, file, "footer");
    Map<String, byte[]> out = new LinkedHashMap<>();
    for (Map.Entry<String, byte[]> idx : readBlock(file, t, indexOff, indexSize).entrySet()) {
      int[] p = {0};
      byte[] handle = idx.getValue();
      long off = varint(handle, p, file, "block handle");
      long size = varint(handle, p, file, "block handle");
      out.putAll(readBlock(file, t, off, size));
    }
    return out;
  }

  private static Map<String, byte[]> readBlock(String file, byte[] t, long off, long size) {
    if (off < 0 || size < 4 || off + size + BLOCK_TRAILER > t.length) {
      throw ImportException.inFile(
          file, "table block [" + off + ", +" + size + ") lies outside the file (truncated?)");
    }
    int rawEnd = (int) (off + size);
    int compression = t[rawEnd] & 0xff;
    CRC32C crc = new CRC32C();
    crc.update(t, (int) off, (int) size + 1);
    int stored = ByteBuffer.wrap(t).order(ByteOrder.LITTLE_ENDIAN).getInt(rawEnd + 1);
    if (mask((int) crc.getValue()) != stored) {
      throw ImportException.inFile(
          file, "checksum mismatch in table block at " + off + " (corrupt)");
    }
    byte[] blk;
    if (compression == 0) {
      blk = t;
    } else if (compression == 1) {
      blk = Snappy.decompress(t, (int) off, rawEnd, file);
    } else {
      throw ImportException.inFile(
          file, "table block at " + off + " uses unknown compression type " + compression);
    }
    int start = compression == 0 ? (int) off : 0;
    int end = compression == 0 ? rawEnd : blk.length;
    if (end - start < 4) {
      throw ImportException.inFile(file, "table block at " + off + " is too short");
    }
    t = blk;
    ByteBuffer bb = ByteBuffer.wrap(t).order(ByteOrder.LITTLE_ENDIAN);
    int numRestarts = bb.getInt(end - 4);
    long restartsStart = (long) end - 4 - 4L * numRestarts;
    if (numRestarts < 0 || restartsStart < start) {
      throw ImportException.inFile(file, "table block at " + off + " has a corrupt restart array");
    }
    Map<String, byte[]> out = new LinkedHashMap<>();
    int[] pos = {start};
    byte[] lastKey = new byte[0];
    while (pos[0] < restartsStart) {
      long shared = varint(t, pos, file, "block entry");
      long nonShared = varint(t, pos, file, "block entry");
      long valueLen = varint(t, pos, file, "block entry");
      if (shared > lastKey.length
          || nonShared < 0
          || valueLen < 0
          || pos[0] + nonShared + valueLen > restartsStart) {
        throw ImportException.inFile(file, "table block at " + off + " has a corrupt entry");
      }
      byte[] key = new byte[(int) (shared + nonShared)];
      System.arraycopy(lastKey, 0, key, 0, (int) shared);
      System.arraycopy(t, pos[0], key, (int) shared, (int) nonShared);
      pos[0] += (int) nonShared;
      byte[] value = new byte[(int) valueLen];
      System.arraycopy(t, pos[0], value, 0, (int) valueLen);
      pos[0] += (int) valueLen;
      out.put(new String(key, java.nio.charset.StandardCharsets.UTF_8), value);
      lastKey = key;
    }
    return out;
  }

  /** Reads a little-endian base-128 varint at pos[0], advancing it; bounds-checked. */
  static long varint(byte[] b, int[] pos, String file, String what) {
    long v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos[0] >= b.length) {
        throw ImportException.inFile(file, "truncated varint in " + what);
      }
      int x = b[pos[0]++] & 0xff;
      v |= (long) (x & 0x7f) << shift;
      if ((x & 0x80) == 0) {
        return v;
      }
    }
    throw ImportException.inFile(file, "malformed varint in " + what);
  }
}
