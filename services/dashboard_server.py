"""The monitoring dashboard as a local process (Streamlit serving dashboard/app.py):
python -m services dashboard-up / dashboard-down, make dashboard."""
from __future__ import annotations

import logging
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from core.config import PROJECT_ROOT, AppConfig
from services.processes import read_pid, require_free_port, spawn_detached, stop_process, wait_until

log = logging.getLogger(__name__)
APP = PROJECT_ROOT / "dashboard" / "app.py"


@dataclass(frozen=True)
class DashboardServer:
    host: str
    port: int
    home: Path
    environment: tuple[tuple[str, str], ...] = ()  # e.g. MYSQL_DATABASE for another database

    @classmethod
    def from_config(cls, config: AppConfig, home: Path | None = None, **environment: str) -> DashboardServer:
        return cls(config.dashboard.host, config.dashboard.port,
                   home or config.local_services.state_dir / "dashboard", tuple(sorted(environment.items())))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "streamlit.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "streamlit.log"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", self.host,
                "--server.port", str(self.port), "--server.headless", "true",
                "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
                "--client.toolbarMode", "viewer"]

    def start(self) -> None:
        """Start it unless it runs; return once it answers HTTP."""
        if read_pid(self.pid_file) is None:
            require_free_port(self.host, self.port, "dashboard", "dashboard.port (DASHBOARD_PORT)")
            self.home.mkdir(parents=True, exist_ok=True)
            spawn_detached(self.command(), self.log_file, self.pid_file,
                           env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **dict(self.environment)})
        wait_until(self.answers, 60, f"dashboard at {self.url}", self.log_file, self.pid_file)
        log.info("dashboard at %s (log: %s)", self.url, self.log_file)

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> bool:
        return stop_process(self.pid_file, "dashboard", 30)

