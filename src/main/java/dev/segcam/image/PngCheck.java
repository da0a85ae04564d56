package dev.segcam.image;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.zip.CRC32;

/**
 * Walks a PNG's chunks before ImageIO decodes it. ImageIO ignores CRCs and a missing IEND, so a bit
 * flip in IHDR or a download cut after the last IDAT would otherwise pass; libpng (and so
 * TensorFlow and PIL) refuse both. The IHDR dimensions are checked here, before anything else is
 * read.
 */
final class PngCheck {
  private static final int SIGNATURE = 8;

  private PngCheck() {}

  /**
   * @param fullSignature whether the file holds the whole 8-byte signature (it starts with it)
   */
  static void check(Path file, boolean fullSignature, long maxPixels) {
    long size;
    try {
      size = Files.size(file);
    } catch (IOException e) {
      throw new ImageException(file, "cannot read the file: " + Images.describe(e), e);
    }
    if (!fullSignature) {
      throw new ImageException(
          file, "truncated PNG: only " + size + " bytes, not even the 8-byte signature");
    }
    try (InputStream raw = Files.newInputStream(file);
        DataInputStream in = new DataInputStream(new BufferedInputStream(raw, 1 << 16))) {
      in.skipNBytes(SIGNATURE);
      long offset = SIGNATURE;
      byte[] buf = new byte[1 << 16];
      while (true) {
        long left = size - offset;
        if (left == 0) {
          throw new ImageException(
              file, "truncated PNG: ends after " + size + " bytes without an IEND chunk");
        }
        if (left < 12) {
          throw new ImageException(
              file,
              "truncated PNG: " + left + " bytes at offset " + offset + " are not a whole chunk");
        }
        long length = in.readInt() & 0xFFFFFFFFL;
        byte[] type = in.readNBytes(4);
        String name = new String(type, StandardCharsets.ISO_8859_1);
        String where = "chunk " + printable(name) + " at offset " + offset;
        if (offset == SIGNATURE && !name.equals("IHDR")) {
          throw new ImageException(file, "corrupt PNG: the first chunk is " + where + ", not IHDR");
        }
        if (length > Integer.MAX_VALUE) {
          throw new ImageException(
              file, "corrupt PNG: " + where + " declares " + length + " bytes (limit 2^31-1)");
        }
        if (length + 12 > left) {
          throw new ImageException(
              file,
              "truncated PNG: "
                  + where
                  + " declares "
                  + length
                  + " bytes of data but only "
                  + Math.max(0, left - 12)
                  + " remain");
        }
        // bit 5 of the first letter: lower case = ancillary; libpng ignores their CRCs too
        boolean critical = (type[0] & 0x20) == 0;
        CRC32 crc = new CRC32();
        crc.update(type);
        if (name.equals("IHDR")) {
          if (length != 13) {
            throw new ImageException(
                file, "corrupt PNG: IHDR is " + length + " bytes long, not 13");
          }
          byte[] ihdr = in.readNBytes(13);
          crc.update(ihdr);
          checkCrc(file, in, crc, where);
          long w = readUnsigned(ihdr, 0);
          long h = readUnsigned(ihdr, 4);
          Images.checkDimensions(file, w, h, maxPixels);
        } else if (critical) {
          long todo = length;
          while (todo > 0) {
            int n = (int) Math.min(buf.length, todo);
            in.readFully(buf, 0, n);
            crc.update(buf, 0, n);
            todo -= n;
          }
          checkCrc(file, in, crc, where);
        } else {
          in.skipNBytes(length + 4);
        }
        offset += 12 + length;
        if (name.equals("IEND")) {
          return; // anything after IEND is ignored, as by every decoder
        }
      }
    } catch (ImageException e) {
      throw e;
    } catch (IOException e) {
      // the length checks above make EOF impossible unless the file shrank meanwhile
      throw new ImageException(file, "cannot read the file: " + Images.describe(e), e);
    }
  }

  private static void checkCrc(Path file, DataInputStream in, CRC32 crc, String where)
      throws IOException {
    int stored = in.readInt();
    if (stored != (int) crc.getValue()) {
      throw new ImageException(
          file,
          String.format(
              Locale.ROOT,
              "corrupt PNG: CRC mismatch in %s (stored %08x, computed %08x)",
              where,
              stored,
              (int) crc.getValue()));
    }
  }

  private static long readUnsigned(byte[] b, int at) {
    return ((b[at] & 0xFFL) << 24)
        | ((b[at + 1] & 0xFFL) << 16)
        | ((b[at + 2] & 0xFFL) << 8)
        | (b[at + 3] & 0xFFL);
  }

  private static String printable(String name) {
    StringBuilder s = new StringBuilder();
    for (char c : name.toCharArray()) {
      s.append(
          c >= 0x20 && c < 0x7F
              ? String.valueOf(c)
              : String.format(Locale.ROOT, "\\x%02x", (int) c));
    }
    return s.toString();
  }
}
