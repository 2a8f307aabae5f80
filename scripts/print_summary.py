"""Print what the scoring job stored in MySQL: totals, rejected by reason, latest batches."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import load_config  # noqa: E402
from sinks.mysql_connection import connect, named_statements  # noqa: E402


def main() -> int:
    config = load_config()
    statements = named_statements("summary.sql")
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(statements["totals"])
        scored, rejected, batches = cursor.fetchone()
        print(f"\nscored_transactions: {scored}   rejected_payments: {rejected}   batches: {batches}")
        cursor.execute(statements["rejected_by_reason"])
        rows = cursor.fetchall()
        if rows:
            print("\nrejected by reason:")
            for reason, count in rows:
                print(f"  {reason:<22} {count:>8}")
        cursor.execute(statements["latest_batches"], {"limit": 5})
        print("\nlatest batches:  batch   in   scored  rejected  seconds")
        for batch_id, rows_in, rows_scored, rows_rejected, seconds in cursor.fetchall():
            print(f"              {batch_id:>8} {rows_in:>6} {rows_scored:>8} {rows_rejected:>9} {float(seconds):>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
