package dev.segcam.backend.cuda;

import dev.segcam.testing.KerasZoo;
import dev.segcam.testing.ModelZoo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Exports every {@link ModelZoo} model as a SavedModel under a directory (default
 * .device/model-zoo). Run by {@code bench/gpu-check.sh prepare} on the build machine, which has
 * TensorFlow's native library: the GPU machine has not, and its {@link CudaCamBackendTest} imports
 * the exported models with segcam's own importer. The {@link KerasZoo} models go under {@code
 * keras/NAME}, each with the input shape {@link CudaKerasZooTest} runs it at in {@code
 * run-shape.txt}.
 */
public final class ZooExport {
  private ZooExport() {}

  public static void main(String[] args) {
    Path root = Path.of(args.length > 0 ? args[0] : ".device/model-zoo");
    for (String name : ModelZoo.NAMES) {
      ModelZoo.export(name, root.resolve(name));
      System.out.println("exported " + name + " -> " + root.resolve(name));
    }
    for (String name : KerasZoo.MODELS.keySet().stream().sorted().toList()) {
      KerasZoo.Model m = KerasZoo.MODELS.get(name).get();
      Path to = root.resolve("keras").resolve(name);
      copyTree(m.dir(), to);
      write(
          to.resolve(CudaKerasZooTest.RUN_SHAPE),
          Arrays.stream(m.runShape()).mapToObj(Integer::toString).collect(Collectors.joining(" ")));
      System.out.println("exported keras " + name + " -> " + to);
    }
  }

  private static void copyTree(Path from, Path to) {
    ModelZoo.deleteRecursively(to);
    try (Stream<Path> files = Files.walk(from)) {
      for (Path f : files.toList()) {
        Path t = to.resolve(from.relativize(f).toString());
        if (Files.isDirectory(f)) {
          Files.createDirectories(t);
        } else {
          Files.copy(f, t);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void write(Path file, String text) {
    try {
      Files.writeString(file, text + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
