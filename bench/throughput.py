"""Throughput benchmark: preload N generated payments into fresh topics, run the job from the
earliest offset until everything is committed, print tx/s end to end, each stage's share, peak
memory and the state's size on disk.     make bench-throughput [ARGS="--messages 1000000 --partitions 4"]
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import report  # noqa: E402
from bench.memory import PeakMemory  # noqa: E402
from bench.runs import (  # noqa: E402
    SPARK_SUBMIT,
    BenchRun,
    add_database_option,
    create_topics,
    ledger_totals,
    new_run,
    preload,
    run_database,
    scored_rows_estimate,
    start_job,
)
from core.config import PROJECT_ROOT, AppConfig, load_config  # noqa: E402
from core.spark import ARROW_BATCH_ROWS  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--max-offsets-per-trigger", type=int, help="default: stream.max_offsets_per_trigger")
    parser.add_argument("--skip-stages", action="store_true", help="only the end-to-end run")
    add_database_option(parser)
    return parser.parse_args()


def run_job(run: BenchRun, job_args: list[str]) -> tuple[float, dict]:
    """The job with --available-now until it stops; its wall time and peak memory."""
    started = time.monotonic()
    job = start_job(run, ["--available-now", *job_args])
    with PeakMemory(job.pid) as memory:
        code = job.wait()
    if code != 0:
        raise SystemExit(f"the job failed (exit {code}); see {run.log_file}")
    return time.monotonic() - started, memory.peaks_mib()


def end_to_end(config: AppConfig, run: BenchRun) -> dict:
    totals = ledger_totals(config, run.stream_id())
    seconds = (totals["last_committed_at"] - totals["first_started_at"]).total_seconds()
    return {"rows": int(totals["rows_in"]), "scored": int(totals["rows_scored"]), "batches": totals["batches"],
            "seconds": round(seconds, 2), "tx_per_second": round(int(totals["rows_in"]) / seconds)}


def stages_alone(run: BenchRun, batch_rows: int, end_to_end_seconds: float) -> dict:
    out = run.checkpoint.parent / f"{run.name}-stages.json"
    with run.log_file.open("a") as log:  # after the job's own output, for when a stage fails
        done = subprocess.run([SPARK_SUBMIT, "bench/stages.py", "--payments-topic", run.payments_topic,
                               "--labels-topic", run.labels_topic, "--batch-rows", str(batch_rows),
                               "--end-to-end-seconds", str(end_to_end_seconds), "--out", str(out)],
                              cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, env=run.job_environment())
    if done.returncode != 0:
        raise SystemExit(f"the stage benchmark failed (exit {done.returncode}); see {run.log_file}")
    return json.loads(out.read_text())


def folder_mib(folder: Path) -> float:
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2 ** 20, 1)


def settings(config: AppConfig, batch_rows: int, partitions: int) -> dict:
    return {"partitions": partitions, "max_offsets_per_trigger": batch_rows, "trigger": "availableNow",
            "spark_master": config.spark.master, "shuffle_partitions": config.stream.shuffle_partitions,
            "jdbc_batch_size": config.mysql.jdbc_batch_size, "arrow_max_records_per_batch": ARROW_BATCH_ROWS,
            "kafka_consumer": dict(config.kafka.consumer)}


def main() -> int:
    args = parse_args()
    config, database = run_database(load_config(), args.database)
    batch_rows = args.max_offsets_per_trigger or config.stream.max_offsets_per_trigger
    run = new_run("tput", database)
    rows_before = scored_rows_estimate(config)
    create_topics(config, run, args.partitions)
    print(f"preloading {args.messages:,} payments into {run.payments_topic} ({args.partitions} partitions) ...")
    preload(run, args.messages)
    print(f"running the job until all is committed (log: {run.log_file}) ...")
    wall, peaks = run_job(run, ["--max-offsets-per-trigger", str(batch_rows)])
    e2e = end_to_end(config, run)
    print(f"end to end: {e2e['tx_per_second']:,} tx/s ({e2e['rows']:,} rows in {e2e['seconds']} s, "
          f"{e2e['batches']} micro-batches; job wall time {wall:.1f} s); peak RSS MiB {peaks}")
    stages = None
    if not args.skip_stages:
        print("each stage's share: the job's plan cut after each stage, same data and batch size ...")
        stages = stages_alone(run, batch_rows, e2e["seconds"])
        print("  " + " | ".join(f"{s} {r:,} rows/s ({stages['seconds'][s]} s)"
                                for s, r in stages["rows_per_second"].items()))
    result = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": "make bench-throughput" + (f" ARGS={shlex.quote(' '.join(sys.argv[1:]))}"
                                                     if sys.argv[1:] else ""),
              "messages": args.messages, "partitions": args.partitions, "end_to_end": e2e,
              "database": config.mysql.database, "scored_transactions_rows_before": rows_before,
              "job_wall_seconds": round(wall, 1), "stages_alone": stages, "peak_rss_mib": peaks,
              "state": {"checkpoint_state_mib": folder_mib(run.checkpoint / "state")},
              "settings": settings(config, batch_rows, args.partitions), "machine": report.machine()}
    print(f"results: {report.save('throughput', result)} and {report.RESULTS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
