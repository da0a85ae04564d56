package dev.segcam.backend;

import java.util.Locale;

/**
 * What the user asked for ({@code --backend auto|cpu|java|cuda}) and how it resolves: AUTO takes
 * CUDA when {@link BackendProbe} finds a device, else the CPU with a one-line reason; CUDA without
 * a device is a {@link BackendUnavailableException} carrying the probe's reason. On the CPU, oneDNN
 * runs the ops it has when it loads (CPU and AUTO); JAVA forces the pure-Java engine.
 */
public enum BackendChoice {
  AUTO,
  CPU,
  /** The CPU with the pure-Java engine only (no oneDNN). */
  JAVA,
  CUDA;

  /** The backend that will run, and one line saying why (for logs and the CLI). */
  public record Selection(BackendChoice backend, String reason) {
    public boolean isCuda() {
      return backend == CUDA;
    }

    /** Whether the CPU must run the pure-Java engine (--backend java), not oneDNN. */
    public boolean javaOnly() {
      return backend == JAVA;
    }
  }

  /** Parses "auto", "cpu", "java" or "cuda" (any case). */
  public static BackendChoice parse(String s) {
    if (s != null) {
      for (BackendChoice c : values()) {
        if (c.name().equalsIgnoreCase(s.trim())) {
          return c;
        }
      }
    }
    throw new BackendUnavailableException(
        "unknown backend '" + s + "': expected one of auto, cpu, java, cuda");
  }

  /** Resolves this choice against the (cached) CUDA probe. */
  public Selection select() {
    return select(BackendProbe.cuda());
  }

  /** Resolves this choice against a given probe verdict (tests). */
  public Selection select(BackendProbe.CudaStatus cuda) {
    if (this == CPU || this == JAVA) {
      return new Selection(this, this + ": requested");
    }
    if (cuda.available()) {
      return new Selection(CUDA, "cuda: " + cuda.describe());
    }
    if (this == CUDA) {
      throw new BackendUnavailableException(
          "backend cuda requested but " + cuda.describe() + " (use --backend auto or cpu)");
    }
    return new Selection(CPU, "cpu: " + cuda.describe());
  }

  /**
   * Whether this build can run the CAM pipeline (forward, backward, CAM kernels) on CUDA: it can,
   * through dev.segcam.backend.cuda.CudaCamBackend ({@link #openCudaCam}).
   */
  public static final boolean CUDA_CAM_BUILT = true;

  private static final String CUDA_CAM_BACKEND = "dev.segcam.backend.cuda.CudaCamBackend";

  /**
   * Builds the CUDA CAM backend ({@code CudaCamBackend.create(graph)}) for a selection that named
   * CUDA. By reflection, so that a CPU-only run never loads a CUDA class. Its failures (no usable
   * device or library, a graph op it cannot run) come out as they are: typed SegcamExceptions.
   */
  public static dev.segcam.backend.CamBackend openCudaCam(dev.segcam.ir.Graph graph) {
    return openCudaCam(graph, 0);
  }

  /** {@link #openCudaCam(dev.segcam.ir.Graph)} on CUDA device {@code device} (0-based). */
  public static dev.segcam.backend.CamBackend openCudaCam(dev.segcam.ir.Graph graph, int device) {
    try {
      return (dev.segcam.backend.CamBackend)
          Class.forName(CUDA_CAM_BACKEND)
              .getMethod("create", dev.segcam.ir.Graph.class, int.class)
              .invoke(null, graph, device);
    } catch (java.lang.reflect.InvocationTargetException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new BackendUnavailableException(
          "the CUDA backend failed to start: " + e.getCause(), e.getCause());
    } catch (ReflectiveOperationException | LinkageError e) {
      throw new BackendUnavailableException("the CUDA backend cannot be loaded: " + e, e);
    }
  }

  /**
   * The backend the CAM pipeline (explain, video, bench) runs on: {@link #select()}, then the
   * limits of this build. The one place that policy lives; callers only build what it names.
   */
  public Selection selectForCam() {
    return selectForCam(BackendProbe.cuda(), CUDA_CAM_BUILT);
  }

  /** {@link #selectForCam()} against a given probe verdict and build (tests). */
  public Selection selectForCam(BackendProbe.CudaStatus cuda, boolean cudaCamBuilt) {
    Selection sel = select(cuda); // cuda without a GPU throws with the reason
    if (!sel.isCuda() || cudaCamBuilt) {
      return sel;
    }
    String why = "the CUDA CAM backend is not available in this build yet";
    if (this == CUDA) {
      throw new BackendUnavailableException(
          "backend cuda requested: " + sel.reason() + ", but " + why + " (use --backend cpu)");
    }
    return new Selection(CPU, "cpu: " + sel.reason() + ", but " + why);
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
