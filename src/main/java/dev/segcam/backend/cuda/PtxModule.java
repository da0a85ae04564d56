package dev.segcam.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * One of our PTX files (classpath {@code /ptx/<name>.ptx}, built from {@code kernels/<name>.cu}),
 * loaded into the current CUDA context with the driver API. The driver JIT-compiles the PTX for the
 * device on load (the PTX targets compute_75, so it runs on any newer GPU). Functions are looked up
 * once and cached. Needs the context current on the calling thread ({@link
 * CudaContext#makeCurrent()}).
 */
public final class PtxModule implements AutoCloseable {
  private final String name;
  private final CUmod_st module;
  private final Map<String, CUfunc_st> functions = new HashMap<>();
  private boolean closed;

  private PtxModule(String name, CUmod_st module) {
    this.name = name;
    this.module = module;
  }

  /** Reads {@code /ptx/<name>.ptx} from the classpath and loads it. */
  public static PtxModule load(String name) {
    return loadData(name, readResource(name));
  }

  /** Bytes of each JIT log buffer (error and info) handed to cuModuleLoadDataEx. */
  static final int JIT_LOG_BYTES = 8192;

  /** Loads PTX text (e.g. from a test) under a display name; a failure carries the JIT's log. */
  public static PtxModule loadData(String name, byte[] ptx) {
    // cuModuleLoadDataEx reads PTX as a C string: it must end with a NUL byte.
    byte[] z = new byte[ptx.length + 1];
    System.arraycopy(ptx, 0, z, 0, ptx.length);
    CUmod_st m = new CUmod_st();
    int[] options = {
      cudart.CU_JIT_ERROR_LOG_BUFFER,
      cudart.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
      cudart.CU_JIT_INFO_LOG_BUFFER,
      cudart.CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES
    };
    // The options must go as an IntPointer: with an int[] Java picks the overload whose values
    // are a @ByPtrPtr Pointer, and the driver then reads the four values (and writes the log
    // sizes back) through a one-slot stack variable: CUDA_ERROR_INVALID_VALUE and "stack smashing
    // detected" on the first GPU run (H100, driver 580).
    try (IntPointer optionList = new IntPointer(options);
        BytePointer image = new BytePointer(z);
        BytePointer errorLog = new BytePointer(JIT_LOG_BYTES);
        BytePointer infoLog = new BytePointer(JIT_LOG_BYTES);
        PointerPointer<Pointer> values = new PointerPointer<>(options.length)) {
      errorLog.fill(0);
      infoLog.fill(0);
      values.put(0, errorLog);
      values.put(1, new Word(JIT_LOG_BYTES));
      values.put(2, infoLog);
      values.put(3, new Word(JIT_LOG_BYTES));
      int res = cudart.cuModuleLoadDataEx(m, image, options.length, optionList, values);
      if (res != cudart.CUDA_SUCCESS) {
        try {
          CudaException.checkDriver(res, "cuModuleLoadDataEx(" + name + ")");
        } catch (CudaException e) {
          CudaException w =
              new CudaException(
                  loadFailure(e.getMessage(), errorLog.getString(), infoLog.getString()), res);
          w.initCause(e);
          throw w;
        }
      }
    }
    return new PtxModule(name, m);
  }

  /**
   * The message of a failed module load: the driver's error, the JIT's error and info logs, and
   * what the PTX needs (ISA 9.0 from CUDA 13's nvcc: a driver of release 580 or newer).
   */
  static String loadFailure(String driverError, String errorLog, String infoLog) {
    StringBuilder b = new StringBuilder(driverError);
    if (errorLog != null && !errorLog.isBlank()) {
      b.append("; JIT error log: ").append(errorLog.strip());
    }
    if (infoLog != null && !infoLog.isBlank()) {
      b.append("; JIT info log: ").append(infoLog.strip());
    }
    b.append(
        "; the PTX is ISA 9.0 (compute_75, nvcc 13) and needs an NVIDIA driver of release 580 or"
            + " newer");
    return b.toString();
  }

  /**
   * A JIT option value that is a number, passed in the pointer's place (as the driver API does).
   */
  private static final class Word extends Pointer {
    Word(long value) {
      this.address = value;
    }
  }

  static byte[] readResource(String name) {
    String path = "/ptx/" + name + ".ptx";
    try (InputStream in = PtxModule.class.getResourceAsStream(path)) {
      if (in == null) {
        throw new CudaException("PTX resource " + path + " is not on the classpath", 0);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new CudaException("cannot read PTX resource " + path + ": " + e.getMessage(), 0);
    }
  }

  public String name() {
    return name;
  }

  /** The kernel {@code kernel} (an extern "C" name). */
  public synchronized CUfunc_st function(String kernel) {
    if (closed) {
      throw new IllegalStateException("PTX module " + name + " is closed");
    }
    CUfunc_st f = functions.get(kernel);
    if (f == null) {
      f = new CUfunc_st();
      CudaException.checkDriver(
          cudart.cuModuleGetFunction(f, module, kernel),
          "cuModuleGetFunction(" + name + ".ptx, " + kernel + ")");
      functions.put(kernel, f);
    }
    return f;
  }

  /**
   * Launches {@code kernel} asynchronously on {@code stream}. Arguments, in the kernel's order: a
   * {@link DeviceBuffer} or Long (a device pointer, 8 bytes), Integer, Float or Double. The driver
   * copies the values at launch, so the holders are freed on return.
   */
  public void launch(
      String kernel,
      int gx,
      int gy,
      int gz,
      int bx,
      int by,
      int bz,
      int sharedBytes,
      CUstream_st stream,
      Object... args) {
    CUfunc_st f = function(kernel);
    Pointer[] holders = new Pointer[args.length];
    try {
      for (int i = 0; i < args.length; i++) {
        holders[i] = holder(kernel, i, args[i]);
      }
      try (PointerPointer<Pointer> params = new PointerPointer<>(holders)) {
        CudaException.checkDriver(
            cudart.cuLaunchKernel(
                f, gx, gy, gz, bx, by, bz, sharedBytes, stream, params, (PointerPointer<?>) null),
            String.format(
                "cuLaunchKernel %s.%s grid (%d,%d,%d) block (%d,%d,%d)",
                name, kernel, gx, gy, gz, bx, by, bz));
      }
    } finally {
      for (Pointer h : holders) {
        if (h != null) {
          h.close();
        }
      }
    }
  }

  private static Pointer holder(String kernel, int i, Object a) {
    if (a instanceof DeviceBuffer b) {
      return new LongPointer(1).put(b.address());
    } else if (a instanceof Long l) {
      return new LongPointer(1).put(l);
    } else if (a instanceof Integer v) {
      return new IntPointer(1).put(v);
    } else if (a instanceof Float v) {
      return new FloatPointer(1).put(v);
    } else if (a instanceof Double v) {
      return new DoublePointer(1).put(v);
    }
    throw new IllegalArgumentException(
        "kernel " + kernel + " argument " + i + ": unsupported type " + a);
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      functions.clear();
      CudaException.checkDriver(cudart.cuModuleUnload(module), "cuModuleUnload(" + name + ")");
    }
  }
}
