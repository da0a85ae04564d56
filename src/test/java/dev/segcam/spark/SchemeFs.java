package dev.segcam.spark;

import java.net.URI;
import org.apache.hadoop.fs.RawLocalFileSystem;

/**
 * The local disk under a scheme of its own ({@code segcamtest:///abs/path}), so that the model copy
 * for remote Hadoop URIs (hdfs://, s3a://, ...) runs in a test without a cluster.
 */
public class SchemeFs extends RawLocalFileSystem {
  static final String SCHEME = "segcamtest";

  @Override
  public URI getUri() {
    return URI.create(SCHEME + ":///");
  }

  @Override
  public String getScheme() {
    return SCHEME;
  }
}
