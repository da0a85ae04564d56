package dev.segcam;

/**
 * Base of every typed error segcam raises; unchecked, with a message that names what was wrong.
 *
 * <p>An error raised while a backend runs a graph node carries that node as structured fields
 * ({@link #graphNode()}, {@link #graphOp()}), attached once by the graph walk through {@link
 * #atNode}; its message then starts with "node 'name' (Op): ".
 */
public class SegcamException extends RuntimeException {
  private String graphNode;
  private String graphOp;

  public SegcamException(String message) {
    super(message);
  }

  public SegcamException(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * Attaches the graph node (and its op's type) where this error arose, unless one is attached
   * already (the innermost node wins). Returns this exception, its type unchanged.
   */
  public SegcamException atNode(String node, String op) {
    if (graphNode == null && node != null) {
      graphNode = node;
      graphOp = op;
    }
    return this;
  }

  /** The graph node being run when this error arose, or null. */
  public String graphNode() {
    return graphNode;
  }

  /** The type of that node's op ("Conv2D"), or null. */
  public String graphOp() {
    return graphOp;
  }

  /** The message without the node prefix. */
  public String reason() {
    return super.getMessage();
  }

  @Override
  public String getMessage() {
    String m = super.getMessage();
    return graphNode == null ? m : "node '" + graphNode + "' (" + graphOp + "): " + m;
  }
}
