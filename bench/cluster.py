"""The same job, unchanged, on a Spark standalone cluster (master + 2 workers, separate JVMs and
Python workers) and in local mode, on the same generated payments: the decisions must be
identical, and the executors must share the Kafka partitions' work (read from Spark's event log).
     make cluster-run [ARGS="--messages 200000"]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import report  # noqa: E402
from bench.runs import BenchRun, create_topics, ledger_totals, new_run, preload, start_job  # noqa: E402
from core.config import PROJECT_ROOT, AppConfig, load_config  # noqa: E402
from services.spark_cluster import SparkCluster  # noqa: E402
from sinks.mysql_connection import connect  # noqa: E402

EVENT_LOG_DIR = PROJECT_ROOT / "state" / "spark-events"


def cluster_submit_args(cluster: SparkCluster) -> list[str]:
    EVENT_LOG_DIR.mkdir(parents=True, exist_ok=True)
    return ["--master", cluster.master_url, "--executor-memory", "1g", "--total-executor-cores",
            str(cluster.workers * cluster.cores_per_worker), "--conf", "spark.eventLog.enabled=true",
            "--conf", f"spark.eventLog.dir=file://{EVENT_LOG_DIR}", "--conf", "spark.eventLog.compress=false",
            "--conf", "spark.eventLog.rolling.enabled=false"]


def run_to_end(run: BenchRun, submit_args: list[str], job_args: list[str] = ()) -> float:
    started = time.monotonic()
    job = start_job(run, ["--available-now", "--max-offsets-per-trigger", "50000", *job_args], submit_args)
    if job.wait() != 0:
        raise SystemExit(f"the job failed; see {run.log_file}")
    return time.monotonic() - started


def decisions(config: AppConfig, prefix: str) -> dict[str, tuple]:
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT transaction_id, decision, reasons, score FROM scored_transactions "
                       "WHERE transaction_id LIKE %s", (prefix + "%",))
        return {t[len(prefix):]: (d, r, round(s, 12)) for t, d, r, s in cursor.fetchall()}


def event_log_of(application_marker: str) -> Path:
    """The newest event log file (the cluster run's)."""
    logs = sorted(EVENT_LOG_DIR.glob("app-*"), key=lambda path: path.stat().st_mtime)
    if not logs:
        raise SystemExit(f"no event log in {EVENT_LOG_DIR} ({application_marker})")
    return logs[-1]


def work_by_executor(event_log: Path) -> dict[str, dict]:
    """Per executor: tasks run, tasks that read Kafka and the records they read, tasks of the
    stateful operators, the state partitions they ran and the state rows they wrote."""
    executors: dict[str, dict] = defaultdict(lambda: {"tasks": 0, "kafka_tasks": 0, "records_read": 0,
                                                      "stateful_tasks": 0, "state_rows_updated": 0,
                                                      "state_partitions": set()})
    for line in event_log.read_text().splitlines():
        event = json.loads(line)
        if event.get("Event") == "SparkListenerExecutorAdded":
            executors[event["Executor ID"]]["host"] = event["Executor Info"]["Host"]
        if event.get("Event") != "SparkListenerTaskEnd" or event.get("Task End Reason", {}).get("Reason") != "Success":
            continue
        executor = executors[event["Task Info"]["Executor ID"]]
        executor["tasks"] += 1
        records = (event.get("Task Metrics") or {}).get("Input Metrics", {}).get("Records Read", 0)
        if records:
            executor["kafka_tasks"] += 1
            executor["records_read"] += records
        state = {acc.get("Name"): acc.get("Update") for acc in event["Task Info"].get("Accumulables", [])}
        if state.get("number of state store instances"):
            executor["stateful_tasks"] += 1
            executor["state_rows_updated"] += int(state.get("number of updated state rows") or 0)
            executor["state_partitions"].add(event["Task Info"]["Index"])
    return {executor_id: {**figures, "state_partitions": sorted(figures["state_partitions"])}
            for executor_id, figures in sorted(executors.items()) if executor_id != "driver"}


def model_loads(cluster: SparkCluster, application_id: str) -> list[str]:
    """What the executors' Python workers logged when they loaded the model (which copy)."""
    lines = []
    for stderr in sorted(cluster.home.glob(f"worker-*/{application_id}/*/stderr")):
        lines += [line.strip() for line in stderr.read_text(errors="replace").splitlines()
                  if line.startswith("payscore: model")]
    return lines


def compare(config: AppConfig, cluster_run: BenchRun, local_run: BenchRun) -> dict:
    on_cluster, in_local = decisions(config, f"{cluster_run.name}-"), decisions(config, f"{local_run.name}-")
    differing = sum(1 for key, value in on_cluster.items() if in_local.get(key) != value)
    return {"cluster_rows": len(on_cluster), "local_rows": len(in_local), "differing": differing,
            "identical": differing == 0 and len(on_cluster) == len(in_local)}


def run_comparison(config: AppConfig, cluster: SparkCluster, messages: int, job_args: list[str] = ()) -> dict:
    """Preload two runs' topics with the same payments; score one on the cluster, one in local[2]
    (both with the same job options, e.g. --config)."""
    cluster.start()
    cluster_run, local_run = new_run("cluster"), new_run("local")
    for run in (cluster_run, local_run):
        create_topics(config, run, config.kafka.partitions)
        preload(run, messages)
    print(f"job on the cluster {cluster.master_url} (log: {cluster_run.log_file}) ...")
    cluster_seconds = run_to_end(cluster_run, cluster_submit_args(cluster), job_args)
    print(f"job in local mode (log: {local_run.log_file}) ...")
    local_seconds = run_to_end(local_run, ["--master", "local[2]"], job_args)
    event_log = event_log_of(cluster_run.name)
    return {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "command": "make cluster-run",
            "messages": messages, "records": int(ledger_totals(config, cluster_run.stream_id())["rows_in"]),
            "cluster": cluster.master_url, "workers": cluster.workers, "cores_per_worker": cluster.cores_per_worker,
            "cluster_seconds": round(cluster_seconds, 1), "local_seconds": round(local_seconds, 1),
            "executors": work_by_executor(event_log), "model_loads": model_loads(cluster, event_log.name),
            "comparison": compare(config, cluster_run, local_run), "machine": report.machine()}


def shared_and_correct(result: dict) -> bool:
    """Both executors read Kafka records and ran stateful-operator tasks that wrote state, each
    loaded the shipped model, decisions identical."""
    executors = result["executors"].values()
    return (result["comparison"]["identical"] and len(executors) >= 2
            and all(figures["records_read"] > 0 for figures in executors)
            and all(figures["stateful_tasks"] > 0 and figures["state_rows_updated"] > 0 for figures in executors)
            and len(result["model_loads"]) >= 2 and all(".zip" in line for line in result["model_loads"]))


def print_result(result: dict) -> None:
    print(f"cluster: {result['records']:,} records in {result['cluster_seconds']:.0f} s; "
          f"local[2]: {result['local_seconds']:.0f} s")
    for executor_id, figures in result["executors"].items():
        print(f"  executor {executor_id}: {figures['tasks']} tasks, {figures['kafka_tasks']} input tasks, "
              f"{figures['records_read']:,} Kafka records read; {figures['stateful_tasks']} stateful-operator "
              f"tasks on state partitions {figures['state_partitions']}, {figures['state_rows_updated']:,} "
              "state rows written")
    print(f"model loads in executors' Python workers: {len(result['model_loads'])}"
          + "".join(f"\n  {line}" for line in result["model_loads"][:4]))
    comparison = result["comparison"]
    print(f"decisions identical to local mode: {comparison['identical']} ({comparison['cluster_rows']:,} rows, "
          f"{comparison['differing']} differing)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    config = load_config()
    cluster = SparkCluster.from_config(config)
    try:
        result = run_comparison(config, cluster, args.messages)
    finally:
        cluster.stop()  # its ports would stop another checkout's cluster test
    print_result(result)
    print(f"results: {report.save('cluster', result)}")
    return 0 if shared_and_correct(result) else 1


if __name__ == "__main__":
    sys.exit(main())
