package dev.segcam.cli;

import dev.segcam.cam.CamException;
import dev.segcam.cam.Target;
import java.nio.file.Path;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * Where the score is summed, at most one of --predicted, --component, --pixel, --box, --mask,
 * --whole: the exclusive option group of {@code explain} and {@code eval}, and the {@link Target}
 * each option makes for a class.
 */
final class RegionOption {
  @Option(names = "--predicted", description = Vocabulary.PREDICTED_HELP)
  boolean predicted;

  @Option(names = "--component", description = Vocabulary.COMPONENT_HELP)
  boolean component;

  @Option(
      names = "--pixel",
      paramLabel = "X,Y",
      converter = IntsConverter.Pair.class,
      description = "One pixel: column X, row Y, from the top-left, in the model output grid.")
  Ints pixel;

  @Option(
      names = "--box",
      paramLabel = "X0,Y0,X1,Y1",
      converter = IntsConverter.Quad.class,
      description = "The box X0 <= x < X1, Y0 <= y < Y1 of the model output grid.")
  Ints box;

  @Option(
      names = "--mask",
      paramLabel = "FILE",
      description =
          "A mask image (nonzero = inside) of the output's or the (model-sized) input's size.")
  Path mask;

  @Option(names = "--whole", description = Vocabulary.WHOLE_HELP)
  boolean whole;

  /** Whether the region option is a region of the target's own (not predicted/whole). */
  static boolean ownRegion(RegionOption region) {
    return region != null
        && (region.component || region.pixel != null || region.box != null || region.mask != null);
  }

  static Target target(RegionOption region, int c) {
    if (region == null || region.predicted) {
      return Target.predicted(c);
    }
    if (region.component) {
      return Target.largestComponent(c);
    }
    if (region.pixel != null) {
      return Target.pixel(c, region.pixel.v()[0], region.pixel.v()[1]);
    }
    if (region.box != null) {
      int[] b = region.box.v();
      if (b[2] <= b[0] || b[3] <= b[1]) {
        throw new CamException.PixelOutOfRangeException(
            "box "
                + b[0]
                + ","
                + b[1]
                + ","
                + b[2]
                + ","
                + b[3]
                + " is empty: it needs X0 < X1 and Y0 < Y1 (X1, Y1 exclusive)");
      }
      return Target.box(c, b[0], b[1], b[2], b[3]);
    }
    if (region.mask != null) {
      return Target.maskPng(c, region.mask);
    }
    return Target.image(c);
  }

  /** Comma-separated integers (a record, so that picocli takes the option as one value). */
  record Ints(int[] v) {}

  /** Comma-separated integers of a fixed count. */
  abstract static class IntsConverter implements ITypeConverter<Ints> {
    private final int count;
    private final String form;

    IntsConverter(int count, String form) {
      this.count = count;
      this.form = form;
    }

    @Override
    public Ints convert(String s) {
      String[] parts = s.split(",", -1);
      if (parts.length != count) {
        throw new TypeConversionException("'" + s + "' is not " + form);
      }
      int[] v = new int[count];
      for (int i = 0; i < count; i++) {
        try {
          v[i] = Integer.parseInt(parts[i].trim());
        } catch (NumberFormatException e) {
          throw new TypeConversionException("'" + s + "' is not " + form + " (integers)");
        }
      }
      return new Ints(v);
    }

    static final class Pair extends IntsConverter {
      Pair() {
        super(2, "X,Y");
      }
    }

    static final class Quad extends IntsConverter {
      Quad() {
        super(4, "X0,Y0,X1,Y1");
      }
    }
  }
}
