package io.github.payscore.velocity;

import org.apache.spark.sql.streaming.TimerValues;

/** The event-time watermark as the operators use it, in microseconds, and what follows from it. */
final class Watermarks {
  private Watermarks() {
  }

  /**
   * The watermark the micro-batch runs under (Spark's: the latest event time of the batches
   * before it minus the allowed lateness), or NO_TIME before the first event and in batch
   * queries, where every event counts.
   */
  static long micros(TimerValues timerValues, boolean eventTime) {
    if (!eventTime) {
      return EventLog.NO_TIME;
    }
    long millis = timerValues.getCurrentWatermarkInMs();
    return millis > 0 ? millis * 1000L : EventLog.NO_TIME;
  }

  /** Events older than this are out of every window of an on-time payment. */
  static long horizon(long watermarkMicros, long spanMicros) {
    return watermarkMicros == EventLog.NO_TIME ? EventLog.NO_TIME : watermarkMicros - spanMicros;
  }

  /** The timer (ms) after which a key whose latest event is at `latestMicros` holds nothing needed. */
  static long expiryMs(long latestMicros, long spanMicros) {
    return Math.floorDiv(latestMicros + spanMicros, 1000L) + 1;
  }

  /** Number of sorted values <= bound. */
  static int upperBound(long[] sorted, long bound) {
    int lo = 0;
    int hi = sorted.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (sorted[mid] <= bound) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }
}
