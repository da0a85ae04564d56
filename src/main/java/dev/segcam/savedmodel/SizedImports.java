package dev.segcam.savedmodel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The imports of {@link SavedModelImporter#loadAtImageSize}, kept per (model directory, signature,
 * size) so a run that meets a size again (video frames, a pool's tasks, explain's images) imports
 * once. Holds the {@link #CAPACITY} most recently used; an imported graph is immutable, so callers
 * share it.
 */
final class SizedImports {
  /** Distinct sizes kept: a run with more sizes than this re-imports the least recent. */
  static final int CAPACITY = 8;

  /** The model file's size and time stamp: a model exported again is imported again. */
  private record Key(
      Path dir, String signature, int height, int width, long bytes, long modified) {}

  private static final Map<Key, ImportedModel> CACHE =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, ImportedModel> eldest) {
          return size() > CAPACITY;
        }
      };

  private SizedImports() {}

  static ImportedModel get(Path dir, String signature, int height, int width) {
    Path pb = dir.resolve("saved_model.pb");
    long bytes = -1;
    long modified = -1;
    try {
      bytes = Files.size(pb);
      modified = Files.getLastModifiedTime(pb).toMillis();
    } catch (IOException e) {
      // no such file: the import says so with its own message
    }
    Key k = new Key(dir.toAbsolutePath().normalize(), signature, height, width, bytes, modified);
    synchronized (CACHE) {
      ImportedModel m = CACHE.get(k);
      if (m != null) {
        return m;
      }
    }
    // imported outside the lock: another size (or model) need not wait for this one
    ImportedModel m = SavedModelImporter.importAtImageSize(dir, signature, height, width);
    synchronized (CACHE) {
      CACHE.putIfAbsent(k, m);
      return CACHE.get(k);
    }
  }
}
