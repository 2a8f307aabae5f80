"""Generate a payment dataset: python -m generator --out data/payments.parquet [--days 30 ...]."""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from pathlib import Path

from generator.simulator import SimulationParams, generate


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m generator", description=__doc__)
    parser.add_argument("--out", required=True, type=Path, help="output file (.parquet or .csv)")
    parser.add_argument("--format", choices=("parquet", "csv"), help="default: from --out's suffix")
    defaults = SimulationParams()
    for field in fields(SimulationParams):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(getattr(defaults, field.name)),
                            default=getattr(defaults, field.name),
                            help=f"default {getattr(defaults, field.name)}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    params = SimulationParams(**{f.name: getattr(args, f.name) for f in fields(SimulationParams)})
    started = time.monotonic()
    payments_df, _ = generate(params)
    output_format = args.format or ("csv" if args.out.suffix == ".csv" else "parquet")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if output_format == "csv":
        payments_df.assign(event_time=payments_df["event_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
            args.out, index=False)
    else:
        payments_df.to_parquet(args.out, index=False)
    print(f"{len(payments_df):,} transactions, fraud rate {payments_df['is_fraud'].mean():.3%}, "
          f"written to {args.out} in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
