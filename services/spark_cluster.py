"""A Spark standalone cluster on this machine, from pyspark's own distribution: one master and
N workers (separate JVMs, so executors and their Python workers are separate processes).
For showing the job unchanged on a cluster: python -m services cluster-up / cluster-down."""
from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pyspark

from core.config import AppConfig
from services.processes import require_free_port, spawn_detached, stop_process, wait_until

log = logging.getLogger(__name__)
SPARK_HOME = Path(pyspark.__file__).parent
HOST = "127.0.0.1"


@dataclass(frozen=True)
class SparkCluster:
    home: Path
    workers: int = 2
    cores_per_worker: int = 1
    memory_per_worker: str = "2g"
    port: int = 7077
    web_port: int = 8080

    @classmethod
    def from_config(cls, config: AppConfig, workers: int = 2) -> SparkCluster:
        return cls(config.local_services.state_dir / "spark-cluster", workers)

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.port}"

    def _pid_file(self, name: str) -> Path:
        return self.home / f"{name}.pid"

    def _spark_class(self, main_class: str, *args: str) -> list[str]:
        return [str(SPARK_HOME / "bin" / "spark-class"), main_class, *args]

    def start(self) -> None:
        """Start the master and the workers (if not running); wait until every worker has registered."""
        self.home.mkdir(parents=True, exist_ok=True)
        if not self._pid_alive("master"):
            require_free_port(HOST, self.port, "Spark master", "SparkCluster.port")
            spawn_detached(self._spark_class("org.apache.spark.deploy.master.Master", "--host", HOST,
                                             "--port", str(self.port), "--webui-port", str(self.web_port)),
                           self.home / "master.log", self._pid_file("master"))
        for index in range(self.workers):
            name = f"worker-{index}"
            if not self._pid_alive(name):
                spawn_detached(self._spark_class(
                    "org.apache.spark.deploy.worker.Worker", self.master_url, "--host", HOST,
                    "--cores", str(self.cores_per_worker), "--memory", self.memory_per_worker,
                    "--work-dir", str(self.home / name), "--webui-port", str(self.web_port + 1 + index)),
                    self.home / f"{name}.log", self._pid_file(name))
        wait_until(lambda: self.alive_workers() >= self.workers, 90, f"Spark cluster at {self.master_url}",
                   self.home / "master.log", self._pid_file("master"))
        log.info("Spark cluster ready: %s, %d workers x %d core(s) (master UI http://%s:%d)",
                 self.master_url, self.workers, self.cores_per_worker, HOST, self.web_port)

    def alive_workers(self) -> int:
        with urllib.request.urlopen(f"http://{HOST}:{self.web_port}/json/", timeout=5) as response:
            state = json.load(response)
        return sum(1 for worker in state.get("workers", []) if worker.get("state") == "ALIVE")

    def stop(self) -> bool:
        stopped = [stop_process(self._pid_file(f"worker-{i}"), f"Spark worker {i}", 60) for i in range(self.workers)]
        return stop_process(self._pid_file("master"), "Spark master", 60) or any(stopped)

    def _pid_alive(self, name: str) -> bool:
        from services.processes import read_pid
        return read_pid(self._pid_file(name)) is not None
