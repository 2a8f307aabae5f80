package io.github.payscore.spark;

import org.apache.spark.sql.connector.read.InputPartition;

/** One partition of a driver batch: an Arrow IPC stream, shipped with the task. */
final class ArrowStreamPartition implements InputPartition {
  private static final long serialVersionUID = 1L;
  final byte[] stream;

  ArrowStreamPartition(byte[] stream) {
    this.stream = stream;
  }
}
