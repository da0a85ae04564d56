package dev.segcam.image;

import dev.segcam.SegcamException;
import dev.segcam.io.AtomicFile;
import dev.segcam.ir.FloatTensor;
import dev.segcam.ir.Shape;
import dev.segcam.ir.ShapeException;
import java.awt.RenderingHints;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.Raster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Reading images into float RGB tensors and writing PNGs.
 *
 * <p>Tensors are NHWC float32 in [0,1], RGB, N = 1 for a single image. What the file stores is
 * converted as follows (the same as TensorFlow's {@code decode_png(channels=3)} and PIL's {@code
 * convert("RGB")}, so a model sees what its training pipeline fed it):
 *
 * <ul>
 *   <li>grey (1, 2, 4, 8, 16 bits) is replicated to R = G = B, taken from the samples with no
 *       grey-to-sRGB gamma;
 *   <li>alpha (grey+alpha, RGBA, a palette's or a colour key's tRNS) is dropped: colours are taken
 *       as stored, not composited over any background;
 *   <li>palette images are expanded through their palette;
 *   <li>16-bit samples keep their precision: v / 65535 (8-bit: v / 255);
 *   <li>JPEG EXIF orientation is not applied; CMYK/YCCK JPEGs are refused (Java's conversion gives
 *       wrong colours), as is anything else that is neither RGB nor grey.
 * </ul>
 *
 * <p>Readable formats: PNG, JPEG, BMP, GIF (first frame), TIFF, WBMP. A file is refused with an
 * {@link ImageException} naming it when it is missing, not a regular file, unreadable, empty, not
 * an image, truncated (PNG: a chunk runs past the end or IEND is missing; JPEG: the decoder hit the
 * end of the data), corrupt (PNG: a CRC mismatch in IHDR, PLTE, IDAT or IEND; any decoder error),
 * or too large: each side at most {@link #MAX_SIDE} and at most {@link #maxPixels()} pixels,
 * checked from the header before any pixel is decoded so a hostile header cannot make us allocate
 * gigabytes. No other exception escapes the readers.
 */
public final class Images {
  /** Largest accepted width or height. */
  public static final int MAX_SIDE = 16384;

  /**
   * Default largest pixel count (2^26 = 67 Mpx; such an image already needs 768 MB as float RGB).
   */
  public static final long MAX_PIXELS = 1L << 26;

  /** System property overriding {@link #MAX_PIXELS} for the readers, e.g. 268435456. */
  public static final String MAX_PIXELS_PROPERTY = "segcam.image.maxPixels";

  /** Above this, h * w * 3 floats no longer fit in one Java array. */
  static final long PIXELS_CEILING = (Integer.MAX_VALUE - 8) / 3;

  private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

  static {
    Headless.ensure();
  }

  private Images() {}

  /**
   * The pixel limit of the readers: {@link #MAX_PIXELS}, or the value of the system property
   * {@value #MAX_PIXELS_PROPERTY} (1 .. 715827879).
   */
  public static long maxPixels() {
    String v = System.getProperty(MAX_PIXELS_PROPERTY);
    if (v == null || v.isBlank()) {
      return MAX_PIXELS;
    }
    long n;
    try {
      n = Long.parseLong(v.strip());
    } catch (NumberFormatException e) {
      n = -1;
    }
    if (n < 1 || n > PIXELS_CEILING) {
      throw new SegcamException(
          "system property "
              + MAX_PIXELS_PROPERTY
              + "="
              + v
              + " is not a pixel count in 1.."
              + PIXELS_CEILING);
    }
    return n;
  }

  /**
   * Decodes an image file (PNG, JPEG, BMP, GIF, TIFF, WBMP), checking structure and dimensions
   * first; see the class comment for what is refused. Throws only {@link ImageException} (and a
   * {@link SegcamException} when the {@value #MAX_PIXELS_PROPERTY} property is malformed).
   */
  public static BufferedImage read(Path file) {
    return read(file, maxPixels());
  }

  /** {@link #read(Path)} with an explicit pixel limit. */
  static BufferedImage read(Path file, long maxPixels) {
    if (!Files.isRegularFile(file)) {
      throw new ImageException(
          file,
          Files.isDirectory(file)
              ? "is a directory, not an image file"
              : Files.exists(file) ? "not a regular file" : "no such image file");
    }
    if (!Files.isReadable(file)) {
      throw new ImageException(file, "cannot read the file: permission denied");
    }
    byte[] head;
    try (InputStream in = Files.newInputStream(file)) {
      head = in.readNBytes(PNG_SIGNATURE.length);
    } catch (IOException e) {
      throw new ImageException(file, "cannot read the file: " + describe(e), e);
    }
    if (head.length == 0) {
      throw new ImageException(file, "empty file (0 bytes), not an image");
    }
    if (startsLikePng(head)) {
      PngCheck.check(file, head.length == PNG_SIGNATURE.length, maxPixels);
    }
    try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
      if (in == null) {
        throw new ImageException(file, "cannot open for reading");
      }
      Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
      if (!readers.hasNext()) {
        throw new ImageException(
            file,
            "not an image in a format segcam reads (PNG, JPEG, BMP, GIF, TIFF, WBMP); it starts"
                + " with bytes "
                + hex(head));
      }
      ImageReader reader = readers.next();
      try {
        reader.setInput(in, true, true);
        List<String> warnings = new ArrayList<>();
        reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
        int w = reader.getWidth(0);
        int h = reader.getHeight(0);
        checkDimensions(file, w, h, maxPixels);
        BufferedImage img = reader.read(0);
        if (img == null) {
          throw new ImageException(file, "corrupt: the decoder returned no image");
        }
        for (String warning : warnings) {
          // the JPEG decoder pads missing data with grey and only warns; a cut-off download
          // must not pass for an image
          String lower = warning.toLowerCase(Locale.ROOT);
          if (lower.contains("truncated") || lower.contains("premature end")) {
            throw new ImageException(
                file, "truncated " + reader.getFormatName() + " (" + warning + ")");
          }
        }
        int cs = img.getColorModel().getColorSpace().getType();
        if (cs != ColorSpace.TYPE_RGB && cs != ColorSpace.TYPE_GRAY) {
          throw new ImageException(
              file,
              "unsupported colour space "
                  + colourSpaceName(cs)
                  + " (e.g. a CMYK JPEG); convert the image to RGB first");
        }
        return img;
      } finally {
        reader.dispose();
      }
    } catch (ImageException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      // ImageIO reports corrupt data as IIOException, but also as EOF, IndexOutOfBounds,
      // IllegalArgument or NegativeArraySize from deep inside the decoders
      throw new ImageException(file, "corrupt or unreadable image: " + describe(e), e);
    } catch (OutOfMemoryError e) {
      // one failed big allocation (the image within the limits, the heap smaller): the heap is
      // usable again once it is gone, so this is a clear error rather than a dead JVM
      throw new ImageException(
          file,
          "not enough memory to decode it (raise -Xmx or lower -D" + MAX_PIXELS_PROPERTY + ")",
          e);
    }
  }

  private static boolean startsLikePng(byte[] head) {
    // a proper prefix of the signature is a PNG cut short, not an unknown format
    for (int i = 0; i < head.length; i++) {
      if (head[i] != PNG_SIGNATURE[i]) {
        return false;
      }
    }
    return true;
  }

  private static String hex(byte[] b) {
    StringBuilder s = new StringBuilder();
    for (byte x : b) {
      s.append(s.length() == 0 ? "" : " ").append(String.format(Locale.ROOT, "%02x", x & 0xFF));
    }
    StringBuilder text = new StringBuilder();
    for (byte x : b) {
      text.append(x >= 0x20 && x < 0x7F ? (char) x : '.');
    }
    return s + " (\"" + text + "\")";
  }

  /** The message of an exception and of its causes, with their types. */
  static String describe(Throwable e) {
    StringBuilder s = new StringBuilder();
    for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
      if (s.length() > 0) {
        s.append(": ");
      }
      s.append(t.getClass().getSimpleName());
      if (t.getMessage() != null) {
        s.append(" ").append(t.getMessage());
      }
      if (s.length() > 400) {
        break;
      }
    }
    return s.toString();
  }

  private static String colourSpaceName(int type) {
    switch (type) {
      case ColorSpace.TYPE_CMYK:
        return "CMYK";
      case ColorSpace.TYPE_YCbCr:
        return "YCbCr";
      case ColorSpace.TYPE_Lab:
        return "Lab";
      default:
        return "type " + type;
    }
  }

  static void checkDimensions(Path file, long w, long h, long maxPixels) {
    if (w <= 0 || h <= 0 || w > MAX_SIDE || h > MAX_SIDE || w * h > maxPixels) {
      throw new ImageException(
          file,
          "image dimensions "
              + w
              + "x"
              + h
              + " out of range (each side 1.."
              + MAX_SIDE
              + ", at most "
              + maxPixels
              + " pixels; see -D"
              + MAX_PIXELS_PROPERTY
              + ")");
    }
  }

  /** Reads an image file as a (1,H,W,3) tensor. */
  public static FloatTensor readTensor(Path file) {
    return toTensor(read(file));
  }

  /** Reads an image file and resizes it (bilinear) to (1,height,width,3). */
  public static FloatTensor readTensor(Path file, int height, int width) {
    BufferedImage img = read(file);
    if (img.getHeight() != height || img.getWidth() != width) {
      img = resize(img, width, height);
    }
    return toTensor(img);
  }

  /** Any BufferedImage -> (1,H,W,3) float RGB in [0,1]. */
  public static FloatTensor toTensor(BufferedImage img) {
    int w = img.getWidth();
    int h = img.getHeight();
    float[] out = new float[h * w * 3];
    ColorModel cm = img.getColorModel();
    Raster r = img.getRaster();
    int cs = cm.getColorSpace().getType();
    boolean component = cm instanceof ComponentColorModel && !cm.isAlphaPremultiplied();
    int colours = cm.getNumColorComponents();
    if (component && cs == ColorSpace.TYPE_GRAY && colours == 1) {
      // straight from the samples: going through getRGB would apply a grey->sRGB gamma and
      // drop 16-bit precision
      float max = (float) ((1L << cm.getComponentSize(0)) - 1);
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          float v = r.getSample(x, y, 0) / max;
          int i = (y * w + x) * 3;
          out[i] = v;
          out[i + 1] = v;
          out[i + 2] = v;
        }
      }
    } else if (component
        && cs == ColorSpace.TYPE_RGB
        && colours == 3
        && r.getTransferType() != DataBuffer.TYPE_FLOAT
        && r.getTransferType() != DataBuffer.TYPE_DOUBLE) {
      for (int b = 0; b < 3; b++) {
        float max = (float) ((1L << cm.getComponentSize(b)) - 1);
        for (int y = 0; y < h; y++) {
          for (int x = 0; x < w; x++) {
            out[(y * w + x) * 3 + b] = r.getSample(x, y, b) / max;
          }
        }
      }
    } else {
      // packed, indexed, premultiplied, exotic colour spaces: let Java2D convert to sRGB
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          int p = img.getRGB(x, y);
          int i = (y * w + x) * 3;
          out[i] = ((p >> 16) & 0xFF) / 255f;
          out[i + 1] = ((p >> 8) & 0xFF) / 255f;
          out[i + 2] = (p & 0xFF) / 255f;
        }
      }
    }
    return new FloatTensor(Shape.of(1, h, w, 3), out);
  }

  /**
   * Tensor -> 8-bit RGB image. Accepts (1,H,W,3), (H,W,3), (1,H,W,1), (H,W,1) or (H,W) (grey);
   * values are clamped to [0,1] and rounded half up.
   */
  public static BufferedImage toImage(FloatTensor t) {
    return toImage(t, 0);
  }

  /** Image n of a batch (N,H,W,3) or (N,H,W,1); for other ranks n must be 0. */
  public static BufferedImage toImage(FloatTensor t, int n) {
    int[] d = t.shape().dims();
    if (d.length == 4) {
      if (n < 0 || n >= d[0]) {
        throw new ShapeException("image " + n + " of a batch of shape " + t.shape());
      }
      int per = d[1] * d[2] * d[3];
      float[] one = java.util.Arrays.copyOfRange(t.data(), n * per, (n + 1) * per);
      return toImage(new FloatTensor(Shape.of(d[1], d[2], d[3]), one), 0);
    }
    if (n != 0) {
      throw new ShapeException("image " + n + " of an unbatched tensor of shape " + t.shape());
    }
    int h;
    int w;
    int c;
    if (d.length == 3) {
      h = d[0];
      w = d[1];
      c = d[2];
    } else if (d.length == 2) {
      h = d[0];
      w = d[1];
      c = 1;
    } else {
      throw new ShapeException("cannot make an image of a tensor of shape " + t.shape());
    }
    if (c != 1 && c != 3) {
      throw new ShapeException("image tensors need 1 or 3 channels, got shape " + t.shape());
    }
    float[] v = t.data();
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int i = (y * w + x) * c;
        int rr = to8(v[i]);
        int gg = c == 3 ? to8(v[i + 1]) : rr;
        int bb = c == 3 ? to8(v[i + 2]) : rr;
        img.setRGB(x, y, (rr << 16) | (gg << 8) | bb);
      }
    }
    return img;
  }

  /** [0,1] -> 0..255, clamped, rounded half up; NaN -> 0. */
  static int to8(float v) {
    float s = v * 255f + 0.5f;
    return s >= 255f ? 255 : (s > 0f ? (int) s : 0);
  }

  /** Bilinear resize to width x height, as a new RGB image. */
  public static BufferedImage resize(BufferedImage img, int width, int height) {
    if (width <= 0 || height <= 0 || width > MAX_SIDE || height > MAX_SIDE) {
      throw new ShapeException("cannot resize to " + width + "x" + height);
    }
    BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    var g = out.createGraphics();
    try {
      g.setRenderingHint(
          RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
      g.drawImage(img, 0, 0, width, height, null);
    } finally {
      g.dispose();
    }
    return out;
  }

  /** Nearest-neighbour upscale by an integer factor (keeps pixels crisp in panels). */
  public static BufferedImage scaleNearest(BufferedImage img, int factor) {
    if (factor == 1) {
      return img;
    }
    if (factor < 1 || (long) img.getWidth() * factor > MAX_SIDE) {
      throw new ShapeException("bad scale factor " + factor + " for width " + img.getWidth());
    }
    BufferedImage out =
        new BufferedImage(
            img.getWidth() * factor, img.getHeight() * factor, BufferedImage.TYPE_INT_RGB);
    var g = out.createGraphics();
    try {
      g.setRenderingHint(
          RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_NEAREST_NEIGHBOR);
      g.drawImage(img, 0, 0, out.getWidth(), out.getHeight(), null);
    } finally {
      g.dispose();
    }
    return out;
  }

  /** Writes a tensor as PNG (see {@link #toImage(FloatTensor)}). */
  public static void writePng(FloatTensor t, Path file) {
    writePng(toImage(t), file);
  }

  /** Opens the stream a file is written through (a seam for tests that simulate a full disk). */
  @FunctionalInterface
  public interface StreamOpener extends AtomicFile.StreamOpener {}

  /**
   * Writes a PNG atomically: into a temporary file in the same directory, then renamed over the
   * target, so a reader never sees a half-written file and a failure leaves no debris. Missing
   * parent directories are created.
   */
  public static void writePng(BufferedImage img, Path file) {
    writePng(img, file, Files::newOutputStream);
  }

  /** {@link #writePng(BufferedImage, Path)} through {@code opener}. */
  public static void writePng(BufferedImage img, Path file, StreamOpener opener) {
    try {
      // encode in memory first: ImageIO hides the stream's own error (e.g. "No space left on
      // device") behind its own wording, and the user needs the real one
      ByteArrayOutputStream png = new ByteArrayOutputStream(1 << 16);
      if (!ImageIO.write(img, "png", png)) {
        throw new ImageException(file, "no PNG writer for image type " + img.getType());
      }
      AtomicFile.write(file, png::writeTo, opener);
    } catch (NoSuchFileException e) {
      throw new ImageException(file, "cannot write: no such directory", e);
    } catch (IOException e) {
      throw new ImageException(file, "cannot write PNG: " + e.getMessage(), e);
    }
  }
}
