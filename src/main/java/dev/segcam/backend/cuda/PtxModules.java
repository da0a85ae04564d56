package dev.segcam.backend.cuda;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The PTX modules one owner has loaded, each on first use with the context current, all unloaded by
 * {@link #close} (every one even after a failure; the first failure is thrown).
 */
final class PtxModules implements AutoCloseable {
  private final CudaContext ctx;
  private final Map<String, PtxModule> modules = new HashMap<>();

  PtxModules(CudaContext ctx) {
    this.ctx = ctx;
  }

  /** The module of kernels/&lt;name&gt;.cu, loaded on first use. */
  synchronized PtxModule get(String name) {
    PtxModule m = modules.get(name);
    if (m == null) {
      ctx.makeCurrent();
      m = PtxModule.load(name);
      modules.put(name, m);
    }
    return m;
  }

  @Override
  public synchronized void close() {
    List<Runnable> releases = new ArrayList<>();
    for (PtxModule m : modules.values()) {
      releases.add(m::close);
    }
    try {
      CloseOrder.all(releases);
    } finally {
      modules.clear();
    }
  }
}
