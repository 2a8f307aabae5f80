"""Send demo payments (and one message of each invalid kind) to the payments topic.

A seeded stand-in for the full simulator: customers pay at nearby terminals over a few
days. Each run sends new transaction ids, so the demo always has fresh work.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka import Producer  # noqa: E402

from core.config import load_config  # noqa: E402

INVALID_EXAMPLES = {
    "bad JSON": b'{"transaction_id": "x", ',
    "missing field": b'{"transaction_id":"m1","customer_id":"c","amount":1,"event_time":"2018-04-01T00:00:00Z"}',
    "wrong type": b'{"transaction_id":"w1","customer_id":"c","terminal_id":"t","amount":"12.5","event_time":"2018-04-01T00:00:00Z"}',
    "amount out of range": b'{"transaction_id":"a1","customer_id":"c","terminal_id":"t","amount":-5,"event_time":"2018-04-01T00:00:00Z"}',
    "bad currency": b'{"transaction_id":"b1","customer_id":"c","terminal_id":"t","amount":5,"currency":"EURO","event_time":"2018-04-01T00:00:00Z"}',
    "bad timestamp": b'{"transaction_id":"b2","customer_id":"c","terminal_id":"t","amount":5,"event_time":"yesterday"}',
    "oversize": b'{"transaction_id":"o1","pad":"' + b"x" * 20_000 + b'"}',
    "not UTF-8": b'{"transaction_id":"\xff\xfe"}',
}


def demo_payments(count: int, seed: int, run_id: str) -> list[dict]:
    rng = random.Random(seed)
    start = datetime(2018, 4, 1, tzinfo=timezone.utc)
    payments = []
    for index in range(count):
        customer = rng.randrange(500)
        moment = start + timedelta(seconds=rng.randrange(7 * 86_400))
        payments.append({
            "transaction_id": f"demo-{run_id}-{index}",
            "customer_id": f"C{customer:05d}",
            "terminal_id": f"T{(customer * 7 + rng.randrange(5)) % 1000:05d}",
            "amount": round(max(0.01, rng.gauss(50, 25)), 2),
            "event_time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        })
    payments.sort(key=lambda payment: payment["event_time"])
    return payments


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    config = load_config()
    run_id = uuid.uuid4().hex[:8]
    producer = Producer({"bootstrap.servers": config.kafka.bootstrap_servers,
                         "linger.ms": 20, "compression.type": "lz4"})
    topic = config.kafka.topics.payments
    started = time.monotonic()
    for payment in demo_payments(args.count, args.seed, run_id):
        producer.produce(topic, key=payment["customer_id"], value=json.dumps(payment))
        producer.poll(0)
    for value in INVALID_EXAMPLES.values():
        producer.produce(topic, key=b"invalid", value=value)
    undelivered = producer.flush(30)
    if undelivered:
        print(f"{undelivered} messages were not delivered", file=sys.stderr)
        return 1
    print(f"sent {args.count} payments and {len(INVALID_EXAMPLES)} invalid messages to "
          f"'{topic}' in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
