package dev.segcam.backend.onednn;

import dev.segcam.backend.BackendProbe;
import org.bytedeco.dnnl.dnnl_version_t;
import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.javacpp.Loader;

/**
 * Whether the oneDNN native (JavaCPP's dnnl preset: libdnnl, libgomp, its JNI library) loads in
 * this JVM, decided once. Like CUDA's {@link BackendProbe}: a failed JavaCPP load throws
 * UnsatisfiedLinkError and later touches NoClassDefFoundError, so the first verdict and its
 * one-line reason are cached for backend selection (fall back to the Java engine with a note) and
 * for the tests' skip condition.
 *
 * <p>{@code -Dsegcam.onednn.disabled=true} makes the probe fail on purpose (to exercise the
 * fallback).
 */
public final class OneDnnProbe {
  private OneDnnProbe() {}

  /**
   * The verdict. When available: oneDNN's version, the instruction set its CPU kernels use here
   * (e.g. "avx512_core_bf16"), and the OpenMP thread count its primitives run with (libgomp reads
   * {@code OMP_NUM_THREADS} when it loads; default: the cores this process may use).
   */
  public record Status(boolean available, String reason, String version, String isa, int threads) {

    /** One line for logs and JSON: the version and ISA, or the reason oneDNN is missing. */
    public String describe() {
      if (!available) {
        return "oneDNN unavailable: " + reason;
      }
      return String.format("oneDNN %s, ISA %s, %d OpenMP threads", version, isa, threads);
    }
  }

  private static final class Holder {
    static final Status STATUS = probe();
  }

  /** The cached verdict (probes on first call). Never throws. */
  public static Status status() {
    return Holder.STATUS;
  }

  private static Status unavailable(String reason) {
    return new Status(false, reason, null, null, 0);
  }

  private static Status probe() {
    if (Boolean.getBoolean("segcam.onednn.disabled")) {
      return unavailable("disabled by -Dsegcam.onednn.disabled=true");
    }
    try {
      Loader.load(dnnl.class);
      dnnl_version_t v = dnnl.dnnl_version();
      String version = v.major() + "." + v.minor() + "." + v.patch();
      if (v.cpu_runtime() != dnnl.DNNL_RUNTIME_OMP) {
        return unavailable(
            "oneDNN " + version + " was built for CPU runtime " + v.cpu_runtime() + ", not OpenMP");
      }
      if (engine.get_count(engine.kind.cpu) < 1) {
        return unavailable("oneDNN " + version + " reports no CPU engine");
      }
      String isa = dnnl.get_effective_cpu_isa().toString();
      return new Status(true, null, version, isa, ompThreads());
    } catch (
        Throwable t) { // UnsatisfiedLinkError, NoClassDefFoundError, ExceptionInInitializerError
      return unavailable(BackendProbe.reasonOf(t));
    }
  }

  /**
   * The thread count libgomp uses: {@code OMP_NUM_THREADS} when set to a positive number, else the
   * processors available to this JVM (libgomp's default is the CPUs of the affinity mask, which is
   * what {@link Runtime#availableProcessors()} reports too).
   */
  static int ompThreads() {
    String env = System.getenv("OMP_NUM_THREADS");
    if (env != null) {
      try {
        int first = Integer.parseInt(env.split(",")[0].trim());
        if (first > 0) {
          return first;
        }
      } catch (NumberFormatException ignored) {
        // libgomp ignores a malformed value too
      }
    }
    return Runtime.getRuntime().availableProcessors();
  }
}
