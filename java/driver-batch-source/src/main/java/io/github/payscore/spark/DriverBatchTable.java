package io.github.payscore.spark;

import java.util.EnumSet;
import java.util.Set;
import org.apache.spark.sql.connector.catalog.SupportsRead;
import org.apache.spark.sql.connector.catalog.TableCapability;
import org.apache.spark.sql.connector.read.Batch;
import org.apache.spark.sql.connector.read.InputPartition;
import org.apache.spark.sql.connector.read.PartitionReaderFactory;
import org.apache.spark.sql.connector.read.Scan;
import org.apache.spark.sql.connector.read.ScanBuilder;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/** The driver batch of one key as a table: each scan plans the batch loaded when it runs. */
final class DriverBatchTable implements SupportsRead {
  private final String key;
  private final StructType schema;

  DriverBatchTable(String key, StructType schema) {
    this.key = key;
    this.schema = schema;
  }

  @Override
  public String name() {
    return "payscore_driver_batch_" + key;
  }

  @Override
  @SuppressWarnings("deprecation")
  public StructType schema() {
    return schema;
  }

  @Override
  public Set<TableCapability> capabilities() {
    return EnumSet.of(TableCapability.BATCH_READ);
  }

  @Override
  public ScanBuilder newScanBuilder(CaseInsensitiveStringMap options) {
    return DriverBatchScan::new;
  }

  /** A scan of the table's key: its partitions are the batch loaded when Spark plans them. */
  private final class DriverBatchScan implements Scan, Batch {
    @Override
    public StructType readSchema() {
      return schema;
    }

    @Override
    public Batch toBatch() {
      return this;
    }

    @Override
    public InputPartition[] planInputPartitions() {
      byte[][] streams = DriverBatches.current(key);
      InputPartition[] partitions = new InputPartition[streams.length];
      for (int i = 0; i < streams.length; i++) {
        partitions[i] = new ArrowStreamPartition(streams[i]);
      }
      return partitions;
    }

    @Override
    public PartitionReaderFactory createReaderFactory() {
      return new ArrowStreamReaderFactory();
    }
  }
}
