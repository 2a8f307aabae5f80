"""Score payments from Kafka into MySQL with an exactly-once effect.

    scripts/spark-submit jobs/score_payments.py [options]      # local[*], project jars
    scripts/spark-submit --master spark://host:7077 jobs/score_payments.py

SIGTERM or SIGINT stops the query after the micro-batch in progress commits.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyspark.errors import StreamingQueryException  # noqa: E402

from core.config import ConfigError, describe, load_config  # noqa: E402
from core.faults import armed_fault  # noqa: E402
from core.logs import configure_logging  # noqa: E402
from pipeline.restarts import RestartPolicy, is_outage, outage_summary  # noqa: E402

log = logging.getLogger("score_payments")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="score_payments.py",
        description="Read payments from Kafka, validate them (invalid ones are kept with a reason), "
                    "and write each micro-batch to MySQL exactly once. Defaults come from "
                    "conf/payments.yaml; KAFKA_BOOTSTRAP_SERVERS and MYSQL_* override hosts and "
                    "credentials.")
    parser.add_argument("--config", help="YAML config file (default: $PAYMENTS_CONFIG or conf/payments.yaml)")
    parser.add_argument("--checkpoint", help="checkpoint folder (default: stream.checkpoint_location)")
    parser.add_argument("--payments-topic", help="topic to score (default: kafka.topics.payments)")
    parser.add_argument("--labels-topic", help="fraud labels topic (default: kafka.topics.labels)")
    parser.add_argument("--starting-offsets", choices=("earliest", "latest"),
                        help="where a new checkpoint starts reading (default: stream.starting_offsets)")
    parser.add_argument("--max-offsets-per-trigger", type=int,
                        help="most Kafka records per micro-batch (default: stream.max_offsets_per_trigger)")
    parser.add_argument("--trigger-interval", help="micro-batch interval, e.g. '1 second'")
    parser.add_argument("--available-now", action="store_true",
                        help="process everything in the topic now, then stop (catch-up / demo mode)")
    parser.add_argument("--accept-checkpoint-mismatch", action="store_true",
                        help="start although the checkpoint and the database are out of step (a lost checkpoint, "
                             "a database restored to an older point): logged, not refused")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    from core.spark import build_spark_session
    from pipeline.scoring_query import load_scoring_model, start_scoring_query, trigger_settings, with_stream_overrides
    from sinks.checkpoint_guard import CheckpointMismatch
    from sinks.kafka_outbox import KafkaOutbox
    from sinks.stream_fence import StreamFenced
    from udfs.model_artifact import ModelArtifactError

    try:
        config = with_stream_overrides(
            load_config(args.config), args.checkpoint, args.starting_offsets,
            args.max_offsets_per_trigger, args.trigger_interval, args.payments_topic, args.labels_topic)
        config.mysql.secret()
        fault = armed_fault()
    except (ConfigError, ValueError) as error:
        log.error("%s", error)
        return 2
    if fault is not None:
        log.warning("fault injection armed: the job kills itself at %s of batch %d", *fault)
    try:
        model = load_scoring_model(config)
    except (ModelArtifactError, ConfigError) as error:
        log.error("refusing to start: %s", error)
        return 2
    log.info("model %s loaded and checked", model.version)
    log.info("effective config: %s", json.dumps(describe(config), default=str))
    spark = build_spark_session(config, "score-payments")
    stop_requested = _install_stop_handlers()
    policy = RestartPolicy(config.stream.restart_backoff_max_seconds, config.stream.restart_give_up_seconds)
    outbox = KafkaOutbox(config.kafka, config.mysql)
    while True:
        try:
            query = start_scoring_query(spark, config, trigger_settings(config, args.available_now), model=model,
                                        outbox=outbox, accept_checkpoint_mismatch=args.accept_checkpoint_mismatch)
        except StreamFenced as error:
            log.error("refusing to start: %s", error)
            return 3
        except CheckpointMismatch as error:
            log.error("refusing to start: %s", error)
            return 4
        except Exception as error:  # noqa: BLE001 - an outage while starting is retried like one while running
            if not is_outage(error):
                raise
            failure = error
        else:
            log.info("streaming query started (id %s, checkpoint %s)", query.id, config.stream.checkpoint_location)
            failure = _await(query, stop_requested, policy)
        if failure is None:
            _drain(outbox)
            return 0
        delay = policy.next_delay(failure)
        if delay is None:
            raise RuntimeError(f"streaming query failed: {failure}")
        log.warning("streaming query failed on an outage (%s); restarting from the checkpoint in %.0f s",
                    outage_summary(failure), delay)
        if stop_requested.wait(delay):
            log.info("query stopped")
            return 0


def _drain(outbox) -> None:
    """Let the outbox publish what the last batches committed before the job exits (what it
    cannot publish now, the next start does)."""
    if not outbox.drain(timeout=120) or outbox.last.error:
        log.warning("alerts and dead letters not all published before exit (%s); the next start publishes them",
                    outbox.last.error or "timed out")


def _install_stop_handlers() -> threading.Event:
    stop_requested = threading.Event()

    def request_stop(signum, _frame):
        log.info("received %s: stopping after the current micro-batch commits",
                 signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop_requested


def _await(query, stop_requested: threading.Event, policy: RestartPolicy):
    """Wait for the query to end; on a stop request, stop it between two micro-batches.
    Returns the query's exception if it failed, else None."""
    last_logged = None
    while query.isActive:
        if stop_requested.is_set() and not query.status["isTriggerActive"]:
            query.stop()
            break
        try:
            query.awaitTermination(0.2)
        except StreamingQueryException as failure:
            return failure
        logged = _log_progress(query.lastProgress, last_logged)
        if logged != last_logged:
            policy.committed()
        last_logged = logged
    if query.exception() is not None:
        return query.exception()
    log.info("query stopped")
    return None


def _log_progress(progress: dict | None, last_logged):
    """Spark's view of each finished micro-batch: input and processing rates, and where the
    trigger's time went outside foreachBatch (offsets, planning, checkpoint writes)."""
    if not progress or progress.get("batchId") == last_logged:
        return last_logged
    durations = dict(progress.get("durationMs", {}))
    trigger_ms = durations.pop("triggerExecution", None)
    log.info("progress batch %s: %s rows, input %.0f rows/s, processed %.0f rows/s, trigger %s ms (%s)",
             progress.get("batchId"), progress.get("numInputRows"), progress.get("inputRowsPerSecond") or 0.0,
             progress.get("processedRowsPerSecond") or 0.0, trigger_ms,
             " ".join(f"{name} {ms}" for name, ms in sorted(durations.items(), key=lambda item: -item[1]) if ms))
    return progress.get("batchId")

if __name__ == "__main__":
    sys.exit(main())
