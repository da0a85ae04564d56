package dev.segcam.backend;

import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Loader;

/**
 * Whether CUDA can be used in this JVM, decided once. Loading JavaCPP's cudart without a GPU throws
 * UnsatisfiedLinkError (libcuda.so.1 missing) and every later touch of the class throws
 * NoClassDefFoundError, so the first answer, with its reason, is cached and reused by backend
 * selection and by the GPU tests' skip condition.
 *
 * <p>{@code -Dsegcam.cuda.disabled=true} makes the probe fail on purpose (to exercise the CPU
 * fallback on a GPU machine).
 */
public final class BackendProbe {
  private BackendProbe() {}

  /** The probe's verdict. When unavailable, {@code reason} says why in one line. */
  public record CudaStatus(
      boolean available,
      String reason,
      int deviceCount,
      String deviceName,
      int driverVersion,
      int runtimeVersion) {

    /** One line for logs: the device or the reason it is missing. */
    public String describe() {
      if (!available) {
        return "CUDA unavailable: " + reason;
      }
      return String.format(
          "CUDA device 0 of %d: %s (driver %s, runtime %s)",
          deviceCount, deviceName, version(driverVersion), version(runtimeVersion));
    }

    private static String version(int v) {
      return (v / 1000) + "." + (v % 1000) / 10;
    }
  }

  private static final class Holder {
    static final CudaStatus STATUS = probe();
  }

  /** The cached verdict (probes on first call). Never throws. */
  public static CudaStatus cuda() {
    return Holder.STATUS;
  }

  private static CudaStatus unavailable(String reason) {
    return new CudaStatus(false, reason, 0, null, 0, 0);
  }

  private static CudaStatus probe() {
    if (Boolean.getBoolean("segcam.cuda.disabled")) {
      return unavailable("disabled by -Dsegcam.cuda.disabled=true");
    }
    try {
      Loader.load(cudart.class);
    } catch (
        Throwable t) { // UnsatisfiedLinkError, NoClassDefFoundError, ExceptionInInitializerError
      return unavailable(reasonOf(t));
    }
    try {
      int[] count = new int[1];
      int err = cudart.cudaGetDeviceCount(count);
      if (err != cudart.cudaSuccess) {
        return unavailable("cudaGetDeviceCount: " + cudaError(err));
      }
      if (count[0] <= 0) {
        return unavailable("the CUDA runtime loaded but sees no device");
      }
      int[] driver = new int[1];
      int[] runtime = new int[1];
      cudart.cudaDriverGetVersion(driver);
      cudart.cudaRuntimeGetVersion(runtime);
      String name;
      try (cudaDeviceProp prop = new cudaDeviceProp()) {
        err = cudart.cudaGetDeviceProperties(prop, 0);
        name = err == cudart.cudaSuccess ? prop.name().getString().trim() : "device 0";
      }
      return new CudaStatus(true, null, count[0], name, driver[0], runtime[0]);
    } catch (Throwable t) {
      return unavailable(reasonOf(t));
    }
  }

  /** "name (code): description" for a CUDA runtime error code. */
  public static String cudaError(int err) {
    try {
      return cudart.cudaGetErrorName(err).getString()
          + " ("
          + err
          + "): "
          + cudart.cudaGetErrorString(err).getString();
    } catch (Throwable t) {
      return "CUDA error " + err;
    }
  }

  /**
   * One line from a load failure: JavaCPP's outer message ("no jnicudart in java.library.path:
   * <long path list>") shortened to "no jnicudart", followed by the innermost message (the library
   * the dynamic linker could not find), e.g. "no jnicudart … libjnicudart.so: libcuda.so.1: cannot
   * open shared object file: No such file or directory".
   */
  public static String reasonOf(Throwable t) {
    String first = message(t);
    int cut = first.indexOf(" in java.library.path");
    if (cut > 0) {
      first = first.substring(0, cut);
    }
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String reason = first;
    if (root != t) {
      String last = message(root);
      int so = last.indexOf(".so: ");
      if (so > 0) {
        int slash = last.lastIndexOf('/', so);
        last = last.substring(slash + 1);
      }
      reason = first + " … " + last;
    }
    reason = reason.replaceAll("\\s+", " ").trim();
    return reason.length() > 400 ? reason.substring(0, 400) + "…" : reason;
  }

  private static String message(Throwable t) {
    String m = t.getMessage();
    return t.getClass().getSimpleName().equals("UnsatisfiedLinkError") && m != null
        ? m
        : (m == null ? t.getClass().getName() : t.getClass().getSimpleName() + ": " + m);
  }
}
