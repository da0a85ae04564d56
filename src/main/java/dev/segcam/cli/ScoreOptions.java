package dev.segcam.cli;

import dev.segcam.cam.ScoreMode;
import picocli.CommandLine.Option;

/**
 * What is scored and where, as picocli mixins shared by {@code explain}, {@code video} and {@code
 * bench}: each option is declared once, with the words of {@link Vocabulary}.
 */
final class ScoreOptions {
  private ScoreOptions() {}

  /** {@code --output NODE}: the scored node (default: the model's first output). */
  static final class Output {
    @Option(
        names = "--output",
        paramLabel = Vocabulary.OUTPUT_LABEL,
        description = Vocabulary.OUTPUT_HELP)
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
        paramLabel = Vocabulary.LAYER_LABEL,
        description = Vocabulary.LAYER_HELP)
    String name;
  }
}
