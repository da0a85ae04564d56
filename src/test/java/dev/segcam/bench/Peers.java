package dev.segcam.bench;

import dev.segcam.ir.Graph;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * The hook where {@link CpuVsTensorflowSet} opens the PyTorch peers of issue #15 point 4
 * (hand-written Grad-CAM and pytorch-grad-cam's GradCAM + SemanticSegmentationTarget, on the same
 * weights): engineer 15c's {@code bench/peers/torch_gradcam.py}, driven through its line protocol
 * ({@code READY}, {@code run} -> {@code ms <wall> <cpu>}, {@code quit} -> {@code peak_rss_mb N}) by
 * 15c's {@code TorchPeer}, which also exports the model and checks its map against segcam's.
 *
 * <p>Until that piece is merged every peer is off, with the reason in the JSON. Wiring it in is
 * this method: return a {@link BenchSet.Side} whose {@code step()} is TorchPeer's step (wall ms,
 * the Python process's CPU ms), after TorchPeer's agreement check against {@code segcamMap}.
 */
final class Peers {
  private Peers() {}

  /** The peers, by the name the JSON and {@code --peers} use. */
  static final String[] NAMES = {"torch-hand", "pytorch-grad-cam"};

  /** Where the Python side runs (Debian's python3-torch, not a pyenv python). */
  static final Path PYTHON = Paths.get("/usr/bin/python3");

  static final Path SCRIPT = Paths.get("bench", "peers", "torch_gradcam.py");

  /** An opened peer, or why it is off. */
  record Opened(BenchSet.Side side, String offReason) {}

  /**
   * Opens peer {@code name} for a configuration, or says why it is off.
   *
   * @param segcamMap segcam's upsampled maps (batch*H*W), what the peer must reproduce first
   */
  static Opened open(
      String name,
      BenchSet.Config c,
      BenchSet.Model m,
      Graph graph,
      String layer,
      float[] segcamMap,
      int threads) {
    if (!Files.isExecutable(PYTHON)) {
      return new Opened(null, PYTHON + " not found (Debian's python3-torch runs the peers)");
    }
    if (!Files.exists(SCRIPT)) {
      return new Opened(null, SCRIPT + " not on this branch (engineer 15c's piece)");
    }
    return new Opened(
        null,
        "the TorchPeer driver (engineer 15c) is not wired into Peers.open on this branch yet");
  }
}
