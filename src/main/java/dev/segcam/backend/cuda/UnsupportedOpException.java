package dev.segcam.backend.cuda;

import dev.segcam.SegcamException;

/**
 * The CUDA backend cannot run a node of the graph (an op, or an op's configuration such as a rank
 * above 4 for a broadcast, that it has no kernel for). Raised when the backend is built, so a model
 * fails before any frame runs; the message names the node and the op.
 */
public class UnsupportedOpException extends SegcamException {
  private final String node;
  private final String op;

  public UnsupportedOpException(String node, String op, String why) {
    super("CUDA backend cannot run node '" + node + "' (" + op + "): " + why);
    this.node = node;
    this.op = op;
  }

  public String node() {
    return node;
  }

  public String op() {
    return op;
  }
}
