package io.github.payscore.hadoop;

import org.apache.hadoop.fs.LocalFileSystem;

/**
 * Hadoop's checksummed local file system over NioRawLocalFileSystem: fs.file.impl (Spark's
 * RocksDB state store requires a LocalFileSystem there).
 */
public class NioLocalFileSystem extends LocalFileSystem {
  public NioLocalFileSystem() {
    super(new NioRawLocalFileSystem());
  }
}
