package dev.segcam;

/**
 * Base of every typed error segcam raises; unchecked, with a message that names what was wrong.
 *
 * <p>Where the error arose is carried as structured fields in one {@link Where} ({@link #where()}):
 * the file, the node and its op or library function, as far as known. The message is that place
 * followed by the {@link #reason()}: "file: node 'name' in function 'f': reason" for an import, and
 * "node 'name' (Op): reason" for an error raised while a backend runs a graph node, whose node the
 * graph walk attaches once through {@link #atNode}.
 */
public class SegcamException extends RuntimeException {
  /**
   * Where an error arose; each part is null when unknown or not applicable.
   *
   * @param file the file that was wrong
   * @param node the node: a graph node being run, or a TensorFlow node being imported
   * @param op the type of the graph node's op ("Conv2D")
   * @param function the TensorFlow library function the imported node sits in
   */
  public record Where(String file, String node, String op, String function)
      implements java.io.Serializable {
    /** Nothing known. */
    public static final Where UNKNOWN = new Where(null, null, null, null);

    /** The message prefix naming this place ("" when nothing is known). */
    String prefix() {
      StringBuilder b = new StringBuilder();
      if (file != null) {
        b.append(file).append(": ");
      }
      if (node != null) {
        b.append("node '").append(node).append("'");
        if (op != null) {
          b.append(" (").append(op).append(")");
        }
        if (function != null) {
          b.append(" in function '").append(function).append("'");
        }
        b.append(": ");
      }
      return b.toString();
    }
  }

  private Where where = Where.UNKNOWN;

  public SegcamException(String message) {
    super(message); // the cause stays unset, so initCause may still give one
  }

  public SegcamException(String message, Throwable cause) {
    super(message, cause);
  }

  /** An error whose place ({@code where}) is known where it is raised. */
  protected SegcamException(String message, Where where, Throwable cause) {
    super(message, cause);
    this.where = where;
  }

  /**
   * Attaches the graph node (and its op's type) where this error arose, unless a node is known
   * already (the innermost node wins). Returns this exception, its type unchanged.
   */
  public SegcamException atNode(String node, String op) {
    if (where.node() == null && node != null) {
      where = new Where(where.file(), node, op, where.function());
    }
    return this;
  }

  /** Where this error arose (parts null when unknown). */
  public Where where() {
    return where;
  }

  /** The message without the file/node prefix. */
  public String reason() {
    return super.getMessage();
  }

  @Override
  public String getMessage() {
    return where.prefix() + super.getMessage();
  }
}
