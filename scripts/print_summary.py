"""Print what the scoring job stored in MySQL for one stream (default: the latest one):
rows, decisions, top alert reasons, send-to-commit latency, rejected messages by reason."""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from core.config import load_config  # noqa: E402
from sinks.mysql_connection import connect, named_statements  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stream-id", help="a streaming query id (default: the latest)")
    args = parser.parse_args()
    sql = named_statements("summary.sql")
    with connect(load_config().mysql, autocommit=True) as connection, connection.cursor() as cursor:
        stream_id = args.stream_id
        if not stream_id:
            cursor.execute(sql["latest_stream"])
            found = cursor.fetchone()
            if not found:
                print("no batches recorded yet")
                return 0
            stream_id = found[0]
        key = {"stream_id": stream_id}
        cursor.execute(sql["totals"], key)
        batches, rows_in, scored, rejected, duplicates, labels, alerts, late, started, ended = cursor.fetchone()
        print(f"\nstream {stream_id}: {batches} micro-batches, {started:%H:%M:%S}-{ended:%H:%M:%S} UTC")
        print(f"  Kafka records {rows_in:,}: scored {scored:,}, rejected {rejected:,}, "
              f"resent duplicates {duplicates:,}, labels {labels:,}; late payments {late:,}")
        cursor.execute(sql["decisions"], key)
        decisions = zip(("APPROVED", "REVIEW", "DECLINED"), cursor.fetchone(), strict=True)
        print("  decisions: " + ", ".join(f"{d} {int(n or 0):,}" for d, n in decisions) + f"  (alerts {alerts:,})")
        cursor.execute(sql["alert_reasons"], key)
        reasons = Counter(code for (text,) in cursor.fetchall() for code in (text or "").split(",") if code)
        if reasons:
            print("  top alert reasons: " + ", ".join(f"{r} {n:,}" for r, n in reasons.most_common(6)))
        cursor.execute(sql["latencies_ms"], key)
        latency = np.array([float(v) for (v,) in cursor.fetchall()])
        if len(latency):
            p50, p95, p99, worst = np.percentile(latency, [50, 95, 99, 100])
            print(f"  send-to-commit latency ms: p50 {p50:,.0f}, p95 {p95:,.0f}, p99 {p99:,.0f}, max {worst:,.0f}"
                  "  (a catch-up run includes the time messages waited before the job started)")
        cursor.execute(sql["rejected_by_reason"], key)
        rows = cursor.fetchall()
        if rows:
            print("  rejected by reason: " + ", ".join(f"{r} {n:,}" for r, n in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
