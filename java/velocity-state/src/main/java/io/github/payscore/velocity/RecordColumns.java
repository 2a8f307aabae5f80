package io.github.payscore.velocity;

import java.io.Serializable;
import java.math.BigDecimal;
import java.sql.Timestamp;
import java.time.Instant;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;

/**
 * Where the fields the operators read sit in a parsed record (events/schemas.py,
 * PARSED_RECORD_SCHEMA, plus what an earlier operator appended), and how to read them.
 * A record is a valid payment, a valid fraud label, or anything else (passed through).
 */
final class RecordColumns implements Serializable {
  private static final long serialVersionUID = 1L;

  final int width;
  private final int isLabel;
  private final int reasonCode;
  private final int reasonMessage;
  private final int transactionId;
  private final int customerId;
  private final int terminalId;
  private final int amount;
  private final int amountBase;
  private final int currency;
  private final int eventTime;
  private final int kafkaPartition;
  private final int kafkaOffset;
  private final int isFraud;
  private final int labeledAt;
  private final int duplicateOf;

  RecordColumns(StructType schema) {
    width = schema.fields().length;
    isLabel = schema.fieldIndex("is_label");
    reasonCode = schema.fieldIndex("reason_code");
    reasonMessage = schema.fieldIndex("reason_message");
    transactionId = schema.fieldIndex("transaction_id");
    customerId = schema.fieldIndex("customer_id");
    terminalId = schema.fieldIndex("terminal_id");
    amount = schema.fieldIndex("amount");
    amountBase = schema.fieldIndex("amount_base");
    currency = schema.fieldIndex("currency");
    eventTime = schema.fieldIndex("event_time");
    kafkaPartition = schema.fieldIndex("kafka_partition");
    kafkaOffset = schema.fieldIndex("kafka_offset");
    isFraud = schema.fieldIndex("is_fraud");
    labeledAt = schema.fieldIndex("labeled_at");
    duplicateOf = indexOrMissing(schema, "duplicate_of");
  }

  boolean isPayment(Row row) {
    return row.isNullAt(reasonCode) && !row.getBoolean(isLabel);
  }

  boolean isLabel(Row row) {
    return row.isNullAt(reasonCode) && row.getBoolean(isLabel);
  }

  /** A valid payment the customer operator did not find to be a duplicate. */
  boolean isFreshPayment(Row row) {
    return isPayment(row) && (duplicateOf < 0 || row.isNullAt(duplicateOf));
  }

  String transactionId(Row row) {
    return row.getString(transactionId);
  }

  String customerId(Row row) {
    return row.getString(customerId);
  }

  String terminalId(Row row) {
    return row.getString(terminalId);
  }

  String currency(Row row) {
    return row.getString(currency);
  }

  /** The amount in the base currency, in cents (the parser rounds it to 2 decimals): what the
   * velocity features add up, whatever currency the payment was made in. */
  long baseCents(Row row) {
    return row.getDecimal(amountBase).movePointRight(2).longValueExact();
  }

  /** The amount as sent, in its own currency, as one number for the content digest: hundredths
   * when it has at most 2 decimals (as every digest stored before currencies had minor units of
   * their own), else -1 - ten-thousandths (3 or 4 decimals: BHD, CLF), which no hundredths value equals. */
  long amountAsSent(Row row) {
    BigDecimal value = row.getDecimal(amount);
    BigDecimal hundredths = value.movePointRight(2);
    if (hundredths.stripTrailingZeros().scale() <= 0) {
      return hundredths.longValueExact();
    }
    return -1L - value.movePointRight(4).longValueExact();
  }

  long eventMicros(Row row) {
    return micros(row.get(eventTime));
  }

  long labeledAtMicros(Row row) {
    return micros(row.get(labeledAt));
  }

  boolean isFraud(Row row) {
    return row.getBoolean(isFraud);
  }

  int kafkaPartition(Row row) {
    return row.getInt(kafkaPartition);
  }

  long kafkaOffset(Row row) {
    return row.getLong(kafkaOffset);
  }

  /** Output values rejecting the record: a reason code and message, and no event_time (as parse does). */
  void reject(Object[] values, String code, String message) {
    values[reasonCode] = code;
    values[reasonMessage] = message;
    values[eventTime] = null;
  }

  /** The row's values followed by `extra` more slots (left null), for an operator's output row. */
  Object[] widened(Row row, int extra) {
    Object[] values = new Object[width + extra];
    for (int i = 0; i < width; i++) {
      values[i] = row.get(i);
    }
    return values;
  }

  static long micros(Object time) {
    if (time instanceof Timestamp) {
      Timestamp timestamp = (Timestamp) time;
      return Math.floorDiv(timestamp.getTime(), 1000L) * 1_000_000L + timestamp.getNanos() / 1000;
    }
    Instant instant = (Instant) time;
    return instant.getEpochSecond() * 1_000_000L + instant.getNano() / 1000;
  }

  private static int indexOrMissing(StructType schema, String name) {
    for (int i = 0; i < schema.fields().length; i++) {
      if (schema.fields()[i].name().equals(name)) {
        return i;
      }
    }
    return -1;
  }
}
