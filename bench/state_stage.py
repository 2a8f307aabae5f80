"""The stateful stage alone: generated valid payments (already parsed) stream through the two
velocity operators (event-time watermark, RocksDB state) into Spark's no-op sink, in fixed
micro-batches. Prints rows/s (steady: without the first micro-batches; and with start-up),
the median micro-batch, the state on disk, and what Spark's operators report.

    make bench-state                                              # 5,000 customers, 1M payments
    make bench-state ARGS="--customers 500000"
    make bench-state ARGS="--hot-terminal-share 0.5 --days 2"    # one terminal with half the payments
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402

from bench import report  # noqa: E402
from core.config import PROJECT_ROOT, load_config  # noqa: E402
from core.spark import build_spark_session  # noqa: E402
from events.schemas import PARSED_RECORD_SCHEMA  # noqa: E402
from features.batch import as_parsed_records, training_frame  # noqa: E402
from features.velocity import BLOCK_EVENTS, with_event_time_watermark, with_velocity_features  # noqa: E402

DATA_DIR = PROJECT_ROOT / "state" / "bench-data"
START = pd.Timestamp("2024-01-01", tz="UTC")
STEADY_AFTER = 3  # micro-batches left out of the steady figure (start-up, JIT)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--terminals", type=int, default=10_000)
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--days", type=float, default=100, help="event-time span of the payments")
    parser.add_argument("--hot-terminal-share", type=float, default=0.0,
                        help="share of the payments made at one terminal (a hot key)")
    parser.add_argument("--block-events", type=int, default=BLOCK_EVENTS)
    parser.add_argument("--save", action="store_true", help="write bench/results/state_stage.json and RESULTS.md")
    return parser.parse_args()


def payments_chunk(args: argparse.Namespace, index: int, first_id: int = 0,
                   start: pd.Timestamp = START) -> pd.DataFrame:
    """The index-th of args.batches chunks of args.payments payments over args.days from start, in
    event-time order; customers and terminals uniform (one terminal hot if asked)."""
    rng = np.random.default_rng(index + 1)
    bounds = np.linspace(0, args.payments, args.batches + 1).astype(int)
    count, offset = bounds[index + 1] - bounds[index], first_id + bounds[index]
    span = int(args.days * 86_400_000_000) // args.batches
    micros = np.sort(rng.integers(0, span, count)) + start.value // 1000 + index * span
    terminals = rng.integers(0, args.terminals, count)
    terminals[rng.random(count) < args.hot_terminal_share] = 0
    return pd.DataFrame({
        "transaction_id": [f"tx-{offset + i}" for i in range(count)],
        "customer_id": [f"C{c}" for c in rng.integers(0, args.customers, count)],
        "terminal_id": [f"T{t}" for t in terminals],
        "amount_cents": rng.integers(100, 50_000, count), "event_us": micros,
        "is_label": False, "is_fraud": pd.array([None] * count, dtype="boolean"),
        "labeled_at_us": pd.array([None] * count, dtype="Int64"),
        "kafka_offset": np.arange(offset, offset + count)})


def write_batches(spark: SparkSession, args: argparse.Namespace, folder: Path, first_id: int = 0,
                  start: pd.Timestamp = START) -> Path:
    """One Parquet folder per micro-batch (two files each: two read tasks), made once per setting."""
    if (folder / "_done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    for index in range(args.batches):
        part = as_parsed_records(training_frame(spark, payments_chunk(args, index, first_id, start)))
        part.repartition(2).write.parquet(str(folder / f"batch-{index:04d}"))
    (folder / "_done").touch()
    return folder


def input_folder(spark: SparkSession, args: argparse.Namespace) -> Path:
    name = (f"state-{args.customers}c-{args.terminals}t-{args.payments}p-{args.batches}b-{args.days:g}d-"
            f"{args.hot_terminal_share:g}h")
    return write_batches(spark, args, DATA_DIR / name)


def stream_through_operators(spark: SparkSession, folder: Path, checkpoint: Path, block_events: int,
                             files_per_batch: int = 2):
    """The operators over a folder of batch folders, into the no-op sink, until caught up."""
    features = load_config().features
    stream_df = (spark.readStream.schema(PARSED_RECORD_SCHEMA).option("maxFilesPerTrigger", files_per_batch)
                 .option("recursiveFileLookup", "true").option("pathGlobFilter", "*.parquet").parquet(str(folder)))
    featured_df = (stream_df.transform(with_event_time_watermark(features))
                   .transform(with_velocity_features(features, block_events=block_events)))
    query = (featured_df.writeStream.format("noop").option("checkpointLocation", str(checkpoint))
             .trigger(availableNow=True).start())
    query.awaitTermination()
    if query.exception() is not None:
        raise SystemExit(f"the stateful stage failed: {query.exception()}")
    return query


def run(spark: SparkSession, folder: Path, checkpoint: Path, block_events: int) -> dict:
    started = time.monotonic()
    query = stream_through_operators(spark, folder, checkpoint, block_events)
    wall = time.monotonic() - started
    progress = [p for p in query.recentProgress if p["numInputRows"]]
    return {**batch_figures(progress), "wall_seconds_incl_start": round(wall, 1),
            "rows_per_second_incl_start": round(sum(p["numInputRows"] for p in progress) / wall),
            "checkpoint_state_mib": folder_mib(checkpoint / "state")}


def batch_figures(progress: list[dict]) -> dict:
    """Rows, rows/s steady (without the first micro-batches), median and slowest micro-batch, and
    the operators' own figures in the last one."""
    batch_ms = [p["durationMs"]["triggerExecution"] for p in progress]
    rows = sum(p["numInputRows"] for p in progress)
    steady_rows = sum(p["numInputRows"] for p in progress[STEADY_AFTER:])
    steady_ms = sum(batch_ms[STEADY_AFTER:]) or sum(batch_ms)
    return {"rows": rows, "micro_batches": len(progress),
            "rows_per_second_steady": round((steady_rows or rows) / (steady_ms / 1000)),
            "median_batch_ms": statistics.median(batch_ms), "max_batch_ms": max(batch_ms),
            "operators": operator_figures(progress[-1])}


def folder_mib(folder: Path) -> float:
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2 ** 20, 1)


def operator_figures(progress: dict) -> list[dict]:
    """Each stateful operator's own figures in the last micro-batch (Spark's progress)."""
    keep = ("numRowsUpdated", "allUpdatesTimeMs", "commitTimeMs", "memoryUsedBytes")
    custom = ("numExpiredTimers", "numRegisteredTimers", "rocksdbSstFileSize", "rocksdbGetCount", "rocksdbPutCount",
              "rocksdbPinnedBlocksMemoryUsage", "rocksdbBlockCacheUsage")
    return [{**{k: op.get(k) for k in keep}, **{k: op.get("customMetrics", {}).get(k) for k in custom}}
            for op in progress["stateOperators"]]


def main() -> int:
    args = parse_args()
    config = load_config()
    spark = build_spark_session(config, "bench-state-stage", {"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("WARN")
    folder = input_folder(spark, args)
    checkpoint = PROJECT_ROOT / "state" / "checkpoints" / f"bench-state-{time.strftime('%Y%m%d%H%M%S')}"
    try:
        figures = run(spark, folder, checkpoint, args.block_events)
    finally:
        shutil.rmtree(checkpoint, ignore_errors=True)
    settings = {k: v for k, v in vars(args).items() if k != "save"}
    print(f"stateful stage alone, {settings}:")
    print(f"  {figures['rows_per_second_steady']:,} rows/s steady (after {STEADY_AFTER} micro-batches), "
          f"{figures['rows_per_second_incl_start']:,} rows/s with start-up; median micro-batch "
          f"{figures['median_batch_ms']:,.0f} ms, slowest {figures['max_batch_ms']:,} ms; "
          f"state on disk {figures['checkpoint_state_mib']} MiB")
    for op in figures["operators"]:
        print(f"  operator: {json.dumps(op)}")
    if args.save:
        result = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                  "command": "make bench-state" + (f" ARGS='{' '.join(sys.argv[1:])}'" if sys.argv[1:] else ""),
                  "settings": settings, **figures, "machine": report.machine()}
        print(f"results: {report.save_run('state_stage', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
