package dev.segcam.cli;

import dev.segcam.SegcamException;
import dev.segcam.backend.BackendChoice;
import dev.segcam.backend.BackendUnavailableException;
import dev.segcam.cam.CamBackend;
import dev.segcam.cam.CpuCamBackend;
import dev.segcam.ir.Graph;
import java.lang.reflect.InvocationTargetException;
import java.util.function.Consumer;

/**
 * Turns {@code --backend auto|cpu|cuda} into a {@link CamBackend}: the one place where the CLI
 * decides what runs. The decision itself is {@link BackendChoice#select()} over the cached CUDA
 * probe; this class only builds the backend it names.
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
    BackendChoice.Selection sel = choice.select(); // cuda without a GPU throws with the reason
    String reason = sel.reason();
    if (sel.isCuda()) {
      try {
        CamBackend cuda = cuda(graph);
        return new Opened(cuda, cuda.name(), reason);
      } catch (SegcamException e) { // unsupported op, library or device failure
        if (choice == BackendChoice.CUDA) {
          throw e;
        }
        reason = "cpu: " + reason + ", but the CUDA backend failed: " + e.getMessage();
        note.accept("backend auto -> " + reason);
      }
    } else if (choice == BackendChoice.AUTO) {
      note.accept("backend auto -> " + reason);
    }
    return new Opened(cpu(graph), "cpu", reason);
  }

  /**
   * The CUDA backend, reached by reflection so that a CPU-only run never loads a CUDA class (the
   * probe has already said CUDA is usable when this is called).
   */
  static CamBackend cuda(Graph graph) {
    try {
      return (CamBackend)
          Class.forName(CUDA_BACKEND).getMethod("create", Graph.class).invoke(null, graph);
    } catch (InvocationTargetException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException r) {
        throw r;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw new BackendUnavailableException("the CUDA backend failed to start: " + c, c);
    } catch (ReflectiveOperationException | LinkageError e) {
      throw new BackendUnavailableException("the CUDA backend cannot be loaded: " + e, e);
    }
  }

  private static final String CUDA_BACKEND = "dev.segcam.backend.cuda.CudaCamBackend";

  /** The pure-Java engine on all cores, forward and backward sharing its thread pool. */
  static CamBackend cpu(Graph graph) {
    return CpuCamBackend.create(graph);
  }
}
