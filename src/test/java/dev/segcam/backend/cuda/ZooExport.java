package dev.segcam.backend.cuda;

import dev.segcam.testing.ModelZoo;
import java.nio.file.Path;

/**
 * Exports every {@link ModelZoo} model as a SavedModel under a directory (default
 * .device/model-zoo). Run by {@code bench/gpu-check.sh prepare} on the build machine, which has
 * TensorFlow's native library: the GPU machine has not, and its {@link CudaCamBackendTest} imports
 * the exported models with segcam's own importer.
 */
public final class ZooExport {
  private ZooExport() {}

  public static void main(String[] args) {
    Path root = Path.of(args.length > 0 ? args[0] : ".device/model-zoo");
    for (String name : ModelZoo.NAMES) {
      ModelZoo.export(name, root.resolve(name));
      System.out.println("exported " + name + " -> " + root.resolve(name));
    }
  }
}
