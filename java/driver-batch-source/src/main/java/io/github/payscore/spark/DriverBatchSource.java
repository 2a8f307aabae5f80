package io.github.payscore.spark;

import java.util.Map;
import org.apache.spark.sql.connector.catalog.Table;
import org.apache.spark.sql.connector.catalog.TableProvider;
import org.apache.spark.sql.connector.expressions.Transform;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/**
 * A batch source over the Arrow data the Python driver loaded under a key (DriverBatches): a
 * frame read from it is analysed once and written again for each micro-batch, each write
 * scanning the batch loaded at that moment (pipeline/batch_source.py). Option: key. The
 * reader gives the schema; the Arrow data must have exactly its types.
 */
public class DriverBatchSource implements TableProvider {

  @Override
  public StructType inferSchema(CaseInsensitiveStringMap options) {
    throw new IllegalArgumentException("the driver-batch source needs the schema from the reader (.schema(...))");
  }

  @Override
  public boolean supportsExternalMetadata() {
    return true;
  }

  @Override
  public Table getTable(StructType schema, Transform[] partitioning, Map<String, String> properties) {
    String key = properties.get("key");
    if (key == null || key.isEmpty()) {
      throw new IllegalArgumentException("the driver-batch source needs the option key");
    }
    return new DriverBatchTable(key, schema);
  }
}
