"""Producer benchmark: generated payments to a fresh topic on the local broker; prints msg/s.

  make bench-producer            (default: the full default dataset, about 1.8 M messages)
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka.admin import AdminClient  # noqa: E402

from core.config import load_config  # noqa: E402
from generator.simulator import SimulationParams, generate  # noqa: E402
from producer.plan import INVALID, LABEL, PAYMENT, build_plan  # noqa: E402
from producer.sender import send_plan  # noqa: E402
from services.topics import ensure_topics  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-days", type=int, default=183)
    parser.add_argument("--keep-topic", action="store_true")
    args = parser.parse_args()
    config = load_config()
    topic = f"bench-producer-{uuid.uuid4().hex[:8]}"
    ensure_topics(config.kafka, [topic])
    started = time.monotonic()
    payments, _ = generate(SimulationParams(n_days=args.n_days))
    generated = time.monotonic()
    plan = build_plan(payments)
    encoded = time.monotonic()
    report = send_plan(plan, config.kafka.bootstrap_servers, {PAYMENT: topic, LABEL: topic, INVALID: topic},
                       security=config.kafka.security.librdkafka_settings())
    megabytes = sum(len(v) for v in plan.values) / 1e6
    print(f"generate: {len(payments):,} payments in {generated - started:.1f} s")
    print(f"encode:   {len(plan) / (encoded - generated):,.0f} msg/s ({encoded - generated:.1f} s)")
    print(f"send:     {report.rate:,.0f} msg/s, {megabytes / report.seconds:,.1f} MB/s "
          f"({report.sent:,} messages, {report.seconds:.1f} s incl. flush, {report.failed} failed, "
          f"{config.kafka.partitions} partitions, idempotent, lz4)")
    if not args.keep_topic:
        AdminClient(config.kafka.client_settings()).delete_topics([topic])
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
