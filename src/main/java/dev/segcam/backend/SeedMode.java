package dev.segcam.backend;

import dev.segcam.kernels.CpuKernels;

/**
 * How the masked score of one row is formed from the node it is seeded on (see masked_score_seed in
 * kernels/): LINEAR takes the node's values as they are (logits, or probabilities when the model
 * ends in Softmax/Sigmoid), SOFTMAX applies softmax over channels first, SIGMOID applies the
 * sigmoid to a single channel first. On a single channel, class 0 means "not the foreground": -z
 * for LINEAR, 1 - sigmoid(z) for SIGMOID.
 */
public enum SeedMode {
  LINEAR(CpuKernels.ScoreMode.LOGITS),
  SOFTMAX(CpuKernels.ScoreMode.SOFTMAX),
  SIGMOID(CpuKernels.ScoreMode.SIGMOID);

  private final CpuKernels.ScoreMode kernel;

  SeedMode(CpuKernels.ScoreMode kernel) {
    this.kernel = kernel;
  }

  /** The kernels' code for this mode (masked_score_seed's mode argument). */
  public CpuKernels.ScoreMode kernel() {
    return kernel;
  }
}
