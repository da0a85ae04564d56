package dev.segcam.cli;

import dev.segcam.SegcamException;
import dev.segcam.backend.BackendChoice;
import dev.segcam.backend.CamBackend;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.ir.Graph;
import java.util.function.Consumer;

/**
 * Turns {@code --backend auto|cpu|java|cuda} into a {@link CamBackend}: the one place where the CLI
 * decides what runs. The decision itself is {@link BackendChoice#selectForCam()} (shared with
 * {@code segcam video}); this class only builds the backend it names.
 */
final class Backends {
  private Backends() {}

  /** The backend that will run and the line explaining why. */
  record Opened(CamBackend backend, String name, String reason) {}

  /**
   * Resolves the choice and builds the backend for the graph. Notes (auto falling back to the CPU)
   * go to {@code note} as one line each.
   */
  static Opened open(BackendChoice choice, Graph graph, Consumer<String> note) {
    BackendChoice.Selection sel = choice.selectForCam();
    String reason = sel.reason();
    if (sel.isCuda()) {
      try {
        CamBackend cuda = BackendChoice.openCudaCam(graph);
        if (choice == BackendChoice.AUTO) {
          note.accept("backend auto -> " + reason);
        }
        return new Opened(cuda, cuda.name(), reason);
      } catch (SegcamException e) { // unsupported op, library or device failure
        if (choice == BackendChoice.CUDA) {
          throw e;
        }
        reason = "cpu: " + reason + ", but the CUDA backend failed: " + e.getMessage();
      }
    }
    CpuCamBackend cpu = cpu(graph, sel.javaOnly(), note);
    reason = reason + "; " + cpu.engine();
    if (choice == BackendChoice.AUTO) {
      note.accept("backend auto -> " + reason);
    }
    return new Opened(cpu, "cpu", reason);
  }

  /** What {@code --backend cpu} runs for a graph (notes dropped). */
  static CamBackend cpu(Graph graph) {
    return cpu(graph, false, line -> {});
  }

  /**
   * The CPU backend on all cores, forward and backward sharing its thread pool: oneDNN's op table
   * when it loads (else the Java engine, with the probe's reason as a note), or the pure-Java
   * engine when {@code javaOnly}.
   */
  static CpuCamBackend cpu(Graph graph, boolean javaOnly, Consumer<String> note) {
    return CpuCamBackend.open(graph, Runtime.getRuntime().availableProcessors(), javaOnly, note);
  }
}
