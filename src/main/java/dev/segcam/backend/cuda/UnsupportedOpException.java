package dev.segcam.backend.cuda;

import dev.segcam.SegcamException;

/**
 * The CUDA backend cannot run a node of the graph (an op, or an op's configuration such as a rank
 * above 4 for a broadcast, that it has no kernel for). Raised when the backend is built, so a model
 * fails before any frame runs; the message names the node and the op ({@link #where()}).
 */
public class UnsupportedOpException extends SegcamException {
  public UnsupportedOpException(String node, String op, String why) {
    super("the CUDA backend cannot run it: " + why);
    atNode(node, op);
  }
}
