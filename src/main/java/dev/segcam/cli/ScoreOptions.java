package dev.segcam.cli;

import dev.segcam.cam.ScoreMode;
import picocli.CommandLine.Option;

/**
 * What is scored and where, as picocli mixins shared by {@code explain}, {@code video} and {@code
 * bench}: each option is declared once, here ({@code --score} takes its label, help text and
 * converter from {@link Vocabulary}, beside the other value parsers).
 */
final class ScoreOptions {
  private ScoreOptions() {}

  /** {@code --output NODE}: the scored node (default: the model's first output). */
  static final class Output {
    @Option(
        names = "--output",
        paramLabel = "NODE",
        description =
            "The node to score: an output key, a layer as `segcam layers` prints it, or a"
                + " TensorFlow node name. Default: the first output (one without gradient, such as"
                + " ArgMax, is scored on its nearest differentiable ancestor, with a note).")
    String node;
  }

  /** {@code --score logits|probs}: what is summed over the region. */
  static final class Mode {
    @Option(
        names = "--score",
        paramLabel = Vocabulary.SCORE_LABEL,
        defaultValue = "logits",
        converter = Vocabulary.ScoreConverter.class,
        description = Vocabulary.SCORE_HELP)
    ScoreMode mode = ScoreMode.LOGITS;
  }

  /** {@code --layer NAME}: one feature layer (default: as explain chooses it). */
  static final class Layer {
    @Option(
        names = {"-l", "--layer"},
        paramLabel = "NAME",
        description =
            "Feature layer (node name as `segcam layers` prints it). Default: the last"
                + " conv/activation before the classifier head.")
    String name;
  }
}
