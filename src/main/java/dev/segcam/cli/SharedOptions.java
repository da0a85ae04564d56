package dev.segcam.cli;

import dev.segcam.SegcamException;
import dev.segcam.backend.BackendChoice;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/** Options every compute command takes: which backend runs it and how loud errors are. */
public final class SharedOptions {
  @Option(
      names = "--backend",
      paramLabel = "auto|cpu|java|cuda",
      defaultValue = "auto",
      converter = BackendConverter.class,
      description =
          "Where to run: auto (CUDA when a GPU is usable, else CPU with a note), cpu (oneDNN"
              + " when it loads, else the Java engine with a note), java (the pure-Java CPU"
              + " engine), or cuda (fails with the probe's reason when no GPU is usable)."
              + " Default: ${DEFAULT-VALUE}.")
  BackendChoice backend = BackendChoice.AUTO;

  @Option(names = "--verbose", description = "Print stack traces of errors.")
  boolean verbose;

  /** Picocli turns a failed conversion into a usage error (exit 2) with this message. */
  static final class BackendConverter implements ITypeConverter<BackendChoice> {
    @Override
    public BackendChoice convert(String value) {
      try {
        return BackendChoice.parse(value);
      } catch (SegcamException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }

  /** Just {@code --verbose}, for commands that compute nothing (added to them by Main). */
  public static final class Verbose {
    @Option(names = "--verbose", description = "Print stack traces of errors.")
    boolean verbose;
  }
}
