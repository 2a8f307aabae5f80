package io.github.payscore.velocity;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.streaming.ExpiredTimerInfo;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.StatefulProcessor;
import org.apache.spark.sql.streaming.TTLConfig;
import org.apache.spark.sql.streaming.TimeMode;
import org.apache.spark.sql.streaming.TimerValues;
import org.apache.spark.sql.streaming.ValueState;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Per terminal: its payment count and fraud share in (t - delay - N days, t - delay] for each
 * payment at t, from the terminal's payments and the fraud labels of payment-labels. A label
 * counts once it has arrived (in this micro-batch or an earlier one) and its labeled_at is not
 * after t. A transaction's latest label message wins (labels are keyed by transaction_id, so
 * its labels share a partition and arrive in order): a fraud label followed by a not-fraud one
 * (a correction) leaves no fraud label, as the current label in MySQL says. Labels and every
 * other record pass through unchanged; duplicates of a payment (found by the customer
 * operator) are neither counted nor given features.
 */
public final class TerminalRiskProcessor extends StatefulProcessor<String, Row, Row> {
  private static final long serialVersionUID = 1L;
  private static final int LABEL_TIME = 0;
  private static final int LABELED_AT = 1;
  private static final int LABEL_ID_HIGH = 2;
  private static final int LABEL_ID_LOW = 3;
  private static final int LABEL_WIDTH = 4;
  private static final byte LABELS_FORMAT = 1;

  private final VelocitySettings settings;
  private final RecordColumns columns;
  private final int added;
  private boolean eventTime;
  private transient EventLog log;
  private transient ValueState<byte[]> labelState;
  private transient boolean labelsExpired;

  TerminalRiskProcessor(VelocitySettings settings, StructType input) {
    this.settings = settings;
    this.columns = new RecordColumns(input);
    this.added = 2 * settings.terminalWindowsUs.length;
  }

  /** The input's columns, then the terminal features. */
  static StructType outputSchema(StructType input, VelocitySettings settings) {
    StructType out = input;
    for (int w = 0; w < settings.terminalWindowsUs.length; w++) {
      out = out.add(settings.terminalCountNames[w], DataTypes.LongType, true)
          .add(settings.terminalRiskNames[w], DataTypes.DoubleType, true);
    }
    return out;
  }

  @Override
  public void init(OutputMode outputMode, TimeMode timeMode) {
    eventTime = timeMode == TimeMode.EventTime();
    log = new EventLog("terminal_payments", 1, -1, settings.blockEvents, null);
    log.init(getHandle());
    labelState = getHandle().getValueState("terminal_fraud_labels", Encoders.BINARY(), TTLConfig.NONE());
  }

  @Override
  public Iterator<Row> handleInputRows(String key, Iterator<Row> rows, TimerValues timerValues) {
    List<Row> out = new ArrayList<>();
    List<Row> payments = new ArrayList<>();
    List<Row> labels = new ArrayList<>();
    while (rows.hasNext()) {
      Row row = rows.next();
      if (!key.isEmpty() && columns.isFreshPayment(row)) {
        payments.add(row);
      } else {
        if (!key.isEmpty() && columns.isLabel(row)) {
          labels.add(row);
        }
        out.add(RowFactory.create(columns.widened(row, added)));
      }
    }
    if (!payments.isEmpty() || !labels.isEmpty()) {
      scorePayments(payments, labels, Watermarks.micros(timerValues, eventTime), out);
    }
    return CollectionConverters.asScala(out.iterator());
  }

  @Override
  public Iterator<Row> handleExpiredTimer(String key, TimerValues timerValues, ExpiredTimerInfo expired) {
    long horizon = Watermarks.horizon(Watermarks.micros(timerValues, eventTime), settings.terminalSpanUs());
    log.load(horizon);
    long[] labels = loadLabels(horizon);
    log.setArmedTimerMs(0);
    armTimer(labels);
    log.compact();
    saveLabels(labels, true);
    log.save(labels.length > 0);
    return CollectionConverters.asScala(new ArrayList<Row>().iterator());
  }

  private void scorePayments(List<Row> payments, List<Row> labelRows, long watermark, List<Row> out) {
    long horizon = Watermarks.horizon(watermark, settings.terminalSpanUs());
    log.load(horizon);
    long[] stored = loadLabels(horizon);
    long[] labels = withLabels(stored, labelRows);
    long[] times = new long[payments.size()];
    for (int p = 0; p < payments.size(); p++) {
      times[p] = columns.eventMicros(payments.get(p));
    }
    long[] batchTimes = times.clone();
    Arrays.sort(batchTimes);
    long[] window = new long[2];
    for (int p = 0; p < payments.size(); p++) {
      Object[] values = columns.widened(payments.get(p), added);
      fillFeatures(values, columns.width, times[p], batchTimes, labels, window);
      out.add(RowFactory.create(values));
    }
    log.append(times, times.length);
    armTimer(labels);
    saveLabels(labels, labelsExpired || !labelRows.isEmpty());
    log.save(labels.length > 0);
  }

  private void fillFeatures(Object[] values, int at, long t, long[] batchTimes, long[] labels, long[] window) {
    long upper = t - settings.labelDelayUs;
    for (int w = 0; w < settings.terminalWindowsUs.length; w++) {
      long lower = upper - settings.terminalWindowsUs[w];
      window[0] = 0;
      window[1] = 0;
      log.window(lower, upper, window);
      long count = window[0] + Watermarks.upperBound(batchTimes, upper) - Watermarks.upperBound(batchTimes, lower);
      long frauds = knownFrauds(labels, lower, upper, t);
      values[at++] = count;
      values[at++] = count > 0 ? frauds / (double) count : 0.0;
    }
  }

  /** Fraud labels with payment time in (lower, upper] already known at t (labeled_at <= t). */
  private static long knownFrauds(long[] labels, long lower, long upper, long t) {
    int count = labels.length / LABEL_WIDTH;
    int lo = labelUpperBound(labels, count, lower);
    int hi = labelUpperBound(labels, count, upper);
    long known = 0;
    for (int i = lo; i < hi; i++) {
      if (labels[i * LABEL_WIDTH + LABELED_AT] <= t) {
        known++;
      }
    }
    return known;
  }

  /**
   * The stored fraud labels with this batch's labels applied in the order they arrived: a fraud
   * label sets its transaction's entry (time, labeled_at), a not-fraud label removes it.
   */
  private long[] withLabels(long[] stored, List<Row> labelRows) {
    if (labelRows.isEmpty()) {
      return stored;
    }
    labelRows.sort(Comparator.comparingInt(columns::kafkaPartition).thenComparingLong(columns::kafkaOffset));
    Map<String, long[]> byId = new LinkedHashMap<>();
    for (int i = 0; i < stored.length; i += LABEL_WIDTH) {
      byId.put(stored[i + LABEL_ID_HIGH] + ":" + stored[i + LABEL_ID_LOW], Arrays.copyOfRange(stored, i, i + LABEL_WIDTH));
    }
    long[] id = new long[2];
    for (Row row : labelRows) {
      Digests.id128(columns.transactionId(row), id);
      String key = id[0] + ":" + id[1];
      if (columns.isFraud(row)) {
        byId.put(key, new long[] {columns.eventMicros(row), columns.labeledAtMicros(row), id[0], id[1]});
      } else {
        byId.remove(key);
      }
    }
    long[] merged = new long[byId.size() * LABEL_WIDTH];
    int n = 0;
    for (long[] label : byId.values()) {
      System.arraycopy(label, 0, merged, n++ * LABEL_WIDTH, LABEL_WIDTH);
    }
    return sortedLabels(merged, n);
  }

  private void armTimer(long[] labels) {
    boolean holds = !log.isEmpty() || labels.length > 0;
    if (eventTime && holds && log.armedTimerMs() == 0) {
      long latest = log.latestTime();
      for (int i = 0; i < labels.length; i += LABEL_WIDTH) {
        latest = Math.max(latest, labels[i + LABEL_TIME]);
      }
      long expiry = Watermarks.expiryMs(latest, settings.terminalSpanUs());
      getHandle().registerTimer(expiry);
      log.setArmedTimerMs(expiry);
    }
  }

  private long[] loadLabels(long horizon) {
    labelsExpired = false;
    byte[] bytes = labelState.get();
    if (bytes == null) {
      return new long[0];
    }
    ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    byte format = buffer.get();
    if (format != LABELS_FORMAT) {
      throw new IllegalStateException("terminal labels: state format " + format + " is not " + LABELS_FORMAT);
    }
    long[] labels = new long[(bytes.length - 1) / 8];
    buffer.asLongBuffer().get(labels);
    if (horizon == EventLog.NO_TIME) {
      return labels;
    }
    int count = labels.length / LABEL_WIDTH;
    int first = labelUpperBound(labels, count, horizon - 1);
    labelsExpired = first > 0;
    return Arrays.copyOfRange(labels, first * LABEL_WIDTH, labels.length);
  }

  private void saveLabels(long[] labels, boolean changed) {
    if (labels.length == 0) {
      labelState.clear();
    } else if (changed || !labelState.exists()) {
      ByteBuffer buffer = ByteBuffer.allocate(1 + labels.length * 8).order(ByteOrder.LITTLE_ENDIAN);
      buffer.put(LABELS_FORMAT);
      buffer.asLongBuffer().put(labels);
      labelState.update(buffer.array());
    }
  }

  private static int labelUpperBound(long[] labels, int count, long bound) {
    int lo = 0;
    int hi = count;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (labels[mid * LABEL_WIDTH + LABEL_TIME] <= bound) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  private static long[] sortedLabels(long[] labels, int count) {
    Integer[] order = new Integer[count];
    for (int i = 0; i < count; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Long.compare(labels[a * LABEL_WIDTH], labels[b * LABEL_WIDTH]));
    long[] out = new long[labels.length];
    for (int i = 0; i < count; i++) {
      System.arraycopy(labels, order[i] * LABEL_WIDTH, out, i * LABEL_WIDTH, LABEL_WIDTH);
    }
    return out;
  }
}
