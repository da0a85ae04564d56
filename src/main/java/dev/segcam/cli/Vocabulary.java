package dev.segcam.cli;

import dev.segcam.SegcamException;
import dev.segcam.cam.CamMethod;
import dev.segcam.cam.ScoreMode;
import dev.segcam.image.Colormaps;
import dev.segcam.video.VideoRun;
import java.util.Locale;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.TypeConversionException;

/**
 * The one vocabulary of the command line: option labels, help texts and value parsers that more
 * than one command uses are defined here once (or, for a whole option, once as a mixin of {@link
 * ScoreOptions}), so {@code explain}, {@code video} and {@code bench} spell methods, regions, sizes
 * and classes alike. Exit-code rule: every unusable option value is a usage error (exit 2, one line
 * plus a hint to --help), whether picocli or the command finds it.
 */
final class Vocabulary {
  private Vocabulary() {}

  static final String METHOD_LABEL = "METHOD";
  static final String METHOD_HELP =
      "gradcam (Seg-Grad-CAM), gradcam++, hirescam, xgradcam or layercam. Default:"
          + " ${DEFAULT-VALUE}.";

  static final String SCORE_LABEL = "logits|probs";
  static final String SCORE_HELP =
      "Sum the class's logits (default) or its softmax/sigmoid probabilities.";

  static final String CLASS_LABEL = "C";
  static final String CLASS_HELP = "Class, by index or by name from MODEL_DIR/labels.txt";

  static final String SIZE_LABEL = "WxH";

  static final String PREDICTED_HELP = "The pixels predicted as the class (default).";
  static final String COMPONENT_HELP =
      "The largest 4-connected component of the pixels predicted as the class.";
  static final String WHOLE_HELP = "The whole image (classification nets).";

  /** A picocli converter from a parser that throws {@link SegcamException} on bad input. */
  private static <T> T convert(String s, Function<String, T> parse) {
    try {
      return parse.apply(s);
    } catch (SegcamException e) {
      throw new TypeConversionException(e.getMessage());
    }
  }

  /** {@code explain --method}: a CAM method, or guided-gradcam (Grad-CAM plus guided maps). */
  record ExplainMethod(CamMethod method, boolean guided) {}

  static final String EXPLAIN_METHOD_HELP =
      "gradcam (Seg-Grad-CAM), gradcam++, hirescam, xgradcam, layercam, or guided-gradcam"
          + " (Grad-CAM plus guided backpropagation and Guided Grad-CAM maps). Default:"
          + " ${DEFAULT-VALUE}.";

  static final class ExplainMethodConverter implements ITypeConverter<ExplainMethod> {
    @Override
    public ExplainMethod convert(String s) {
      String k = s.trim().toLowerCase(Locale.ROOT).replaceAll("[-_ ]", "");
      if (k.equals("guidedgradcam")) {
        return new ExplainMethod(CamMethod.GRAD_CAM, true);
      }
      return new ExplainMethod(Vocabulary.convert(s, VideoRun::parseMethod), false);
    }
  }

  static final class MethodConverter implements ITypeConverter<CamMethod> {
    @Override
    public CamMethod convert(String s) {
      return Vocabulary.convert(s, VideoRun::parseMethod);
    }
  }

  static final class ScoreConverter implements ITypeConverter<ScoreMode> {
    @Override
    public ScoreMode convert(String s) {
      switch (s.trim().toLowerCase(Locale.ROOT)) {
        case "logits":
          return ScoreMode.LOGITS;
        case "probs":
        case "probabilities":
          return ScoreMode.PROBABILITIES;
        default:
          throw new TypeConversionException("unknown score '" + s + "': expected logits or probs");
      }
    }
  }

  /** WxH, checked here and kept as text ("64x48"). */
  static final class SizeConverter implements ITypeConverter<String> {
    @Override
    public String convert(String s) {
      int[] wh = Vocabulary.convert(s, VideoRun::parseSize);
      return wh[0] + "x" + wh[1];
    }
  }

  static final class ColormapConverter implements ITypeConverter<Colormaps> {
    @Override
    public Colormaps convert(String s) {
      return Vocabulary.convert(s, Colormaps::byName);
    }
  }

  /** A usage error (exit 2) for a value that parsed but is out of range. */
  static CommandLine.ParameterException badValue(
      CommandSpec spec, String option, Object value, String rule) {
    return new CommandLine.ParameterException(
        spec.commandLine(), "invalid value '" + value + "' for " + option + ": " + rule);
  }
}
