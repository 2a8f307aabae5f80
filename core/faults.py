"""Named fault-injection points for the chaos tests: PAYSCORE_FAULT=<point>:<batch id> makes
the driver kill its whole process group (JVM, Python driver, workers) with SIGKILL when it
reaches that point of that micro-batch, as a power cut would. Unset, a point does nothing."""
from __future__ import annotations

import logging
import os
import signal
import time

FAULT_VARIABLE = "PAYSCORE_FAULT"
# Between the executors' JDBC append of a batch's rows and the transaction with its ledger row.
AFTER_APPEND_BEFORE_COMMIT = "after_append_before_commit"
POINTS = (AFTER_APPEND_BEFORE_COMMIT,)

log = logging.getLogger(__name__)


def armed_fault() -> tuple[str, int] | None:
    """(point, batch id) from PAYSCORE_FAULT, or None; a value that names no point is an error."""
    value = os.environ.get(FAULT_VARIABLE)
    if not value:
        return None
    point, _, batch = value.partition(":")
    if point not in POINTS or not batch.isdigit():
        raise ValueError(f"{FAULT_VARIABLE}={value!r}: expected <point>:<batch id>, point one of {', '.join(POINTS)}")
    return point, int(batch)


def fault_point(point: str, batch_id: int) -> None:
    """SIGKILL to this process group when PAYSCORE_FAULT names this point and batch."""
    if armed_fault() == (point, batch_id):
        log.warning("fault injection: SIGKILL at %s of batch %d (%s)", point, batch_id, FAULT_VARIABLE)
        time.sleep(0.5)  # the driver's output reaches the log through the JVM: let that line through
        os.killpg(os.getpgid(0), signal.SIGKILL)
