"""Process and port helpers shared by the local service managers."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections import deque
from pathlib import Path


class ServiceError(RuntimeError):
    """A local service could not be started, reached or stopped."""


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (a bind attempt succeeds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def require_free_port(host: str, port: int, service: str, setting: str) -> None:
    """Fail with a message naming the port when another process holds it."""
    if not port_is_free(host, port):
        raise ServiceError(
            f"port {port} on {host} is already in use, so the local {service} cannot start. "
            f"Stop whatever listens there (`ss -ltnp 'sport = :{port}'`), or change {setting}."
        )


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in pid_file if that process is still alive."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    if _is_zombie(pid):
        return None
    return pid


def _is_zombie(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def spawn_detached(command: list[str], log_file: Path, pid_file: Path,
                   env: dict[str, str] | None = None) -> int:
    """Start command in its own session (it outlives the caller); record its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env,
        )
    pid_file.write_text(str(process.pid))
    return process.pid


def stop_process(pid_file: Path, name: str, timeout_seconds: float = 60) -> bool:
    """SIGTERM the recorded process and wait for a clean exit; SIGKILL only after the timeout."""
    pid = read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if read_pid(pid_file) is None:
            pid_file.unlink(missing_ok=True)
            return True
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    raise ServiceError(f"{name} (pid {pid}) did not stop within {timeout_seconds:.0f} s; killed it")


def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file, for error messages."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except FileNotFoundError:
        return f"(no log at {path})"


def wait_until(check, timeout_seconds: float, what: str, log_file: Path, pid_file: Path) -> None:
    """Poll check() until it returns True; fail with the service log's tail on timeout or exit."""
    deadline = time.monotonic() + timeout_seconds
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if read_pid(pid_file) is None:
            raise ServiceError(f"{what} exited during start-up. Last lines of {log_file}:\n"
                               f"{tail(log_file)}")
        try:
            if check():
                return
        except Exception as error:  # the service is still coming up
            last_error = error
        time.sleep(0.5)
    raise ServiceError(
        f"{what} did not answer within {timeout_seconds:.0f} s (last error: {last_error}). "
        f"Last lines of {log_file}:\n{tail(log_file)}"
    )


def read_or_create_secret(path: Path) -> str:
    """A random password kept in a 0600 file, created on first use."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    value = secrets.token_urlsafe(24)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value
