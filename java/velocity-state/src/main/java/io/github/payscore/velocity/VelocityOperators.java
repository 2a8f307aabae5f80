package io.github.payscore.velocity;

import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.when;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.TimeMode;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.StructType;

/**
 * The two stateful operators of the scoring query, in the order data flows: parsed records ->
 * per-customer velocity (keyed by customer_id) -> per-terminal risk (keyed by terminal_id, over
 * payments and fraud labels). Called from features/velocity.py. In a streaming query the
 * operators run in event-time mode: their state lives in Spark's state store (checkpointed
 * with the query) and the watermark evicts what no on-time payment can need. In a batch query
 * (training features) the same code sees every record of a key at once.
 *
 * <p>Records an operator does not key (rejected messages) are grouped under the empty key and passed through, so the query reads Kafka once and
 * every record reaches the sink.
 */
public final class VelocityOperators {
  static final String CUSTOMER_KEY = "customer_key";
  static final String TERMINAL_KEY = "terminal_key";

  private VelocityOperators() {
  }

  public static Dataset<Row> apply(Dataset<Row> records, String settingsJson, boolean streaming) {
    VelocitySettings settings = VelocitySettings.fromJson(settingsJson);
    TimeMode timeMode = streaming ? TimeMode.EventTime() : TimeMode.None();
    Dataset<Row> input = withoutLateRowFilter(records).withColumn(CUSTOMER_KEY, customerKey(records));
    StructType customerOutput = CustomerVelocityProcessor.outputSchema(input.schema(), settings);
    Dataset<Row> customers = input
        .groupBy(input.col(CUSTOMER_KEY)).as(Encoders.STRING(), Encoders.row(input.schema()))
        .transformWithState(new CustomerVelocityProcessor(settings, input.schema()), timeMode,
            OutputMode.Append(), Encoders.row(customerOutput))
        .drop(CUSTOMER_KEY);
    Dataset<Row> byTerminal = customers.withColumn(TERMINAL_KEY, terminalKey(customers));
    StructType terminalOutput = TerminalRiskProcessor.outputSchema(byTerminal.schema(), settings);
    return byTerminal
        .groupBy(byTerminal.col(TERMINAL_KEY)).as(Encoders.STRING(), Encoders.row(byTerminal.schema()))
        .transformWithState(new TerminalRiskProcessor(settings, byTerminal.schema()), timeMode,
            OutputMode.Append(), Encoders.row(terminalOutput))
        .drop(TERMINAL_KEY);
  }

  /**
   * The records with event_time no longer marked as the watermark's column. In event-time mode
   * Spark's stateful operators drop input rows behind the watermark when their input carries
   * that column; a payment must never be dropped, so the operators see a plain column. The
   * watermark itself (defined upstream with withWatermark) still drives their timers.
   */
  static Dataset<Row> withoutLateRowFilter(Dataset<Row> records) {
    return records.withColumn("event_time", records.col("event_time").as("event_time", Metadata.empty()));
  }

  private static Column isValid(Dataset<Row> records) {
    return records.col("reason_code").isNull();
  }

  /**
   * Valid payments and fraud labels by customer (a label is checked against the customer's
   * payments); every other record under the empty key (passed through).
   */
  static Column customerKey(Dataset<Row> records) {
    return when(isValid(records), records.col("customer_id")).otherwise(lit(""));
  }

  /** Payments that are not duplicates and fraud labels by terminal; the rest under the empty key. */
  static Column terminalKey(Dataset<Row> records) {
    Column fresh = isValid(records).and(records.col("is_label").equalTo(false))
        .and(records.col("duplicate_of").isNull());
    Column label = isValid(records).and(records.col("is_label").equalTo(true));
    return when(fresh.or(label), records.col("terminal_id")).otherwise(lit(""));
  }
}
