"""Cold start: the job from a new checkpoint on generated payments without history (as a new
deployment on a fresh topic), `--available-now`, once with alert explanations and once without,
on the same payments, each run on an emptied database. The figures: wall time, start-up to the
running query, the first micro-batch, and the alerts of each batch (a stream without history
sends many payments to review until the customers' windows fill: docs/feature-state.md).

    make bench-cold-start [ARGS="--payments 30000 --batch 6000"]
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import report  # noqa: E402
from bench.runs import BENCH_DATABASE, BenchRun, bench_database, create_topics, new_run, preload, start_job  # noqa: E402
from core.config import AppConfig, load_config  # noqa: E402

BATCH_LINE = re.compile(r"batch (\d+): (\d+) in, (\d+) scored, .*?(\d+) alerts, .*?\| ([\d.]+) s,")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=30_000, help="generated payments, from the first day")
    parser.add_argument("--batch", type=int, default=6_000, help="most Kafka records per micro-batch")
    parser.add_argument("--database", default=BENCH_DATABASE,
                        help=f"the database the job writes to, emptied before each run (default {BENCH_DATABASE})")
    return parser.parse_args()


def job_config(config: AppConfig, run: BenchRun, explain: bool) -> Path:
    """The project's YAML with alert explanations on or off, beside the run's log."""
    raw = yaml.safe_load(config.source_path.read_text())
    raw["model"]["explain_alerts"] = explain
    path = run.log_file.with_name(f"{run.name}-explain-{str(explain).lower()}.yaml")
    path.write_text(yaml.safe_dump(raw))
    return path


def batches_in(log_text: str) -> list[dict]:
    """The job's batch lines: id, records in, payments scored, alerts, seconds."""
    return [{"batch": int(b), "rows_in": int(rows), "scored": int(scored), "alerts": int(alerts),
             "seconds": float(seconds)} for b, rows, scored, alerts, seconds in BATCH_LINE.findall(log_text)]


def run_once(config: AppConfig, run: BenchRun, args: argparse.Namespace, explain: bool) -> dict:
    """One start on a new checkpoint and an emptied database; its figures from the clock and the log."""
    bench_database(config, run.database, empty=True)  # the job writes there (run.job_environment)
    shutil.rmtree(run.checkpoint, ignore_errors=True)
    log_start = run.log_file.stat().st_size if run.log_file.exists() else 0
    starts_before = run.query_starts()
    started = time.monotonic()
    job = start_job(run, ["--available-now", "--config", str(job_config(config, run, explain)),
                          "--max-offsets-per-trigger", str(args.batch), "--trigger-interval", "1 second"],
                    append_log=True)
    to_query_start = None
    while job.poll() is None:
        if to_query_start is None and run.query_starts() > starts_before:
            to_query_start = time.monotonic() - started
        time.sleep(0.2)
    wall = time.monotonic() - started
    if job.returncode != 0:
        raise SystemExit(f"the job failed (exit {job.returncode}); its log: {run.log_file}")
    batches = [b for b in batches_in(run.log_file.read_bytes()[log_start:].decode(errors="replace")) if b["rows_in"]]
    return {"explain_alerts": explain, "wall_s": round(wall, 1), "to_query_start_s": round(to_query_start or wall, 1),
            "first_batch_s": batches[0]["seconds"], "first_batch_alerts": batches[0]["alerts"],
            "first_batch_scored": batches[0]["scored"], "alerts": sum(b["alerts"] for b in batches),
            "scored": sum(b["scored"] for b in batches), "batches": batches}


def main() -> int:
    args = parse_args()
    config = load_config()
    if args.database == config.mysql.database:
        raise SystemExit(f"--database {args.database} is the configured database; this benchmark empties its database")
    run = new_run("coldstart", args.database)
    create_topics(config, run, config.kafka.partitions)
    preload(run, args.payments)
    runs = []
    for explain in (True, False):
        figures = run_once(config, run, args, explain)
        runs.append(figures)
        print(f"explanations {'on ' if explain else 'off'}: {figures['wall_s']} s in all, query running after "
              f"{figures['to_query_start_s']} s, first batch {figures['first_batch_s']} s "
              f"({figures['first_batch_alerts']:,} alerts of {figures['first_batch_scored']:,} payments); "
              f"{figures['alerts']:,} alerts of {figures['scored']:,} payments", flush=True)
    result = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": "make bench-cold-start" + (f" ARGS='{' '.join(sys.argv[1:])}'" if sys.argv[1:] else ""),
              "settings": {"payments": args.payments, "max_offsets_per_trigger": args.batch}, "runs": runs,
              "machine": report.machine()}
    print(f"results: {report.save('cold_start', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
