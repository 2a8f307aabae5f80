"""A progress bar (tqdm) fed by Spark's status tracker: the tasks of the stages that ran while
a step was in progress, done out of known."""
from __future__ import annotations

import sys
import threading
from contextlib import contextmanager

from pyspark.sql import SparkSession
from tqdm import tqdm

POLL_SECONDS = 0.5


def stage_tasks(tracker, seen: dict[int, tuple[int, int]]) -> None:
    """Update seen[stage id] = (tasks, completed) with the active stages."""
    for stage_id in tracker.getActiveStageIds():
        info = tracker.getStageInfo(stage_id)
        if info is not None:
            seen[stage_id] = (info.numTasks, info.numCompletedTasks)


@contextmanager
def spark_progress(spark: SparkSession, description: str):
    """A bar for one step: its Spark tasks as they complete (stages finished count as done)."""
    tracker, seen, stop = spark.sparkContext.statusTracker(), {}, threading.Event()
    bar = tqdm(total=0, desc=description, unit="task", file=sys.stderr, dynamic_ncols=True)

    def follow() -> None:
        while not stop.wait(POLL_SECONDS):
            stage_tasks(tracker, seen)
            active = set(tracker.getActiveStageIds())
            bar.total = sum(tasks for tasks, _ in seen.values())
            bar.n = sum(tasks if stage not in active else done for stage, (tasks, done) in seen.items())
            bar.refresh()
    thread = threading.Thread(target=follow, name="backtest-progress", daemon=True)
    thread.start()
    try:
        yield bar
    finally:
        stop.set()
        thread.join()
        bar.total = max(bar.total, bar.n)
        bar.n = bar.total
        bar.close()
