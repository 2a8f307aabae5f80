"""Peak resident memory of a process tree, split into the JVM and the Python workers (/proc)."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    return children


def descendants(root: int) -> list[int]:
    tree, found, todo = _children_by_parent(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def role(pid: int) -> str:
    """'jvm' (driver, and executors in local mode), 'python_workers' (pyspark daemon/workers) or 'other'."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().split(b"\0")
    except OSError:
        return "other"
    if words and words[0].endswith(b"java"):
        return "jvm"
    if any(b"pyspark.daemon" in w or b"pyspark.worker" in w for w in words):
        return "python_workers"
    if any(w.endswith(b".py") for w in words[1:2]) or any(w.endswith(b"score_payments.py") for w in words):
        return "python_driver"
    return "other"


@dataclass
class PeakMemory:
    """Polls a process tree's RSS every `interval` seconds; keeps each role's peak (summed over its processes)."""

    root: int
    interval: float = 0.5
    peaks: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        totals: dict[str, int] = {}
        for pid in descendants(self.root):
            kind = role(pid)
            totals[kind] = totals.get(kind, 0) + rss_bytes(pid)
        for kind, total in totals.items():
            self.peaks[kind] = max(self.peaks.get(kind, 0), total)

    def __enter__(self) -> PeakMemory:
        def poll():
            while not self._stop.wait(self.interval):
                self.sample()
        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peaks_mib(self) -> dict[str, float]:
        return {kind: round(value / 2 ** 20, 1) for kind, value in sorted(self.peaks.items()) if kind != "other"}
