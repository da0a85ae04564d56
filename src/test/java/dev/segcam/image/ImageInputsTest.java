package dev.segcam.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.segcam.SegcamException;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import java.awt.image.BufferedImage;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32;
import java.util.zip.DeflaterOutputStream;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every kind of image input a user may hand us (issue #7, images): the PNG colour types and bit
 * depths, JPEG, BMP, GIF, TIFF are converted with exact (JPEG: bounded) values; broken, hostile or
 * unusable files end in an {@link ImageException} that names the file and says what was wrong. The
 * PNGs are built byte by byte here (no binary fixtures), so each colour type, depth and chunk is
 * exactly the one under test.
 */
class ImageInputsTest {
  /**
   * JPEG at quality 0.95 on flat 16x16 blocks, 2 pixels from their borders: the decoded value is
   * within 4 levels of 255.
   */
  static final float JPEG_ATOL = 4 / 255f;

  /** Refusing a hostile header must not take longer than this (it reads a few bytes). */
  static final long HEADER_REFUSAL_MS = 2000;

  @TempDir Path dir;

  // ---------------------------------------------------------------- a minimal PNG encoder

  static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

  static byte[] chunk(String type, byte[] data) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    DataOutputStream o = new DataOutputStream(b);
    try {
      byte[] t = type.getBytes(StandardCharsets.ISO_8859_1);
      o.writeInt(data.length);
      o.write(t);
      o.write(data);
      CRC32 crc = new CRC32();
      crc.update(t);
      crc.update(data);
      o.writeInt((int) crc.getValue());
    } catch (IOException e) {
      throw new AssertionError(e);
    }
    return b.toByteArray();
  }

  static byte[] ihdr(long w, long h, int depth, int colourType) {
    byte[] d = new byte[13];
    putInt(d, 0, w);
    putInt(d, 4, h);
    d[8] = (byte) depth;
    d[9] = (byte) colourType;
    return chunk("IHDR", d);
  }

  static void putInt(byte[] d, int at, long v) {
    d[at] = (byte) (v >>> 24);
    d[at + 1] = (byte) (v >>> 16);
    d[at + 2] = (byte) (v >>> 8);
    d[at + 3] = (byte) v;
  }

  static final int GREY = 0;
  static final int RGB = 2;
  static final int PALETTE = 3;
  static final int GREY_ALPHA = 4;
  static final int RGBA = 6;

  static int channels(int colourType) {
    return new int[] {1, 0, 3, 1, 2, 0, 4}[colourType];
  }

  /** Scanlines (filter 0) of samples packed big-endian at the given depth, zlib-compressed. */
  static byte[] idat(int w, int h, int depth, int colourType, int[] samples) {
    int c = channels(colourType);
    ByteArrayOutputStream raw = new ByteArrayOutputStream();
    for (int y = 0; y < h; y++) {
      raw.write(0);
      if (depth == 16) {
        for (int i = 0; i < w * c; i++) {
          int v = samples[y * w * c + i];
          raw.write(v >>> 8);
          raw.write(v & 0xFF);
        }
      } else {
        int acc = 0;
        int bits = 0;
        for (int i = 0; i < w * c; i++) {
          acc = (acc << depth) | samples[y * w * c + i];
          bits += depth;
          if (bits == 8) {
            raw.write(acc);
            acc = 0;
            bits = 0;
          }
        }
        if (bits > 0) {
          raw.write(acc << (8 - bits));
        }
      }
    }
    return chunk("IDAT", deflate(raw.toByteArray()));
  }

  static byte[] deflate(byte[] raw) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (DeflaterOutputStream z = new DeflaterOutputStream(b)) {
      z.write(raw);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
    return b.toByteArray();
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      b.writeBytes(p);
    }
    return b.toByteArray();
  }

  static byte[] iend() {
    return chunk("IEND", new byte[0]);
  }

  /** A whole PNG; extra chunks (PLTE, tRNS, gAMA) go between IHDR and IDAT. */
  static byte[] png(int w, int h, int depth, int colourType, int[] samples, byte[]... extra) {
    return concat(
        SIGNATURE,
        ihdr(w, h, depth, colourType),
        concat(extra),
        idat(w, h, depth, colourType, samples),
        iend());
  }

  Path write(String name, byte[] bytes) throws IOException {
    Path f = dir.resolve(name);
    Files.write(f, bytes);
    return f;
  }

  FloatTensor readPng(String name, byte[] bytes) throws IOException {
    return Images.readTensor(write(name, bytes));
  }

  /** Every float of t against want, exactly, naming the first mismatch. */
  static void assertExact(float[] want, FloatTensor t, String what) {
    assertEquals(want.length, t.size(), what + ": size");
    for (int i = 0; i < want.length; i++) {
      if (want[i] != t.data()[i]) {
        fail(
            what
                + ": value "
                + i
                + " (pixel "
                + i / 3
                + ", channel "
                + i % 3
                + ") is "
                + t.data()[i]
                + ", want "
                + want[i]
                + "; all: "
                + Arrays.toString(t.data()));
      }
    }
  }

  /** Grey samples of some depth -> expected RGB floats (each value replicated). */
  static float[] greyWant(int[] grey, float max) {
    float[] want = new float[grey.length * 3];
    for (int p = 0; p < grey.length; p++) {
      Arrays.fill(want, p * 3, p * 3 + 3, grey[p] / max);
    }
    return want;
  }

  // ---------------------------------------------------------------- converted exactly

  @Test
  void grey8IsReplicatedWithoutGamma() throws IOException {
    int[] g = {0, 1, 64, 127, 128, 254, 255, 200};
    FloatTensor t = readPng("grey8.png", png(4, 2, 8, GREY, g));
    assertEquals(Shape.of(1, 2, 4, 3), t.shape());
    assertExact(greyWant(g, 255f), t, "8-bit grey");
  }

  /** 1, 2, 4-bit grey: v scaled to 0..255 (ImageIO's palette for them is exact), then / 255. */
  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4})
  void lowDepthGreyIsScaledToTheFullRange(int depth) throws IOException {
    int max = (1 << depth) - 1;
    int[] g = new int[7]; // odd width: the last byte of each row is padded
    for (int i = 0; i < g.length; i++) {
      g[i] = (i * 5 + 1) % (max + 1);
    }
    FloatTensor t = readPng("grey" + depth + ".png", png(7, 1, depth, GREY, g));
    int[] as8 = new int[g.length];
    for (int i = 0; i < g.length; i++) {
      as8[i] = g[i] * (255 / max);
    }
    assertExact(greyWant(as8, 255f), t, depth + "-bit grey");
  }

  @Test
  void grey16KeepsItsPrecision() throws IOException {
    // 256 and 257 would both be 1/255 if the low byte were dropped
    int[] g = {0, 1, 255, 256, 257, 32768, 65534, 65535};
    FloatTensor t = readPng("grey16.png", png(4, 2, 16, GREY, g));
    assertExact(greyWant(g, 65535f), t, "16-bit grey");
    assertTrue(t.data()[3 * 3] != t.data()[4 * 3], "256 and 257 stay apart");
  }

  /** Alpha policy: dropped. The grey is taken as stored whatever its alpha, even 0. */
  @ParameterizedTest
  @ValueSource(ints = {8, 16})
  void greyAlphaDropsAlpha(int depth) throws IOException {
    int max = (1 << depth) - 1;
    int[] ga = {77, 0, 200, max / 2, max - 3, max, 5, 1};
    FloatTensor t = readPng("grey-alpha" + depth + ".png", png(2, 2, depth, GREY_ALPHA, ga));
    assertExact(greyWant(new int[] {77, 200, max - 3, 5}, max), t, depth + "-bit grey+alpha");
  }

  @ParameterizedTest
  @ValueSource(ints = {8, 16})
  void rgbIsExact(int depth) throws IOException {
    Random rnd = new Random(depth);
    int[] s = new int[5 * 3 * 3];
    float[] want = new float[s.length];
    float max = (1 << depth) - 1;
    for (int i = 0; i < s.length; i++) {
      s[i] = rnd.nextInt(1 << depth);
      want[i] = s[i] / max;
    }
    FloatTensor t = readPng("rgb" + depth + ".png", png(5, 3, depth, RGB, s));
    assertEquals(Shape.of(1, 3, 5, 3), t.shape());
    assertExact(want, t, depth + "-bit RGB");
  }

  /**
   * Alpha policy: dropped, colours as stored (not composited over black or white), as TensorFlow's
   * decode_png(channels=3) and PIL's convert("RGB") do, so the model sees what it was trained on.
   */
  @ParameterizedTest
  @ValueSource(ints = {8, 16})
  void rgbaDropsAlphaAndKeepsTheStoredColour(int depth) throws IOException {
    int max = (1 << depth) - 1;
    int[] s = {
      10, 20, 30, 0, // fully transparent: colour still as stored
      40, 50, 60, max / 2, max, 1, max - 1, max,
    };
    FloatTensor t = readPng("rgba" + depth + ".png", png(3, 1, depth, RGBA, s));
    float[] want = {10, 20, 30, 40, 50, 60, max, 1, max - 1};
    for (int i = 0; i < want.length; i++) {
      want[i] /= max;
    }
    assertExact(want, t, depth + "-bit RGBA");
  }

  static byte[] plte(int[] rgb) {
    byte[] d = new byte[rgb.length];
    for (int i = 0; i < rgb.length; i++) {
      d[i] = (byte) rgb[i];
    }
    return chunk("PLTE", d);
  }

  static final int[] PALETTE_RGB = {
    0, 0, 0, //
    255, 0, 0,
    10, 20, 250,
    7, 128, 99,
  };

  @ParameterizedTest
  @ValueSource(ints = {2, 4, 8})
  void paletteIsExpanded(int depth) throws IOException {
    int[] idx = {2, 1, 0, 3, 3};
    FloatTensor t =
        readPng("palette" + depth + ".png", png(5, 1, depth, PALETTE, idx, plte(PALETTE_RGB)));
    assertExact(expand(idx), t, depth + "-bit palette");
  }

  static float[] expand(int[] idx) {
    float[] want = new float[idx.length * 3];
    for (int p = 0; p < idx.length; p++) {
      for (int c = 0; c < 3; c++) {
        want[p * 3 + c] = PALETTE_RGB[idx[p] * 3 + c] / 255f;
      }
    }
    return want;
  }

  /** tRNS on a palette: alpha per entry (shorter than the palette), dropped like any alpha. */
  @Test
  void paletteWithTransparencyKeepsThePaletteColours() throws IOException {
    int[] idx = {2, 1, 0, 3};
    byte[] trns = chunk("tRNS", new byte[] {0, (byte) 128, 0}); // entry 3 has no alpha: opaque
    FloatTensor t =
        readPng("palette-trns.png", png(4, 1, 8, PALETTE, idx, plte(PALETTE_RGB), trns));
    assertExact(expand(idx), t, "palette with tRNS");
  }

  /** tRNS as a colour key on grey and RGB: ImageIO adds an alpha band; colours stay as stored. */
  @Test
  void colourKeyTransparencyKeepsTheColours() throws IOException {
    int[] g = {10, 20, 30};
    byte[] greyKey = chunk("tRNS", new byte[] {0, 10});
    assertExact(greyWant(g, 255f), readPng("grey-key.png", png(3, 1, 8, GREY, g, greyKey)), "grey");

    int[] rgb = {10, 20, 30, 40, 50, 60};
    byte[] rgbKey = chunk("tRNS", new byte[] {0, 10, 0, 20, 0, 30});
    float[] want = new float[6];
    for (int i = 0; i < 6; i++) {
      want[i] = rgb[i] / 255f;
    }
    assertExact(want, readPng("rgb-key.png", png(2, 1, 8, RGB, rgb, rgbKey)), "RGB with key");
  }

  /** gAMA / sRGB chunks are not applied (as TensorFlow and PIL): samples are taken as stored. */
  @Test
  void gammaChunkIsNotApplied() throws IOException {
    int[] g = {0, 50, 128, 255};
    byte[] gama = new byte[4];
    putInt(gama, 0, 100000); // gamma 1.0 instead of the usual 1/2.2
    FloatTensor t = readPng("gamma.png", png(4, 1, 8, GREY, g, chunk("gAMA", gama)));
    assertExact(greyWant(g, 255f), t, "grey with gAMA");
  }

  @Test
  void interlacedPngIsExact() throws IOException {
    BufferedImage img = new BufferedImage(13, 11, BufferedImage.TYPE_INT_RGB);
    Random rnd = new Random(7);
    for (int y = 0; y < 11; y++) {
      for (int x = 0; x < 13; x++) {
        img.setRGB(x, y, rnd.nextInt() & 0xFFFFFF);
      }
    }
    Path f = dir.resolve("adam7.png");
    ImageWriter w = ImageIO.getImageWritersByFormatName("png").next();
    ImageWriteParam p = w.getDefaultWriteParam();
    p.setProgressiveMode(ImageWriteParam.MODE_DEFAULT);
    try (ImageOutputStream out = ImageIO.createImageOutputStream(f.toFile())) {
      w.setOutput(out);
      w.write(null, new IIOImage(img, null, null), p);
    } finally {
      w.dispose();
    }
    assertEquals(1, Files.readAllBytes(f)[8 + 8 + 12], "the IHDR says interlaced (Adam7)");
    assertExact(Images.toTensor(img).data(), Images.readTensor(f), "Adam7");
  }

  /** 1x1 is a valid image (a (1,1,1,3) tensor); 0 pixels wide or high is refused from IHDR. */
  @Test
  void oneByOneIsAcceptedAndZeroSizeIsRefused() throws IOException {
    FloatTensor t = readPng("one.png", png(1, 1, 8, RGB, new int[] {1, 2, 3}));
    assertEquals(Shape.of(1, 1, 1, 3), t.shape());
    assertExact(new float[] {1 / 255f, 2 / 255f, 3 / 255f}, t, "1x1");

    Path zeroW = write("zero-w.png", concat(SIGNATURE, ihdr(0, 5, 8, RGB), iend()));
    assertRefused(zeroW, "image dimensions 0x5 out of range");
    Path zeroH = write("zero-h.png", concat(SIGNATURE, ihdr(5, 0, 8, RGB), iend()));
    assertRefused(zeroH, "image dimensions 5x0 out of range");
  }

  /** Flat 16x16 blocks (whole MCUs) so chroma subsampling does not blur across colours. */
  static BufferedImage blocks(int type, int[] colours) {
    BufferedImage img = new BufferedImage(16 * colours.length, 16, type);
    for (int b = 0; b < colours.length; b++) {
      for (int y = 0; y < 16; y++) {
        for (int x = 0; x < 16; x++) {
          if (type == BufferedImage.TYPE_BYTE_GRAY) {
            img.getRaster().setSample(b * 16 + x, y, 0, colours[b]);
          } else {
            img.setRGB(b * 16 + x, y, colours[b]);
          }
        }
      }
    }
    return img;
  }

  Path jpeg(String name, BufferedImage img) throws IOException {
    Path f = dir.resolve(name);
    ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
    ImageWriteParam p = w.getDefaultWriteParam();
    p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
    p.setCompressionQuality(0.95f);
    try (ImageOutputStream out = ImageIO.createImageOutputStream(f.toFile())) {
      w.setOutput(out);
      w.write(null, new IIOImage(img, null, null), p);
    } finally {
      w.dispose();
    }
    return f;
  }

  static void assertClose(float want, float got, String what) {
    assertTrue(Math.abs(want - got) <= JPEG_ATOL, what + ": " + got * 255 + " vs " + want * 255);
  }

  @Test
  void jpegGreyAndRgbWithinJpegTolerance() throws IOException {
    int[] greys = {0, 40, 128, 200, 255};
    FloatTensor g =
        Images.readTensor(jpeg("grey.jpg", blocks(BufferedImage.TYPE_BYTE_GRAY, greys)));
    assertEquals(Shape.of(1, 16, 80, 3), g.shape());
    int[] rgbs = {0x000000, 0xFF0000, 0x00FF00, 0x0000FF, 0x4080C0, 0xFFFFFF};
    FloatTensor c = Images.readTensor(jpeg("rgb.jpg", blocks(BufferedImage.TYPE_INT_RGB, rgbs)));
    // away from block borders, where fancy chroma upsampling blends neighbouring colours
    for (int y = 2; y < 14; y++) {
      for (int x = 0; x < 16 * rgbs.length; x++) {
        if (x % 16 < 2 || x % 16 >= 14) {
          continue;
        }
        int b = x / 16;
        int i = (y * 16 * rgbs.length + x) * 3;
        for (int ch = 0; ch < 3; ch++) {
          assertClose(
              ((rgbs[b] >> (16 - 8 * ch)) & 0xFF) / 255f,
              c.data()[i + ch],
              "RGB JPEG at " + x + "," + y + " channel " + ch);
          if (x < 16 * greys.length) {
            int gi = (y * 16 * greys.length + x) * 3;
            assertClose(greys[b] / 255f, g.data()[gi + ch], "grey JPEG at " + x + "," + y);
          }
        }
      }
    }
  }

  /** Java reads 4-channel JPEGs as CMYK with wrong colours (all black here): refused instead. */
  @Test
  void cmykJpegIsRefusedClearly() throws IOException {
    WritableRaster cmyk = Raster.createInterleavedRaster(DataBuffer.TYPE_BYTE, 16, 16, 4, null);
    cmyk.setPixel(0, 0, new int[] {255, 0, 0, 0});
    Path f = dir.resolve("cmyk.jpg");
    ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
    try (ImageOutputStream out = ImageIO.createImageOutputStream(f.toFile())) {
      w.setOutput(out);
      w.write(null, new IIOImage(cmyk, null, null), null);
    } finally {
      w.dispose();
    }
    assertRefused(f, "unsupported colour space CMYK");
  }

  @Test
  void bmpGifAndTiffAreExact() throws IOException {
    Random rnd = new Random(3);
    BufferedImage rgb = new BufferedImage(6, 5, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 5; y++) {
      for (int x = 0; x < 6; x++) {
        rgb.setRGB(x, y, rnd.nextInt() & 0xFFFFFF);
      }
    }
    float[] want = Images.toTensor(rgb).data();
    for (String format : List.of("bmp", "tiff")) {
      Path f = dir.resolve("img." + format);
      assertTrue(ImageIO.write(rgb, format, f.toFile()), "no writer for " + format);
      assertExact(want, Images.readTensor(f), format);
    }

    byte[] r = {0, (byte) 255, 10, 7};
    byte[] g = {0, 0, 20, (byte) 128};
    byte[] b = {0, 0, (byte) 250, 99};
    BufferedImage gif =
        new BufferedImage(
            5, 1, BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(8, 4, r, g, b));
    int[] idx = {2, 1, 0, 3, 3};
    gif.getRaster().setPixels(0, 0, 5, 1, idx);
    Path f = dir.resolve("img.gif");
    assertTrue(ImageIO.write(gif, "gif", f.toFile()));
    assertExact(expand(idx), Images.readTensor(f), "GIF");
  }

  // ---------------------------------------------------------------- refused, naming the file

  /** Refused with an ImageException naming the file, its message containing what. */
  static ImageException assertRefused(Path f, String what) {
    ImageException e = assertThrows(ImageException.class, () -> Images.read(f), f.toString());
    assertEquals(f, e.file());
    assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
    assertTrue(e.getMessage().contains(what), "want '" + what + "' in: " + e.getMessage());
    // readTensor goes through the same checks
    assertThrows(ImageException.class, () -> Images.readTensor(f, 8, 8));
    return e;
  }

  @Test
  void emptyFile() throws IOException {
    assertRefused(write("empty.png", new byte[0]), "empty file (0 bytes)");
    assertRefused(write("empty.jpg", new byte[0]), "empty file (0 bytes)");
  }

  static byte[] goodPng() {
    Random rnd = new Random(11);
    int[] s = new int[20 * 20 * 3];
    for (int i = 0; i < s.length; i++) {
      s[i] = rnd.nextInt(256);
    }
    return png(20, 20, 8, RGB, s);
  }

  @Test
  void truncatedPngAtEveryStage() throws IOException {
    byte[] good = goodPng();
    int idatEnd = good.length - 12;
    // in the signature, right after it, in IHDR, after IHDR, in IDAT's header, in IDAT's data,
    // just before IEND (pixels complete, IEND missing), in IEND
    int[] cuts = {1, 4, 7, 8, 12, 20, 33, 37, 60, idatEnd - 5, idatEnd, good.length - 1};
    for (int cut : cuts) {
      Path f = write("cut-" + cut + ".png", Arrays.copyOf(good, cut));
      assertRefused(f, "truncated PNG");
    }
    assertEquals(Shape.of(1, 20, 20, 3), Images.readTensor(write("whole.png", good)).shape());
  }

  @Test
  void badCrcIsCorrupt() throws IOException {
    byte[] good = goodPng();
    int ihdrData = 8 + 8;
    int idatData = 8 + 25 + 8;
    int[][] flips = {
      {ihdrData + 1, 0x01}, // width 20 -> 65556: the CRC notices before the size is judged
      {ihdrData + 13, 0x80}, // IHDR's CRC itself
      {idatData + 10, 0x04}, // compressed pixel data
      {good.length - 1, 0x01}, // IEND's CRC
    };
    String[] chunks = {"IHDR", "IHDR", "IDAT", "IEND"};
    for (int i = 0; i < flips.length; i++) {
      byte[] bad = good.clone();
      bad[flips[i][0]] ^= (byte) flips[i][1];
      Path f = write("crc-" + i + ".png", bad);
      assertRefused(f, "corrupt PNG: CRC mismatch in chunk " + chunks[i]);
    }
  }

  /** Chunks with valid CRCs whose content is wrong: the decoder's complaint, wrapped. */
  @Test
  void corruptIdatWithValidCrc() throws IOException {
    byte[] notZlib = chunk("IDAT", new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
    byte[] tooShort = chunk("IDAT", deflate(new byte[] {0, 10, 20}));
    byte[] badFilter = chunk("IDAT", deflate(new byte[] {9, 10, 20, 30, 40, 50, 60}));
    String[] names = {"not-zlib", "too-short", "bad-filter"};
    byte[][] idats = {notZlib, tooShort, badFilter};
    for (int i = 0; i < idats.length; i++) {
      Path f = write(names[i] + ".png", concat(SIGNATURE, ihdr(2, 1, 8, RGB), idats[i], iend()));
      assertRefused(f, "corrupt or unreadable image: IIOException Error reading PNG image data");
    }
    Path noIdat = write("no-idat.png", concat(SIGNATURE, ihdr(2, 1, 8, RGB), iend()));
    assertRefused(noIdat, "corrupt or unreadable image");
    Path notFirst =
        write("ihdr-second.png", concat(SIGNATURE, chunk("gAMA", new byte[4]), ihdr(2, 1, 8, RGB)));
    assertRefused(notFirst, "corrupt PNG: the first chunk is chunk gAMA at offset 8, not IHDR");
  }

  @Test
  void truncatedJpeg() throws IOException {
    Random rnd = new Random(5);
    BufferedImage img = new BufferedImage(64, 48, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 48; y++) {
      for (int x = 0; x < 64; x++) {
        img.setRGB(x, y, rnd.nextInt());
      }
    }
    byte[] good = Files.readAllBytes(jpeg("good.jpg", img));
    int sos = -1;
    for (int i = 0; i + 1 < good.length; i++) {
      if ((good[i] & 0xFF) == 0xFF && (good[i + 1] & 0xFF) == 0xDA) {
        sos = i;
        break;
      }
    }
    assertTrue(sos > 100, "found the start of scan");
    // before the scan: the decoder fails outright
    for (int cut : new int[] {2, 20, sos - 1}) {
      assertRefused(
          write("cut-" + cut + ".jpg", Arrays.copyOf(good, cut)), "corrupt or unreadable");
    }
    // inside the scan or just before EOI: the decoder only warns and pads; we refuse
    for (int cut :
        new int[] {sos + 40, (sos + good.length) / 2, good.length - 2, good.length - 1}) {
      assertRefused(write("cut-" + cut + ".jpg", Arrays.copyOf(good, cut)), "truncated JPEG (");
    }
  }

  @Test
  void randomBytesAndTextAreNotImages() throws IOException {
    byte[] junk = new byte[1000];
    new Random(42).nextBytes(junk);
    junk[0] = 'Z'; // no format starts with it (0x00 could look like a WBMP)
    assertRefused(write("junk.png", junk), "not an image in a format segcam reads");
    ImageException e =
        assertRefused(
            write("notes.png", "hello, this is a text file\n".getBytes(StandardCharsets.UTF_8)),
            "not an image in a format segcam reads (PNG, JPEG, BMP, GIF, TIFF, WBMP)");
    assertTrue(e.getMessage().contains("68 65 6c 6c 6f 2c 20 74 (\"hello, t\")"), e.getMessage());
  }

  @Test
  void directoryAndMissingFile() throws IOException {
    Path sub = Files.createDirectory(dir.resolve("photos.png"));
    assertRefused(sub, "is a directory, not an image file");
    assertRefused(dir.resolve("nope.png"), "no such image file");
  }

  @Test
  void unreadableFile() throws IOException {
    Path f = write("secret.png", goodPng());
    try {
      Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("---------"));
    } catch (UnsupportedOperationException e) {
      Assumptions.abort("no POSIX permissions on this file system");
    }
    // root (as in many containers) reads it anyway: nothing to test there
    Assumptions.assumeFalse(Files.isReadable(f), "running as root: permissions do not apply");
    assertRefused(f, "cannot read the file: permission denied");
  }

  /** Headers declaring absurd sizes: refused from the header, fast, without allocating. */
  @Test
  void hugeDimensionsAreRefusedBeforeDecoding() throws IOException {
    long[][] sizes = {
      {100_000, 100_000},
      {Integer.MAX_VALUE, 1},
      {1, Integer.MAX_VALUE},
      {0xFFFF_FFFFL, 0xFFFF_FFFFL}, // not even valid PNG (> 2^31-1)
      {MAX_SIDE_PLUS_1, 1},
      {9000, 9000}, // each side fine, 81 Mpx too many
    };
    // a bogus IDAT: were the pixels decoded, the error would be about them
    byte[] bogus = chunk("IDAT", new byte[] {1, 2, 3});
    long t0 = System.nanoTime();
    for (long[] s : sizes) {
      Path f =
          write(
              s[0] + "x" + s[1] + ".png",
              concat(SIGNATURE, ihdr(s[0], s[1], 16, RGBA), bogus, iend()));
      assertRefused(
          f,
          "image dimensions "
              + s[0]
              + "x"
              + s[1]
              + " out of range (each side 1..16384, at most 67108864 pixels");
    }

    // JPEG (SOF) and BMP (info header) dimensions go through the reader's header
    BufferedImage small = blocks(BufferedImage.TYPE_INT_RGB, new int[] {0x123456});
    byte[] jpg = Files.readAllBytes(jpeg("small.jpg", small));
    int sof = -1;
    for (int i = 0; i + 1 < jpg.length; i++) {
      if ((jpg[i] & 0xFF) == 0xFF && (jpg[i + 1] & 0xFF) == 0xC0) {
        sof = i;
        break;
      }
    }
    assertTrue(sof > 0, "found SOF0");
    for (int[] hw : new int[][] {{60000, 60000}, {9000, 9000}}) {
      byte[] big = jpg.clone();
      big[sof + 5] = (byte) (hw[0] >> 8);
      big[sof + 6] = (byte) hw[0];
      big[sof + 7] = (byte) (hw[1] >> 8);
      big[sof + 8] = (byte) hw[1];
      assertRefused(
          write("big" + hw[0] + ".jpg", big),
          "image dimensions " + hw[1] + "x" + hw[0] + " out of range");
    }
    Path bmpFile = dir.resolve("small.bmp");
    assertTrue(ImageIO.write(small, "bmp", bmpFile.toFile()));
    byte[] bmp = Files.readAllBytes(bmpFile);
    bmp[18] = (byte) 0xA0; // width 100000, little-endian
    bmp[19] = (byte) 0x86;
    bmp[20] = 0x01;
    bmp[21] = 0;
    // JDK 17's BMP reader already refuses this header itself; either refusal is from the header
    String msg = assertRefused(write("wide.bmp", bmp), "").getMessage();
    assertTrue(
        msg.contains("image dimensions 100000x16 out of range")
            || msg.contains("Invalid width/height for BI_RGB image data"),
        msg);

    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertTrue(ms < HEADER_REFUSAL_MS, "refusing headers took " + ms + " ms");
  }

  static final long MAX_SIDE_PLUS_1 = Images.MAX_SIDE + 1;

  /** The pixel limit is exact: w * h == limit passes, one row more does not. */
  @Test
  void pixelLimitBoundaryAndProperty() throws IOException {
    int[] s = new int[11 * 10 * 4];
    Arrays.fill(s, 300);
    Path ok = write("10x10.png", png(10, 10, 16, RGBA, Arrays.copyOf(s, 10 * 10 * 4)));
    Path over = write("10x11.png", png(10, 11, 16, RGBA, s));
    assertEquals(10, Images.read(ok, 100).getWidth());
    ImageException e = assertThrows(ImageException.class, () -> Images.read(over, 100));
    assertTrue(
        e.getMessage().contains("10x11 out of range (each side 1..16384, at most 100 pixels"),
        e.getMessage());

    assertEquals(Images.MAX_PIXELS, Images.maxPixels());
    String old = System.getProperty(Images.MAX_PIXELS_PROPERTY);
    try {
      System.setProperty(Images.MAX_PIXELS_PROPERTY, "100");
      assertEquals(100, Images.maxPixels());
      assertRefused(over, "at most 100 pixels; see -Dsegcam.image.maxPixels");
      System.setProperty(Images.MAX_PIXELS_PROPERTY, "lots");
      SegcamException bad = assertThrows(SegcamException.class, Images::maxPixels);
      assertTrue(
          bad.getMessage().contains("segcam.image.maxPixels=lots is not a pixel count"),
          bad.getMessage());
      System.setProperty(Images.MAX_PIXELS_PROPERTY, String.valueOf(1L << 31));
      assertThrows(SegcamException.class, Images::maxPixels);
    } finally {
      if (old == null) {
        System.clearProperty(Images.MAX_PIXELS_PROPERTY);
      } else {
        System.setProperty(Images.MAX_PIXELS_PROPERTY, old);
      }
    }
  }

  /**
   * Mutated PNG, JPEG, GIF, BMP and TIFF files (bit flips, byte runs, cuts, inserted bytes,
   * seeded): each either decodes or ends in an ImageException; nothing else (IIOException,
   * IndexOutOfBounds, NPE, OutOfMemoryError) may escape.
   */
  @Test
  void mutatedFilesEndInImageExceptionOrAnImage() throws IOException {
    BufferedImage img = blocks(BufferedImage.TYPE_INT_RGB, new int[] {0x102030, 0xA0B0C0});
    List<byte[]> originals = new ArrayList<>();
    originals.add(goodPng());
    originals.add(Files.readAllBytes(jpeg("m.jpg", img)));
    for (String format : List.of("gif", "bmp", "tiff")) {
      BufferedImage src = img;
      if (format.equals("gif")) {
        src = new BufferedImage(32, 16, BufferedImage.TYPE_BYTE_INDEXED);
        src.getGraphics().drawImage(img, 0, 0, null);
      }
      Path f = dir.resolve("m." + format);
      assertTrue(ImageIO.write(src, format, f.toFile()), format);
      originals.add(Files.readAllBytes(f));
    }
    List<String> escaped = new ArrayList<>();
    int decoded = 0;
    int refused = 0;
    Path f = dir.resolve("mutant");
    for (int o = 0; o < originals.size(); o++) {
      byte[] orig = originals.get(o);
      for (int seed = 0; seed < 60; seed++) {
        Random rnd = new Random(o * 1000L + seed);
        byte[] m = orig.clone();
        int kind = seed % 4;
        if (kind == 0) {
          for (int k = 0; k <= rnd.nextInt(4); k++) {
            m[rnd.nextInt(m.length)] ^= (byte) (1 << rnd.nextInt(8));
          }
        } else if (kind == 1) {
          int at = rnd.nextInt(m.length);
          for (int k = at; k < Math.min(m.length, at + 1 + rnd.nextInt(8)); k++) {
            m[k] = (byte) (rnd.nextBoolean() ? 0xFF : rnd.nextInt(256));
          }
        } else if (kind == 2) {
          m = Arrays.copyOf(m, rnd.nextInt(m.length));
        } else {
          int at = rnd.nextInt(m.length);
          byte[] ins = new byte[1 + rnd.nextInt(16)];
          rnd.nextBytes(ins);
          m = concat(Arrays.copyOf(orig, at), ins, Arrays.copyOfRange(orig, at, orig.length));
        }
        Files.write(f, m);
        try {
          Images.readTensor(f);
          decoded++;
        } catch (ImageException e) {
          assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
          refused++;
        } catch (Throwable t) {
          escaped.add("original " + o + " seed " + seed + ": " + t);
        }
      }
    }
    assertTrue(escaped.isEmpty(), escaped.size() + " untyped: " + escaped);
    System.out.println(
        "image mutants: "
            + (decoded + refused)
            + " ("
            + decoded
            + " decoded, "
            + refused
            + " ImageException, 0 other)");
    assertTrue(refused > 0 && decoded + refused == originals.size() * 60, refused + " refused");
  }
}
