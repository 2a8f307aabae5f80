"""Send a plan to Kafka: as fast as possible, at a target rate, or replaying event time faster.

Each record's Kafka timestamp (CreateTime) is the moment it was handed to the producer:
that is the send time the latency figures are measured from.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from confluent_kafka import KafkaException, Producer

from producer.plan import INVALID, LABEL, PAYMENT, SendPlan

CHUNK = 2_000  # messages between two pacing / progress checks
PACING_STEP_SECONDS = 0.01  # at a target rate, a pacing check every 10 ms of messages


@dataclass(frozen=True)
class Pacing:
    """rate: messages per second (None = as fast as possible); speedup: event seconds per wall second."""

    rate: float | None = None
    speedup: float | None = None

    def chunk(self) -> int:
        """Messages sent between two pacing checks. At a target rate, 10 ms worth: a steady
        load at the scale of the job's sub-second latency (2,000 at a time would be bursts of
        0.4 s at 5,000 msg/s, and the latency benchmark would measure the bursts)."""
        if self.rate:
            return max(1, min(CHUNK, int(self.rate * PACING_STEP_SECONDS)))
        return CHUNK


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    seconds: float = 0.0
    by_kind: dict = field(default_factory=dict)
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def producer_settings(bootstrap: str, security: dict | None = None) -> dict:
    """Idempotent, ordered, batched and compressed: no loss or duplicates on retries (security:
    TLS/SASL settings, KafkaSecurityConfig.librdkafka_settings)."""
    return {
        **(security or {}),
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 25,
        "batch.num.messages": 10_000,
        "batch.size": 1_000_000,
        "compression.type": "lz4",
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
    }


def send_plan(plan: SendPlan, bootstrap: str, topics: dict[int, str], pacing: Pacing = Pacing(),
              progress=None, security: dict | None = None) -> SendReport:
    """Send every message of the plan in order; flush; report what was delivered."""
    report = SendReport(by_kind={PAYMENT: plan.count(PAYMENT), LABEL: plan.count(LABEL),
                                 INVALID: plan.count(INVALID)})

    def on_delivery(error, _message):
        if error is not None:
            report.failed += 1
            report.first_error = report.first_error or str(error)

    producer = Producer({**producer_settings(bootstrap, security), "on_delivery": on_delivery})
    produce, poll = producer.produce, producer.poll
    started = time.monotonic()
    first_event_ns = int(plan.emit_ns[0]) if len(plan) else 0
    chunk = pacing.chunk()
    for start in range(0, len(plan), chunk):
        _wait_for_turn(pacing, started, start, int(plan.emit_ns[start]) - first_event_ns)
        for index in range(start, min(start + chunk, len(plan))):
            topic, key, value = topics[plan.kinds[index]], plan.keys[index], plan.values[index]
            while True:
                try:
                    produce(topic, value, key)
                    break
                except BufferError:
                    poll(0.05)
        poll(0)
        report.sent = min(start + chunk, len(plan))
        if progress is not None:
            progress(report.sent, len(plan), time.monotonic() - started)
    remaining = producer.flush(120)
    report.seconds = time.monotonic() - started
    if remaining:
        raise KafkaException(f"{remaining} messages still undelivered after 120 s")
    return report


def _wait_for_turn(pacing: Pacing, started: float, sent: int, event_offset_ns: int) -> None:
    """Sleep until the next chunk is due under the rate or the time compression."""
    due = started
    if pacing.rate:
        due = max(due, started + sent / pacing.rate)
    if pacing.speedup:
        due = max(due, started + event_offset_ns / 1e9 / pacing.speedup)
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)


class TerminalProgress:
    """Sent, rate and ETA: one updating line on a terminal, a line every 5 s otherwise."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.tty, self.last = stream, stream.isatty(), 0.0

    def __call__(self, sent: int, total: int, elapsed: float) -> None:
        interval = 0.5 if self.tty else 5.0
        if elapsed - self.last < interval and sent < total:
            return
        self.last = elapsed
        rate = sent / elapsed if elapsed else 0.0
        eta = (total - sent) / rate if rate else float("inf")
        line = f"sent {sent:,}/{total:,} ({sent / total:.0%})  {rate:,.0f} msg/s  ETA {eta:,.0f} s"
        self.stream.write(("\r" + line.ljust(70)) if self.tty else line + "\n")
        if self.tty and sent >= total:
            self.stream.write("\n")
        self.stream.flush()
