"""Recovery: the job scores live traffic (default 5,000 tx/s); it is killed with SIGKILL (its whole
process group: JVM, Python driver and workers) and restarted at once on its checkpoint. The
figure is the time from the kill to the first micro-batch committed after it (its ledger row),
split into the restarted job's start-up (to 'streaming query started') and the rest.

    make bench-recovery [ARGS="--kills 3 --rate 5000"]
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import report  # noqa: E402
from bench.runs import (  # noqa: E402
    QUERY_STARTED,
    BenchRun,
    add_database_option,
    create_topics,
    new_run,
    producer_command,
    run_database,
    start_job,
)
from core.config import PROJECT_ROOT, AppConfig, load_config  # noqa: E402
from sinks.mysql_connection import connect  # noqa: E402

JOB_ARGS = ["--trigger-interval", "0 seconds"]  # as bench/latency.py runs it


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=5_000, help="payments per second offered")
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--steady-seconds", type=int, default=40, help="live traffic before each kill")
    add_database_option(parser)
    return parser.parse_args()


def last_commit(config: AppConfig, run: BenchRun) -> datetime | None:
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT MAX(committed_at) FROM stream_batches WHERE stream_id = %s", (run.stream_id(),))
        return cursor.fetchone()[0]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"no {what} within {timeout:.0f} s")
        time.sleep(0.1)


def kill_and_restart(config: AppConfig, run: BenchRun, job: subprocess.Popen) -> tuple[dict, subprocess.Popen]:
    """SIGKILL the job's process group, start it again; seconds to its query start and to the
    first commit after the kill."""
    marks = run.query_starts()
    subprocess.run(["pkill", "-KILL", "-s", str(job.pid)], check=False)
    killed_at = datetime.now(UTC).replace(tzinfo=None)
    job.wait(30)
    started = time.monotonic()
    restarted = start_job(run, JOB_ARGS, append_log=True)
    wait_for(lambda: run.query_starts() > marks, 300, "query start after the restart")
    query_started = time.monotonic() - started
    wait_for(lambda: (last_commit(config, run) or killed_at) > killed_at, 300, "commit after the restart")
    committed = time.monotonic() - started
    return {"to_query_start_s": round(query_started, 1), "to_first_commit_s": round(committed, 1)}, restarted


def main() -> int:
    args = parse_args()
    config, database = run_database(load_config(), args.database)
    run = new_run("recovery", database)
    create_topics(config, run, config.kafka.partitions)
    messages = args.rate * (args.steady_seconds + 60) * (args.kills + 1)
    producer = subprocess.Popen(producer_command(run, messages, ["--rate", str(args.rate)]), cwd=PROJECT_ROOT,
                                stdout=subprocess.DEVNULL)
    job = start_job(run, JOB_ARGS)
    kills = []
    try:
        for number in range(args.kills):
            wait_for(lambda starts=number + 1: run.query_starts() >= starts, 300, "query start")
            time.sleep(args.steady_seconds)
            figures, job = kill_and_restart(config, run, job)
            kills.append(figures)
            print(f"kill {number + 1}: query running again after {figures['to_query_start_s']} s, first commit "
                  f"after {figures['to_first_commit_s']} s", flush=True)
    finally:
        producer.kill()
        subprocess.run(["pkill", "-KILL", "-s", str(job.pid)], check=False)
    result = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": "make bench-recovery" + (f" ARGS='{' '.join(sys.argv[1:])}'" if sys.argv[1:] else ""),
              "rate": args.rate, "kills": kills,
              "median_to_first_commit_s": statistics.median(k["to_first_commit_s"] for k in kills),
              "median_to_query_start_s": statistics.median(k["to_query_start_s"] for k in kills),
              "first_batches": first_batches_after_restarts(run), "machine": report.machine()}
    print(f"median: kill -9 to the first committed micro-batch {result['median_to_first_commit_s']} s "
          f"(query running again after {result['median_to_query_start_s']} s)")
    print(f"results: {report.save('recovery', result)}")
    return 0


def first_batches_after_restarts(run: BenchRun) -> list[str]:
    """The job log's line for each restart's first committed batch (rows, seconds, stages)."""
    text = run.log_file.read_text(errors="replace")
    lines = []
    for chunk in text.split(QUERY_STARTED)[2:]:
        match = re.search(r"batch \d+: .*", chunk)
        if match:
            lines.append(match.group(0)[:200])
    return lines


if __name__ == "__main__":
    sys.exit(main())
