package io.github.payscore.spark;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The micro-batch a driver-batch source currently serves, per source key: one Arrow IPC
 * stream (a single record batch) per partition. The Python driver writes the streams as
 * files and calls {@link #load}; every later scan of the source reads them.
 */
public final class DriverBatches {
  private static final ConcurrentHashMap<String, byte[][]> CURRENT = new ConcurrentHashMap<>();

  private DriverBatches() {}

  /** Serve the Arrow streams in folder (files part-*.arrow, in name order) under key; delete them. */
  public static int load(String key, String folder) throws IOException {
    List<Path> files = new ArrayList<>();
    try (DirectoryStream<Path> parts = Files.newDirectoryStream(Paths.get(folder), "part-*.arrow")) {
      parts.forEach(files::add);
    }
    Collections.sort(files);
    byte[][] streams = new byte[files.size()][];
    for (int i = 0; i < streams.length; i++) {
      streams[i] = Files.readAllBytes(files.get(i));
      Files.delete(files.get(i));
    }
    CURRENT.put(key, streams);
    return streams.length;
  }

  /** Forget the key's batch (its memory is released). */
  public static void clear(String key) {
    CURRENT.remove(key);
  }

  static byte[][] current(String key) {
    byte[][] streams = CURRENT.get(key);
    if (streams == null) {
      throw new IllegalStateException("no driver batch is loaded for source key " + key
          + " (DriverBatches.load must run before the frame is written)");
    }
    return streams;
  }
}
