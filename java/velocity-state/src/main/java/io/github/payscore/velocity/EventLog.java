package io.github.payscore.velocity;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.streaming.ListState;
import org.apache.spark.sql.streaming.MapState;
import org.apache.spark.sql.streaming.StatefulProcessorHandle;
import org.apache.spark.sql.streaming.TTLConfig;
import org.apache.spark.sql.streaming.ValueState;

/**
 * One key's events in Spark's state store, each a fixed number of longs, the first its time
 * in microseconds (optionally one more column summed by window queries, e.g. cents).
 *
 * <p>An ordinary key keeps all its events in the head: a list of chunks, one appended per
 * micro-batch that adds events to the key, so a batch writes (and the changelog checkpoint
 * stores) only its own events, not the key's whole history again. The head is rewritten as one
 * chunk only when it holds {@code MAX_CHUNKS} chunks, when it seals a block, when its events
 * have expired (the key's timer) or when its header changes. The header (armed timer, block
 * count) leads the first chunk, so a batch reads one value per key.
 * A hot key (a terminal with a million payments a day) would
 * make that value huge, so once the head holds twice {@code blockEvents} events its oldest
 * {@code blockEvents} are sealed into an immutable block (a map entry), and an index of the
 * blocks (time range, count, sum) is kept apart. A window query then reads the index and only
 * the blocks that straddle a window's edge; a batch writes the head and, now and then, a new
 * block: per-batch work and memory stay bounded whatever the key's history.
 *
 * <p>Events older than the horizon (the watermark minus the longest span the features look
 * back) are out of every on-time payment's windows: queries ignore them, they are dropped
 * from the head when it is next written, and a block is deleted once all its events are.
 */
final class EventLog implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final byte FORMAT = 2;
  private static final byte HEADER_CHUNK = 1; // header, then events
  private static final byte EVENTS_CHUNK = 2; // events only
  private static final int HEADER_BYTES = 1 + 1 + 8 + 8 + 4;
  static final int MAX_CHUNKS = 8;
  private static final int INDEX_WIDTH = 5; // block id, earliest time, latest time, events, sum
  static final long NO_TIME = Long.MIN_VALUE;

  /** Told about every event that is sealed into a block or leaves one (id look-ups of hot keys). */
  interface SealedEvents extends Serializable {
    void sealed(long[] events, int from, int to);

    void dropped(long[] events, int from, int to);
  }

  private final String name;
  private final int width;
  private final int sumColumn;
  private final int blockEvents;
  private final SealedEvents sealedEvents;
  private transient ListState<byte[]> headState;
  private transient ValueState<byte[]> indexState;
  private transient MapState<Long, byte[]> blockState;

  // The current key's state, between load() and save().
  private long horizon;
  private long armedTimerMs;
  private long nextBlockId;
  private long[] head = new long[0];
  private int headCount;
  private long[] headPrefixSums = new long[1];
  private long[] index = new long[0];
  private int blockCount;
  private int chunkCount;
  private long[] pendingChunk = new long[0];
  private int pendingCount;
  private boolean rewriteHead;
  private boolean expiredInHead;
  private boolean metaChanged;
  private boolean indexChanged;
  private final Map<Long, long[]> loadedBlocks = new HashMap<>();
  // The blocks ordered by latest time, for counting events at or before a time (see atOrBefore).
  private int[] byLatest = new int[0];
  private long[] latestSorted = new long[0];
  private long[] countPrefix = new long[1];
  private long[] sumPrefix = new long[1];
  private long[] minEarliestFrom = new long[0];

  EventLog(String name, int width, int sumColumn, int blockEvents, SealedEvents sealedEvents) {
    this.name = name;
    this.width = width;
    this.sumColumn = sumColumn;
    this.blockEvents = blockEvents;
    this.sealedEvents = sealedEvents;
  }

  void init(StatefulProcessorHandle handle) {
    headState = handle.getListState(name + "_chunks", Encoders.BINARY(), TTLConfig.NONE());
    indexState = handle.getValueState(name + "_blocks", Encoders.BINARY(), TTLConfig.NONE());
    blockState = handle.getMapState(name + "_block", Encoders.LONG(), Encoders.BINARY(), TTLConfig.NONE());
  }

  /** Read the current key's state; events older than horizon are ignored from now on. */
  void load(long horizon) {
    this.horizon = horizon;
    loadedBlocks.clear();
    pendingCount = 0;
    rewriteHead = false;
    metaChanged = false;
    indexChanged = false;
    readChunks(headState.get());
    if (blockCount > 0) {
      readIndex(indexState.get());
    }
    expiredInHead = dropHeadBefore(horizon);
    computePrefixSums();
    orderBlocks();
  }

  boolean isEmpty() {
    return headCount == 0 && blockCount == 0;
  }

  int blockCount() {
    return blockCount;
  }

  long armedTimerMs() {
    return armedTimerMs;
  }

  void setArmedTimerMs(long timerMs) {
    if (timerMs != armedTimerMs) {
      armedTimerMs = timerMs;
      metaChanged = true;
    }
  }

  /** The head's events (those not sealed), sorted by time; valid until the next change. */
  long[] headEvents() {
    return head;
  }

  int headCount() {
    return headCount;
  }

  /** The latest event time held, or NO_TIME. */
  long latestTime() {
    long latest = headCount > 0 ? head[(headCount - 1) * width] : NO_TIME;
    for (int b = 0; b < blockCount; b++) {
      latest = Math.max(latest, index[b * INDEX_WIDTH + 2]);
    }
    return latest;
  }

  /**
   * Count and sum (of the sum column) of the held events with time in (low, high], not counting
   * events older than the horizon: out[0] += count, out[1] += sum.
   */
  void window(long low, long high, long[] out) {
    long from = horizon == NO_TIME ? low : Math.max(low, horizon - 1);
    if (from >= high) {
      return;
    }
    int lo = upperBound(head, headCount, from);
    int hi = upperBound(head, headCount, high);
    if (hi > lo) {
      out[0] += hi - lo;
      out[1] += headPrefixSums[hi] - headPrefixSums[lo];
    }
    if (blockCount > 0) {
      long[] upTo = new long[2];
      long[] before = new long[2];
      atOrBefore(high, upTo);
      atOrBefore(from, before);
      out[0] += upTo[0] - before[0];
      out[1] += upTo[1] - before[1];
    }
  }

  /**
   * Count and sum of the blocks' events with time <= x: every block whose latest time is <= x
   * counts whole (a prefix of the blocks ordered by latest time), and only the blocks that
   * straddle x are read. Blocks are sealed in time order, so usually one straddles; a block
   * holding a late event may overlap others, and is found by the minimum earliest time of the
   * blocks after each position.
   */
  private void atOrBefore(long x, long[] out) {
    int whole = upperBound(latestSorted, blockCount, x, 1);
    out[0] = countPrefix[whole];
    out[1] = sumPrefix[whole];
    for (int j = whole; j < blockCount && minEarliestFrom[j] <= x; j++) {
      int at = byLatest[j] * INDEX_WIDTH;
      if (index[at + 1] > x) {
        continue;
      }
      long[] block = block(index[at]);
      int upTo = upperBound(block, block.length / width, x);
      out[0] += upTo;
      if (sumColumn >= 0) {
        for (int i = 0; i < upTo; i++) {
          out[1] += block[i * width + sumColumn];
        }
      }
    }
  }

  private void orderBlocks() {
    Integer[] order = new Integer[blockCount];
    for (int b = 0; b < blockCount; b++) {
      order[b] = b;
    }
    Arrays.sort(order, (a, b) -> Long.compare(index[a * INDEX_WIDTH + 2], index[b * INDEX_WIDTH + 2]));
    byLatest = new int[blockCount];
    latestSorted = new long[blockCount];
    countPrefix = new long[blockCount + 1];
    sumPrefix = new long[blockCount + 1];
    minEarliestFrom = new long[blockCount];
    for (int j = 0; j < blockCount; j++) {
      int at = order[j] * INDEX_WIDTH;
      byLatest[j] = order[j];
      latestSorted[j] = index[at + 2];
      countPrefix[j + 1] = countPrefix[j] + index[at + 3];
      sumPrefix[j + 1] = sumPrefix[j] + index[at + 4];
    }
    long least = Long.MAX_VALUE;
    for (int j = blockCount - 1; j >= 0; j--) {
      least = Math.min(least, index[byLatest[j] * INDEX_WIDTH + 1]);
      minEarliestFrom[j] = least;
    }
  }

  /** Add events (any order); they are part of the state written by save(). */
  void append(long[] events, int count) {
    if (count == 0) {
      return;
    }
    long[] added = sortedByTime(Arrays.copyOf(events, count * width), count);
    long[] merged = new long[(headCount + count) * width];
    int i = 0;
    int j = 0;
    int k = 0;
    while (i < headCount || j < count) {
      boolean takeHead = j >= count || (i < headCount && head[i * width] <= added[j * width]);
      if (takeHead) {
        System.arraycopy(head, i++ * width, merged, k++ * width, width);
      } else {
        System.arraycopy(added, j++ * width, merged, k++ * width, width);
      }
    }
    head = merged;
    headCount += count;
    addToPendingChunk(added, count);
    sealOldest();
    computePrefixSums();
  }

  /** Have save() rewrite the head without its expired events (the key's timer calls it). */
  void compact() {
    rewriteHead |= expiredInHead;
  }

  /** Write the key's state back (nothing when nothing changed); a key with no events is cleared. */
  void save() {
    save(false);
  }

  /**
   * As save(), but with keepHead a key with no events keeps its head (its armed timer) because
   * the operator holds other state for it.
   */
  void save(boolean keepHead) {
    dropExpiredBlocks();
    if (isEmpty() && !keepHead) {
      clear();
      return;
    }
    if (indexChanged && blockCount == 0) {
      indexState.clear();
    } else if (indexChanged) {
      indexState.update(writeIndex());
    }
    saveHead();
  }

  /** Append this batch's chunk, or rewrite the head (header and events) as one chunk when due. */
  private void saveHead() {
    boolean due = pendingCount > 0 && (chunkCount == 0 || chunkCount + 1 > MAX_CHUNKS);
    if (rewriteHead || metaChanged || due) {
      headState.put(new byte[][] {headerChunk()});
      chunkCount = 1;
    } else if (pendingCount > 0) {
      headState.appendValue(chunk(EVENTS_CHUNK, 0, pendingChunk, pendingCount));
      chunkCount++;
    }
    pendingCount = 0;
    rewriteHead = false;
    metaChanged = false;
  }

  private byte[] headerChunk() {
    byte[] bytes = chunk(HEADER_CHUNK, HEADER_BYTES - 1, head, headCount);
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).position(1)
        .put(FORMAT).putLong(armedTimerMs).putLong(nextBlockId).putInt(blockCount);
    return bytes;
  }

  /** [kind][`header` bytes left for the caller][count events]. */
  private byte[] chunk(byte kind, int header, long[] events, int count) {
    ByteBuffer buffer = ByteBuffer.allocate(1 + header + count * width * 8).order(ByteOrder.LITTLE_ENDIAN);
    buffer.put(kind).position(1 + header);
    buffer.asLongBuffer().put(events, 0, count * width);
    return buffer.array();
  }

  private void addToPendingChunk(long[] sortedEvents, int count) {
    if ((pendingCount + count) * width > pendingChunk.length) {
      pendingChunk = Arrays.copyOf(pendingChunk, Math.max((pendingCount + count) * width, pendingChunk.length * 2));
    }
    System.arraycopy(sortedEvents, 0, pendingChunk, pendingCount * width, count * width);
    pendingCount += count;
  }

  void clear() {
    for (int b = 0; b < blockCount; b++) {
      long id = index[b * INDEX_WIDTH];
      if (sealedEvents != null) {
        long[] block = block(id);
        sealedEvents.dropped(block, 0, block.length / width);
      }
      blockState.removeKey(id);
    }
    headState.clear();
    if (blockCount > 0) {
      indexState.clear();
    }
    headCount = 0;
    chunkCount = 0;
    pendingCount = 0;
    blockCount = 0;
    armedTimerMs = 0;
  }

  private void sealOldest() {
    while (headCount >= 2 * blockEvents) {
      long[] block = Arrays.copyOf(head, blockEvents * width);
      long id = nextBlockId++;
      blockState.updateValue(id, toBytes(block, block.length));
      if (sealedEvents != null) {
        sealedEvents.sealed(block, 0, blockEvents);
      }
      long sum = 0;
      if (sumColumn >= 0) {
        for (int i = 0; i < blockEvents; i++) {
          sum += block[i * width + sumColumn];
        }
      }
      addIndexEntry(id, block[0], block[(blockEvents - 1) * width], blockEvents, sum);
      loadedBlocks.put(id, block);
      head = Arrays.copyOfRange(head, blockEvents * width, headCount * width);
      headCount -= blockEvents;
      rewriteHead = true;
      metaChanged = true;
      orderBlocks();
    }
  }

  private void dropExpiredBlocks() {
    if (horizon == NO_TIME) {
      return;
    }
    int kept = 0;
    for (int b = 0; b < blockCount; b++) {
      int at = b * INDEX_WIDTH;
      if (index[at + 2] < horizon) {
        long id = index[at];
        if (sealedEvents != null) {
          long[] block = block(id);
          sealedEvents.dropped(block, 0, block.length / width);
        }
        blockState.removeKey(id);
        indexChanged = true;
        metaChanged = true;
      } else {
        System.arraycopy(index, at, index, kept++ * INDEX_WIDTH, INDEX_WIDTH);
      }
    }
    blockCount = kept;
  }

  private void addIndexEntry(long id, long earliest, long latest, long count, long sum) {
    if ((blockCount + 1) * INDEX_WIDTH > index.length) {
      index = Arrays.copyOf(index, Math.max(4, blockCount * 2 + 2) * INDEX_WIDTH);
    }
    int at = blockCount * INDEX_WIDTH;
    index[at] = id;
    index[at + 1] = earliest;
    index[at + 2] = latest;
    index[at + 3] = count;
    index[at + 4] = sum;
    blockCount++;
    indexChanged = true;
    metaChanged = true;
  }

  private long[] block(long id) {
    long[] block = loadedBlocks.get(id);
    if (block == null) {
      byte[] bytes = blockState.getValue(id);
      if (bytes == null) {
        throw new IllegalStateException(name + ": block " + id + " is in the index but not in the state store");
      }
      block = fromBytes(bytes);
      loadedBlocks.put(id, block);
    }
    return block;
  }

  /** Forget the head's events older than the horizon (in memory); true when there were any. */
  private boolean dropHeadBefore(long horizon) {
    if (horizon == NO_TIME || headCount == 0 || head[0] >= horizon) {
      return false;
    }
    int first = upperBound(head, headCount, horizon - 1);
    head = Arrays.copyOfRange(head, first * width, headCount * width);
    headCount -= first;
    return true;
  }

  private void computePrefixSums() {
    if (headPrefixSums.length < headCount + 1) {
      headPrefixSums = new long[Math.max(headCount + 1, headPrefixSums.length * 2)];
    }
    headPrefixSums[0] = 0;
    for (int i = 0; i < headCount; i++) {
      headPrefixSums[i + 1] = headPrefixSums[i] + (sumColumn >= 0 ? head[i * width + sumColumn] : 0);
    }
  }

  /** Number of events (of `count`, sorted by time) with time <= bound. */
  private int upperBound(long[] events, int count, long bound) {
    return upperBound(events, count, bound, width);
  }

  /** Number of entries (of `count`, `stride` longs apart, sorted) with the first long <= bound. */
  private static int upperBound(long[] values, int count, long bound, int stride) {
    int lo = 0;
    int hi = count;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (values[mid * stride] <= bound) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  long[] sortedByTime(long[] events, int count) {
    boolean sorted = true;
    for (int i = 1; i < count && sorted; i++) {
      sorted = events[(i - 1) * width] <= events[i * width];
    }
    if (sorted) {
      return events;
    }
    Integer[] order = new Integer[count];
    for (int i = 0; i < count; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Long.compare(events[a * width], events[b * width]));
    long[] out = new long[count * width];
    for (int i = 0; i < count; i++) {
      System.arraycopy(events, order[i] * width, out, i * width, width);
    }
    return out;
  }

  /** The head's chunks, each sorted by time, as one array sorted by time. */
  private void readChunks(scala.collection.Iterator<byte[]> chunks) {
    armedTimerMs = 0;
    nextBlockId = 0;
    blockCount = 0;
    List<long[]> read = new ArrayList<>();
    int length = 0;
    while (chunks.hasNext()) {
      long[] chunk = readChunk(chunks.next());
      read.add(chunk);
      length += chunk.length;
    }
    long[] events = read.size() == 1 ? read.get(0) : new long[length];
    boolean sorted = true;
    if (read.size() > 1) {
      int at = 0;
      for (long[] chunk : read) {
        sorted &= chunk.length == 0 || at == 0 || events[at - width] <= chunk[0];
        System.arraycopy(chunk, 0, events, at, chunk.length);
        at += chunk.length;
      }
    }
    chunkCount = read.size();
    headCount = length / width;
    head = sorted ? events : sortedByTime(events, headCount);
  }

  /** A chunk's events; a header chunk also sets the key's header fields. */
  private long[] readChunk(byte[] bytes) {
    ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    byte kind = buffer.get();
    if (kind == HEADER_CHUNK) {
      byte format = buffer.get();
      if (format != FORMAT) {
        throw new IllegalStateException(name + ": state format " + format + " is not " + FORMAT);
      }
      armedTimerMs = buffer.getLong();
      nextBlockId = buffer.getLong();
      blockCount = buffer.getInt();
    } else if (kind != EVENTS_CHUNK) {
      throw new IllegalStateException(name + ": unknown chunk kind " + kind);
    }
    long[] events = new long[buffer.remaining() / 8];
    buffer.asLongBuffer().get(events);
    return events;
  }

  private void readIndex(byte[] bytes) {
    if (bytes == null) {
      throw new IllegalStateException(name + ": the head names " + blockCount + " blocks but the index is missing");
    }
    index = fromBytes(bytes);
    if (index.length != blockCount * INDEX_WIDTH) {
      throw new IllegalStateException(name + ": the index holds " + index.length / INDEX_WIDTH
          + " blocks, the head names " + blockCount);
    }
  }

  private byte[] writeIndex() {
    return toBytes(index, blockCount * INDEX_WIDTH);
  }

  private static byte[] toBytes(long[] values, int length) {
    ByteBuffer buffer = ByteBuffer.allocate(length * 8).order(ByteOrder.LITTLE_ENDIAN);
    buffer.asLongBuffer().put(values, 0, length);
    return buffer.array();
  }

  private static long[] fromBytes(byte[] bytes) {
    long[] values = new long[bytes.length / 8];
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(values);
    return values;
  }
}
