package dev.segcam.savedmodel;

import dev.segcam.SegcamException;

/**
 * A SavedModel that cannot be imported: missing or corrupt files, an unsupported op, a signature
 * that does not exist. Names the file, the node and the function where they are known ({@link
 * #where()}; null otherwise).
 */
public class ImportException extends SegcamException {
  public ImportException(String message, String file, String node, String function) {
    this(message, file, node, function, null);
  }

  public ImportException(
      String message, String file, String node, String function, Throwable cause) {
    super(message, new Where(file, node, null, function), cause);
  }

  static ImportException inFile(String file, String message) {
    return new ImportException(message, file, null, null);
  }

  static ImportException inFile(String file, String message, Throwable cause) {
    return new ImportException(message, file, null, null, cause);
  }

  static ImportException atNode(String node, String function, String message) {
    return new ImportException(message, null, node, function);
  }

  /** The same error attributed to a file (when the code that found it did not know the file). */
  ImportException withFile(String f) {
    if (where().file() != null) {
      return this;
    }
    ImportException e =
        new ImportException(reason(), f, where().node(), where().function(), getCause());
    e.setStackTrace(getStackTrace());
    return e;
  }
}
