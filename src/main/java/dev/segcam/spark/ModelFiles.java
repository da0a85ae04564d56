package dev.segcam.spark;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import scala.Tuple2;

/**
 * The model directory on this machine's disk: a local path as it is; any other Hadoop URI ({@code
 * hdfs://}, {@code s3a://}, {@code gs://}, ...) copied once per JVM into {@code
 * java.io.tmpdir/segcam-models/<hash of the URI>}, through a temporary sibling and one rename, so
 * that executors sharing a host never read a half-copied model.
 */
final class ModelFiles {
  private static final Map<String, Path> LOCAL = new ConcurrentHashMap<>();

  private ModelFiles() {}

  static Path local(String model) {
    return LOCAL.computeIfAbsent(model, ModelFiles::fetch);
  }

  private static Path fetch(String model) {
    URI uri;
    try {
      uri = URI.create(model);
    } catch (IllegalArgumentException e) {
      uri = null; // a plain path with characters a URI does not allow
    }
    if (uri == null || uri.getScheme() == null || uri.getScheme().length() == 1) {
      return checked(Path.of(model), model); // a path ("C:" style drive letters included)
    }
    if (uri.getScheme().equals("file")) {
      return checked(Path.of(uri), model);
    }
    Path dest = cacheDir(model);
    Path root = dest.getParent();
    if (Files.isDirectory(dest)) {
      return dest; // an earlier executor JVM on this host copied it
    }
    Path tmp = null;
    try {
      Files.createDirectories(root);
      tmp = Files.createTempDirectory(root, dest.getFileName() + ".");
      org.apache.hadoop.fs.Path src = new org.apache.hadoop.fs.Path(uri);
      FileSystem fs = src.getFileSystem(hadoopConf());
      if (!fs.getFileStatus(src).isDirectory()) {
        throw new SparkExplainException(model + ": not a SavedModel directory");
      }
      Path into = tmp.resolve("model");
      fs.copyToLocalFile(false, src, new org.apache.hadoop.fs.Path(into.toUri()), true);
      try {
        Files.move(into, dest, StandardCopyOption.ATOMIC_MOVE);
      } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException e) {
        if (!Files.isDirectory(dest)) {
          throw e;
        }
      } catch (IOException e) {
        if (!Files.isDirectory(dest)) { // a non-empty dest from another JVM's rename
          throw e;
        }
      }
      return dest;
    } catch (IOException e) {
      throw new SparkExplainException("cannot copy the model " + model + " to local disk: " + e, e);
    } finally {
      if (tmp != null) {
        deleteTree(tmp);
      }
    }
  }

  /** Where a remote model is copied on this machine. */
  static Path cacheDir(String model) {
    return Path.of(System.getProperty("java.io.tmpdir"), "segcam-models", hash(model));
  }

  private static Path checked(Path p, String model) {
    if (!Files.isDirectory(p)) {
      throw new SparkExplainException(model + ": no such model directory on this machine");
    }
    return p;
  }

  /** The executor's Hadoop settings: the spark.hadoop.* entries of its SparkConf, as Spark does. */
  private static Configuration hadoopConf() {
    Configuration c = new Configuration();
    SparkEnv env = SparkEnv.get();
    if (env != null) {
      SparkConf conf = env.conf();
      for (Tuple2<String, String> kv : conf.getAllWithPrefix("spark.hadoop.")) {
        c.set(kv._1(), kv._2());
      }
    }
    return c;
  }

  private static String hash(String s) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 12);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void deleteTree(Path p) {
    try (var walk = Files.walk(p)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException | RuntimeException ignored) {
      // temporary debris in tmpdir is not worth failing the job for
    }
  }
}
