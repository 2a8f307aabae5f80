package io.github.payscore.velocity;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.streaming.ExpiredTimerInfo;
import org.apache.spark.sql.streaming.MapState;
import org.apache.spark.sql.streaming.OutputMode;
import org.apache.spark.sql.streaming.StatefulProcessor;
import org.apache.spark.sql.streaming.TTLConfig;
import org.apache.spark.sql.streaming.TimeMode;
import org.apache.spark.sql.streaming.TimerValues;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Per customer: velocity features of each payment, its late flag, and whether it repeats a
 * transaction id already seen (RESENT: same content; CONFLICT: other content).
 *
 * <p>A payment at time t counts every event of its customer with time in (t - window, t] that
 * arrived in its micro-batch or an earlier one (disorder inside a batch resolved by time);
 * rows already emitted are never revised. Events older than the watermark minus the longest
 * window are ignored: an on-time payment never needs them. A payment behind the watermark is
 * still computed, with what the state holds, and flagged late: it is never dropped.
 *
 * <p>A fraud label passes on to the terminal operator only when it names a payment this
 * customer's state holds (same transaction id and event time, scored in its micro-batch or an
 * earlier one); otherwise it is rejected as LABEL_UNKNOWN_TRANSACTION and kept with that reason,
 * so a label for a payment the job never scored cannot move terminal risk. Payments are kept
 * as long as a label can still move terminal risk. Rejected messages pass through unchanged.
 */
public final class CustomerVelocityProcessor extends StatefulProcessor<String, Row, Row>
    implements EventLog.SealedEvents {
  private static final long serialVersionUID = 1L;
  static final String RESENT = "RESENT";
  static final String CONFLICT = "CONFLICT";
  static final String LABEL_UNKNOWN_TRANSACTION = "LABEL_UNKNOWN_TRANSACTION";
  private static final int TIME = 0;
  private static final int CENTS = 1;
  private static final int ID_HIGH = 2;
  private static final int ID_LOW = 3;
  private static final int CONTENT = 4;
  private static final int WIDTH = 5;

  private final VelocitySettings settings;
  private final RecordColumns columns;
  private final int added;
  private boolean eventTime;
  private transient EventLog log;
  private transient MapState<Long, byte[]> sealedIds;

  CustomerVelocityProcessor(VelocitySettings settings, StructType input) {
    this.settings = settings;
    this.columns = new RecordColumns(input);
    this.added = 2 * settings.customerWindowsUs.length + 2 * settings.burstWindowsUs.length + 2;
  }

  /** The input's columns, then the customer features, is_late and duplicate_of. */
  static StructType outputSchema(StructType input, VelocitySettings settings) {
    StructType out = input;
    for (int w = 0; w < settings.customerWindowsUs.length; w++) {
      out = out.add(settings.customerCountNames[w], DataTypes.LongType, true)
          .add(settings.customerMeanNames[w], DataTypes.DoubleType, true);
    }
    for (int w = 0; w < settings.burstWindowsUs.length; w++) {
      out = out.add(settings.burstCountNames[w], DataTypes.LongType, true)
          .add(settings.burstSumNames[w], DataTypes.DoubleType, true);
    }
    return out.add("is_late", DataTypes.IntegerType, true).add("duplicate_of", DataTypes.StringType, true);
  }

  @Override
  public void init(OutputMode outputMode, TimeMode timeMode) {
    eventTime = timeMode == TimeMode.EventTime();
    log = new EventLog("customer_events", WIDTH, CENTS, settings.blockEvents, this);
    log.init(getHandle());
    sealedIds = getHandle().getMapState("customer_sealed_ids", Encoders.LONG(), Encoders.BINARY(), TTLConfig.NONE());
  }

  @Override
  public Iterator<Row> handleInputRows(String key, Iterator<Row> rows, TimerValues timerValues) {
    List<Row> out = new ArrayList<>();
    List<Row> payments = new ArrayList<>();
    List<Row> labels = new ArrayList<>();
    while (rows.hasNext()) {
      Row row = rows.next();
      if (!key.isEmpty() && columns.isPayment(row)) {
        payments.add(row);
      } else if (!key.isEmpty() && columns.isLabel(row)) {
        labels.add(row);
      } else {
        out.add(RowFactory.create(columns.widened(row, added)));
      }
    }
    if (!payments.isEmpty() || !labels.isEmpty()) {
      long watermark = Watermarks.micros(timerValues, eventTime);
      log.load(Watermarks.horizon(watermark, settings.customerRetentionUs()));
      Map<Long, long[]> seen = headIds();
      scorePayments(payments, watermark, seen, out);
      checkLabels(labels, seen, out);
      armTimer();
      log.save();
    }
    return CollectionConverters.asScala(out.iterator());
  }

  @Override
  public Iterator<Row> handleExpiredTimer(String key, TimerValues timerValues, ExpiredTimerInfo expired) {
    log.load(Watermarks.horizon(Watermarks.micros(timerValues, eventTime), settings.customerRetentionUs()));
    log.setArmedTimerMs(0);
    armTimer();
    log.compact();
    log.save();
    return CollectionConverters.asScala(new ArrayList<Row>().iterator());
  }

  /** Features, late flag and duplicate check of the key's payments; they join the log (not yet saved). */
  private void scorePayments(List<Row> payments, long watermark, Map<Long, long[]> seen, List<Row> out) {
    if (payments.isEmpty()) {
      return;
    }
    long horizon = Watermarks.horizon(watermark, settings.customerRetentionUs());
    payments.sort(Comparator.comparingInt(columns::kafkaPartition).thenComparingLong(columns::kafkaOffset));
    long[] events = new long[payments.size() * WIDTH];
    String[] duplicateOf = new String[payments.size()];
    int fresh = classify(payments, horizon, seen, events, duplicateOf);
    BatchEvents batch = new BatchEvents(log.sortedByTime(Arrays.copyOf(events, fresh * WIDTH), fresh), fresh);
    long[] window = new long[2];
    int freshIndex = 0;
    for (int p = 0; p < payments.size(); p++) {
      Object[] values = columns.widened(payments.get(p), added);
      if (duplicateOf[p] != null) {
        values[values.length - 1] = duplicateOf[p];
      } else {
        long t = events[freshIndex++ * WIDTH + TIME];
        fillFeatures(values, columns.width, t, batch, window);
        values[values.length - 2] = watermark != EventLog.NO_TIME && t < watermark ? 1 : 0;
      }
      out.add(RowFactory.create(values));
    }
    log.append(events, fresh);
  }

  /** Pass on the labels of payments the log holds (this batch's included, in seen); reject the others. */
  private void checkLabels(List<Row> labels, Map<Long, long[]> seen, List<Row> out) {
    if (labels.isEmpty()) {
      return;
    }
    long[] id = new long[2];
    for (Row label : labels) {
      Object[] values = columns.widened(label, added);
      Digests.id128(columns.transactionId(label), id);
      long[] payment = lookUp(seen, id[0], id[1], EventLog.NO_TIME);
      if (payment == null || payment[2] != columns.eventMicros(label)) {
        columns.reject(values, LABEL_UNKNOWN_TRANSACTION, "label for transaction_id " + columns.transactionId(label)
            + (payment == null ? ": no payment with this id was scored for customer " + columns.customerId(label)
                + " (or it is older than the history kept)" : ": its event_time differs from the scored payment's"));
      }
      out.add(RowFactory.create(values));
    }
  }

  /** Fill `events` with the payments that are not duplicates (in order; they join `seen`); mark the others. */
  private int classify(List<Row> payments, long horizon, Map<Long, long[]> seen, long[] events,
      String[] duplicateOf) {
    long[] id = new long[2];
    int fresh = 0;
    for (int p = 0; p < payments.size(); p++) {
      Row row = payments.get(p);
      Digests.id128(columns.transactionId(row), id);
      long cents = columns.baseCents(row);
      long time = columns.eventMicros(row);
      long content = Digests.content(columns.terminalId(row), columns.amountAsSent(row), columns.currency(row), time);
      long[] original = lookUp(seen, id[0], id[1], horizon);
      if (original != null) {
        duplicateOf[p] = original[1] == content ? RESENT : CONFLICT;
        continue;
      }
      int at = fresh++ * WIDTH;
      events[at + TIME] = time;
      events[at + CENTS] = cents;
      events[at + ID_HIGH] = id[0];
      events[at + ID_LOW] = id[1];
      events[at + CONTENT] = content;
      remember(seen, id[0], id[1], content, time);
    }
    return fresh;
  }

  /** Ids of the head's events: high half -> packed (low, content, time) triples. */
  private Map<Long, long[]> headIds() {
    Map<Long, long[]> seen = new HashMap<>();
    long[] head = log.headEvents();
    for (int i = 0; i < log.headCount(); i++) {
      int at = i * WIDTH;
      remember(seen, head[at + ID_HIGH], head[at + ID_LOW], head[at + CONTENT], head[at + TIME]);
    }
    return seen;
  }

  /** (low, content, time) of an id seen in the head, the batch, or (hot keys) a sealed block. */
  private long[] lookUp(Map<Long, long[]> seen, long high, long low, long horizon) {
    long[] found = match(seen.get(high), low, horizon);
    if (found == null && log.blockCount() > 0) {
      found = match(unpack(sealedIds.getValue(high)), low, horizon);
    }
    return found;
  }

  private static long[] match(long[] triples, long low, long horizon) {
    if (triples == null) {
      return null;
    }
    for (int i = 0; i < triples.length; i += 3) {
      if (triples[i] == low && (horizon == EventLog.NO_TIME || triples[i + 2] >= horizon)) {
        return new long[] {triples[i], triples[i + 1], triples[i + 2]};
      }
    }
    return null;
  }

  private static void remember(Map<Long, long[]> seen, long high, long low, long content, long time) {
    long[] triples = seen.get(high);
    long[] grown = triples == null ? new long[3] : Arrays.copyOf(triples, triples.length + 3);
    grown[grown.length - 3] = low;
    grown[grown.length - 2] = content;
    grown[grown.length - 1] = time;
    seen.put(high, grown);
  }

  private void fillFeatures(Object[] values, int at, long t, BatchEvents batch, long[] window) {
    for (int w = 0; w < settings.customerWindowsUs.length; w++) {
      countWindow(t - settings.customerWindowsUs[w], t, batch, window);
      values[at++] = window[0];
      values[at++] = window[1] / (window[0] * 100.0);
    }
    for (int w = 0; w < settings.burstWindowsUs.length; w++) {
      countWindow(t - settings.burstWindowsUs[w], t, batch, window);
      values[at++] = window[0];
      values[at++] = window[1] / 100.0;
    }
  }

  /** Events in (low, high]: the state's (from the horizon on) and the batch's own. */
  private void countWindow(long low, long high, BatchEvents batch, long[] window) {
    window[0] = 0;
    window[1] = 0;
    log.window(low, high, window);
    batch.window(low, high, window);
  }

  private void armTimer() {
    if (eventTime && !log.isEmpty() && log.armedTimerMs() == 0) {
      long expiry = Watermarks.expiryMs(log.latestTime(), settings.customerRetentionUs());
      getHandle().registerTimer(expiry);
      log.setArmedTimerMs(expiry);
    }
  }

  @Override
  public void sealed(long[] events, int from, int to) {
    for (int i = from; i < to; i++) {
      int at = i * WIDTH;
      long high = events[at + ID_HIGH];
      long[] triples = unpack(sealedIds.getValue(high));
      long[] grown = triples == null ? new long[3] : Arrays.copyOf(triples, triples.length + 3);
      grown[grown.length - 3] = events[at + ID_LOW];
      grown[grown.length - 2] = events[at + CONTENT];
      grown[grown.length - 1] = events[at + TIME];
      sealedIds.updateValue(high, pack(grown));
    }
  }

  @Override
  public void dropped(long[] events, int from, int to) {
    for (int i = from; i < to; i++) {
      int at = i * WIDTH;
      long high = events[at + ID_HIGH];
      long[] triples = unpack(sealedIds.getValue(high));
      if (triples == null) {
        continue;
      }
      long[] kept = new long[triples.length];
      int n = 0;
      for (int j = 0; j < triples.length; j += 3) {
        if (triples[j] != events[at + ID_LOW] || triples[j + 2] != events[at + TIME]) {
          System.arraycopy(triples, j, kept, n, 3);
          n += 3;
        }
      }
      if (n == 0) {
        sealedIds.removeKey(high);
      } else {
        sealedIds.updateValue(high, pack(Arrays.copyOf(kept, n)));
      }
    }
  }

  private static byte[] pack(long[] values) {
    ByteBuffer buffer = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    buffer.asLongBuffer().put(values);
    return buffer.array();
  }

  private static long[] unpack(byte[] bytes) {
    if (bytes == null) {
      return null;
    }
    long[] values = new long[bytes.length / 8];
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(values);
    return values;
  }

  /** The batch's own fresh events, sorted by time, with cumulative cents. */
  private static final class BatchEvents {
    private final long[] times;
    private final long[] prefixCents;

    BatchEvents(long[] events, int count) {
      times = new long[count];
      prefixCents = new long[count + 1];
      for (int i = 0; i < count; i++) {
        times[i] = events[i * WIDTH + TIME];
        prefixCents[i + 1] = prefixCents[i] + events[i * WIDTH + CENTS];
      }
    }

    void window(long low, long high, long[] out) {
      int lo = Watermarks.upperBound(times, low);
      int hi = Watermarks.upperBound(times, high);
      if (hi > lo) {
        out[0] += hi - lo;
        out[1] += prefixCents[hi] - prefixCents[lo];
      }
    }
  }
}
