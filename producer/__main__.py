"""Send payments (a generated or given dataset) to Kafka in event-time order.

  python -m producer --generate --n-days 7                     # generated week, as fast as possible
  python -m producer --input data.parquet --rate 5000          # 5,000 tx/s
  python -m producer --generate --compress-time 7d:10m --labels fraud   # a week in 10 minutes
"""
from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta

from core.config import ConfigError, load_config
from generator.simulator import SimulationParams, generate
from producer.encoding import DatasetError, read_dataset
from producer.plan import INVALID, LABEL, PAYMENT, build_plan
from producer.sender import Pacing, TerminalProgress, send_plan
from services.topics import ensure_topics

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def duration_seconds(text: str) -> float:
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number and s, m, h or d, e.g. 7d or 10m")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def compression(text: str) -> float:
    """'7d:10m' (replay 7 days of event time in 10 minutes) -> event seconds per wall second."""
    event, _, wall = text.partition(":")
    if not wall:
        raise argparse.ArgumentTypeError(f"{text!r}: expected EVENT:WALL, e.g. 7d:10m")
    return duration_seconds(event) / duration_seconds(wall)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m producer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="dataset: .parquet, .csv or .jsonl with the contract's fields")
    source.add_argument("--generate", action="store_true", help="generate the dataset (see --n-days ...)")
    parser.add_argument("--n-customers", type=int, default=5_000)
    parser.add_argument("--n-terminals", type=int, default=10_000)
    parser.add_argument("--n-days", type=int, default=7)
    parser.add_argument("--start-date", default="2018-04-01")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--topic", help="payments topic (default: kafka.topics.payments)")
    parser.add_argument("--labels-topic", help="labels topic (default: kafka.topics.labels)")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, help="target messages per second (default: as fast as possible)")
    pace.add_argument("--compress-time", type=compression, metavar="EVENT:WALL",
                      help="replay event time faster, e.g. 7d:10m = 7 days in 10 minutes")
    parser.add_argument("--labels", choices=("none", "fraud", "all"), default="none",
                        help="also send fraud labels: for frauds only, or for every payment")
    parser.add_argument("--label-delay", type=duration_seconds, default=7 * 86_400, metavar="DURATION",
                        help="event-time delay before a label is sent (default 7d)")
    parser.add_argument("--invalid-fraction", type=float, default=0.0,
                        help="share of extra invalid messages mixed in, every kind in turn (e.g. 0.01)")
    parser.add_argument("--limit", type=int, help="send only the first N payments (event-time order)")
    parser.add_argument("--id-prefix", default="", help="prefix for every transaction_id (e.g. a run id)")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config()
        if args.generate:
            payments, _ = generate(SimulationParams(n_customers=args.n_customers, n_terminals=args.n_terminals,
                                                    n_days=args.n_days, start_date=args.start_date,
                                                    seed=args.seed))
        else:
            payments = read_dataset(args.input)
    except (ConfigError, DatasetError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.labels != "none" and "is_fraud" not in payments.columns:
        print("error: --labels needs an is_fraud column in the dataset", file=sys.stderr)
        return 2
    payments = payments.sort_values("event_time", kind="stable")
    if args.id_prefix:
        payments = payments.assign(transaction_id=args.id_prefix + payments["transaction_id"].astype(str))
    if args.limit:
        payments = payments.head(args.limit)
    plan = build_plan(payments, args.labels, timedelta(seconds=args.label_delay), args.invalid_fraction, args.seed)
    topics = {PAYMENT: args.topic or config.kafka.topics.payments,
              LABEL: args.labels_topic or config.kafka.topics.labels,
              INVALID: args.topic or config.kafka.topics.payments}
    ensure_topics(config.kafka, sorted(set(topics.values())))
    report = send_plan(plan, config.kafka.bootstrap_servers, topics,
                       Pacing(rate=args.rate, speedup=args.compress_time),
                       None if args.quiet else TerminalProgress(), config.kafka.security.librdkafka_settings())
    print(f"sent {report.sent:,} messages in {report.seconds:.1f} s ({report.rate:,.0f} msg/s): "
          f"{report.by_kind[PAYMENT]:,} payments to '{topics[PAYMENT]}', {report.by_kind[INVALID]:,} invalid, "
          f"{report.by_kind[LABEL]:,} labels to '{topics[LABEL]}'; {report.failed} failed")
    if report.failed:
        print(f"error: {report.failed} messages failed, first: {report.first_error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
