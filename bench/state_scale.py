"""The velocity state at scale: 1,000,000 customers with 30+ days of history (20M+ payments)
go through the stateful operators into Spark's state store; then 1M further payments are
measured against that state and against an empty one. Prints rows/s at both sizes, the Python
driver's and the JVM's peak RSS (local[*]: the JVM holds the executors), RocksDB's memory, the
state's size on disk, and the time to restart the query from the checkpoint.

    make bench-state-scale                       # 1M customers, 20M payments over 30 days
    make bench-state-scale ARGS="--history-payments 5000000"
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402

from bench import report  # noqa: E402
from bench.memory import PeakMemory, rss_bytes  # noqa: E402
from bench.state_stage import (  # noqa: E402
    DATA_DIR,
    START,
    batch_figures,
    folder_mib,
    stream_through_operators,
    write_batches,
)
from core.config import PROJECT_ROOT, load_config  # noqa: E402
from core.spark import build_spark_session  # noqa: E402
from features.velocity import BLOCK_EVENTS  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--terminals", type=int, default=50_000)
    parser.add_argument("--history-payments", type=int, default=20_000_000)
    parser.add_argument("--history-days", type=float, default=31)
    parser.add_argument("--measured-payments", type=int, default=1_000_000)
    parser.add_argument("--batch-payments", type=int, default=200_000, help="payments per micro-batch")
    parser.add_argument("--save", action="store_true", help="write bench/results/state_scale.json and RESULTS.md")
    return parser.parse_args()


def data_sets(spark: SparkSession, args: argparse.Namespace) -> tuple[Path, Path]:
    """(history, measured): the measured payments follow the history in event time."""
    history = argparse.Namespace(customers=args.customers, terminals=args.terminals, payments=args.history_payments,
                                 batches=max(1, args.history_payments // args.batch_payments),
                                 days=args.history_days, hot_terminal_share=0.0)
    measured_days = args.history_days * args.measured_payments / args.history_payments
    measured = argparse.Namespace(**{**vars(history), "payments": args.measured_payments,
                                     "batches": max(1, args.measured_payments // args.batch_payments),
                                     "days": measured_days})
    name = f"scale-{args.customers}c-{args.terminals}t-{args.history_payments}p-{args.history_days:g}d"
    after = START + pd.Timedelta(days=args.history_days)
    return (write_batches(spark, history, DATA_DIR / name / "history"),
            write_batches(spark, measured, DATA_DIR / name / "measured", args.history_payments, after))


def measured_run(spark: SparkSession, folder: Path, checkpoint: Path) -> dict:
    query = stream_through_operators(spark, folder, checkpoint, BLOCK_EVENTS)
    return batch_figures([p for p in query.recentProgress if p["numInputRows"]])


def main() -> int:
    args = parse_args()
    config = load_config()
    spark = build_spark_session(config, "bench-state-scale", {"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("WARN")
    history, measured = data_sets(spark, args)
    checkpoints = PROJECT_ROOT / "state" / "checkpoints" / f"bench-scale-{time.strftime('%Y%m%d%H%M%S')}"
    jvm = os.getppid()  # under spark-submit this script is the JVM's child
    driver_before = rss_bytes(os.getpid())
    try:
        with PeakMemory(jvm) as memory:
            print(f"building the state: {args.history_payments:,} payments, {args.customers:,} customers, "
                  f"{args.history_days:g} days ...", flush=True)
            started = time.monotonic()
            build = stream_through_operators(spark, history, checkpoints / "scale", BLOCK_EVENTS)
            build_seconds = time.monotonic() - started
            built = batch_figures([p for p in build.recentProgress if p["numInputRows"]])
            print(f"  built in {build_seconds:.0f} s ({args.history_payments / build_seconds:,.0f} rows/s); "
                  f"state on disk {folder_mib(checkpoints / 'scale' / 'state')} MiB", flush=True)
            at_scale = measured_run(spark, measured, checkpoints / "scale")
            empty = measured_run(spark, measured, checkpoints / "empty")
        restart = timed_restart(spark, checkpoints / "scale", measured)
        result = {
            "settings": {k: v for k, v in vars(args).items() if k != "save"},
            "build": {"seconds": round(build_seconds), "rows_per_second": round(args.history_payments / build_seconds),
                      "median_batch_ms": built["median_batch_ms"]},
            "at_scale": at_scale, "empty_state": empty,
            "checkpoint_state_mib": folder_mib(checkpoints / "scale" / "state"),
            "peak_rss_mib": memory.peaks_mib(),
            "python_driver_rss_mib": {"before": round(driver_before / 2 ** 20),
                                      "after": round(rss_bytes(os.getpid()) / 2 ** 20)},
            "rocksdb_memory_mib": round(sum(op["memoryUsedBytes"] or 0 for op in at_scale["operators"]) / 2 ** 20, 1),
            "restart": restart,
        }
    finally:
        shutil.rmtree(checkpoints, ignore_errors=True)
    print_result(result)
    if args.save:
        result.update({"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                       "command": "make bench-state-scale" + (f" ARGS='{' '.join(sys.argv[1:])}'" if sys.argv[1:]
                                                              else ""),
                       "machine": report.machine()})
        print(f"results: {report.save('state_scale', result)}")
    return 0


def timed_restart(spark: SparkSession, checkpoint: Path, measured: Path) -> dict:
    """A new query on the built checkpoint with one more micro-batch: seconds from start() to the
    query running, and to that batch done (the state is loaded from the checkpoint's files)."""
    one_batch = measured.parent / "restart"
    shutil.rmtree(one_batch, ignore_errors=True)
    shutil.copytree(sorted(measured.glob("batch-*"))[0], one_batch / "batch-0000")
    started = time.monotonic()
    query = stream_through_operators(spark, one_batch, checkpoint, BLOCK_EVENTS)
    total = time.monotonic() - started
    first = next((p for p in query.recentProgress if p["numInputRows"]), None)
    return {"to_first_batch_done_s": round(total, 1),
            "first_batch_ms": first["durationMs"]["triggerExecution"] if first else None}


def print_result(result: dict) -> None:
    at_scale, empty = result["at_scale"], result["empty_state"]
    print(f"stateful operators, {result['settings']['measured_payments']:,} payments: "
          f"{at_scale['rows_per_second_steady']:,} rows/s against the built state, "
          f"{empty['rows_per_second_steady']:,} rows/s against an empty state "
          f"(median micro-batch {at_scale['median_batch_ms']:,.0f} vs {empty['median_batch_ms']:,.0f} ms)")
    print(f"peak RSS MiB {result['peak_rss_mib']}; Python driver {result['python_driver_rss_mib']} MiB; "
          f"RocksDB memory {result['rocksdb_memory_mib']} MiB; state on disk {result['checkpoint_state_mib']} MiB; "
          f"restart: {result['restart']}")


if __name__ == "__main__":
    sys.exit(main())
