"""Latency benchmark: offer a steady load (default 5,000 tx/s for 5 minutes) to the running job
and print the per-row latency from the producer's send time to the MySQL commit: p50, p95, p99, max.
     make bench-latency [ARGS="--rate 5000 --duration 300"]
"""
from __future__ import annotations

import argparse
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench import report  # noqa: E402
from bench.memory import PeakMemory  # noqa: E402
from bench.runs import (  # noqa: E402
    BenchRun,
    add_database_option,
    create_topics,
    ledger_totals,
    new_run,
    producer_command,
    row_latencies_ms,
    run_database,
    scored_rows_estimate,
    start_job,
)
from core.config import PROJECT_ROOT, AppConfig, load_config  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=5_000, help="payments per second offered")
    parser.add_argument("--duration", type=int, default=300, help="seconds of measured load")
    parser.add_argument("--warm-up", type=int, default=30,
                        help="seconds of the same load before the measured part (JIT, first JDBC writes, "
                             "the backlog of start-up); reported apart")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--trigger-interval", default="0 seconds",
                        help="micro-batch trigger ('0 seconds': the next batch starts as soon as one ends)")
    parser.add_argument("--max-offsets-per-trigger", type=int, default=50_000)
    add_database_option(parser)
    return parser.parse_args()


def wait_until_ready(run: BenchRun, job: subprocess.Popen, timeout: float = 300) -> None:
    """Until the job's log says its query runs (start-up is not part of the latency)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job.poll() is not None:
            raise SystemExit(f"the job stopped before it was ready; see {run.log_file}")
        if run.query_starts():
            return
        time.sleep(1)
    raise SystemExit(f"the job was not ready within {timeout:.0f} s; see {run.log_file}")


def wait_until_committed(config: AppConfig, run: BenchRun, expected: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(ledger_totals(config, run.stream_id())["rows_in"]) >= expected:
            return
        time.sleep(2)
    raise SystemExit(f"fewer than {expected:,} records committed after {timeout:.0f} s; see {run.log_file}")


def stop(job: subprocess.Popen) -> None:
    """SIGTERM: the job stops after the batch in progress commits."""
    job.send_signal(signal.SIGTERM)
    try:
        job.wait(timeout=120)
    except subprocess.TimeoutExpired:
        job.kill()


def percentiles(latencies_ms: list[float]) -> dict:
    values = np.asarray(latencies_ms) if len(latencies_ms) else np.zeros(1)
    p50, p95, p99, worst = np.percentile(values, [50, 95, 99, 100])
    return {"p50": round(p50), "p95": round(p95), "p99": round(p99), "max": round(worst), "mean": round(values.mean())}


def main() -> int:
    args = parse_args()
    config, database = run_database(load_config(), args.database)
    run = new_run("lat", database)
    rows_before = scored_rows_estimate(config)
    create_topics(config, run, args.partitions)
    messages = args.rate * (args.warm_up + args.duration)
    job_args = ["--starting-offsets", "earliest", "--trigger-interval", args.trigger_interval,
                "--max-offsets-per-trigger", str(args.max_offsets_per_trigger)]
    job = start_job(run, job_args)
    with PeakMemory(job.pid) as memory:
        try:
            wait_until_ready(run, job)
            print(f"job ready; offering {args.rate:,} tx/s for {args.warm_up} s of warm-up + {args.duration} s "
                  f"measured (log: {run.log_file}) ...")
            subprocess.run(producer_command(run, messages, ["--rate", str(args.rate)]), cwd=PROJECT_ROOT, check=True)
            sent = _sent_records(config, run)
            wait_until_committed(config, run, sent)
        finally:
            stop(job)
    warm_up_ms, measured_ms = row_latencies_ms(config, run.stream_id(), args.warm_up)
    latency, warm_up = percentiles(measured_ms), percentiles(warm_up_ms)
    totals = ledger_totals(config, run.stream_id())
    print(f"send-to-commit latency ms, measured {args.duration} s: p50 {latency['p50']:,} p95 {latency['p95']:,} "
          f"p99 {latency['p99']:,} max {latency['max']:,} ({len(measured_ms):,} rows)")
    print(f"  during the {args.warm_up} s warm-up: p50 {warm_up['p50']:,} p99 {warm_up['p99']:,} "
          f"max {warm_up['max']:,} ({len(warm_up_ms):,} rows); {totals['batches']} micro-batches in all")
    result = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": "make bench-latency" + (f" ARGS={shlex.quote(' '.join(sys.argv[1:]))}"
                                                 if sys.argv[1:] else ""),
              "rate": args.rate, "duration_seconds": args.duration, "rows": len(measured_ms),
              "warm_up_seconds": args.warm_up, "warm_up_rows": len(warm_up_ms), "warm_up_latency_ms": warm_up,
              "batches": totals["batches"], "latency_ms": latency, "database": config.mysql.database,
              "scored_transactions_rows_before": rows_before,
              "peak_rss_mib": memory.peaks_mib(),
              "settings": {"partitions": args.partitions, "trigger_interval": args.trigger_interval,
                           "max_offsets_per_trigger": args.max_offsets_per_trigger,
                           "jdbc_batch_size": config.mysql.jdbc_batch_size,
                           "shuffle_partitions": config.stream.shuffle_partitions,
                           "kafka_consumer": dict(config.kafka.consumer)},
              "machine": report.machine()}
    print(f"results: {report.save('latency', result)} and {report.RESULTS_MD}")
    return 0


def _sent_records(config: AppConfig, run: BenchRun) -> int:
    """Records in both topics (payments and labels), from the broker's end offsets."""
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({**config.kafka.client_settings(), "group.id": run.name})
    try:
        total = 0
        for topic in (run.payments_topic, run.labels_topic):
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            for partition in partitions:
                total += consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
        return total
    finally:
        consumer.close()


if __name__ == "__main__":
    sys.exit(main())
