"""Each stage of the scoring job on a benchmark run's topics (run by bench.throughput under
spark-submit). The stages are one Spark plan and run fused inside the job, so they are timed
as cuts of the job's own plan: read + parse; + stateful features; + model score and decisions,
each run as a streaming query from the earliest offsets, in the job's micro-batches, into
Spark's no-op sink. A stage's figure is its cut's time minus the previous cut's; the MySQL
write is the end-to-end run's time minus the last cut's.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyspark.sql import SparkSession  # noqa: E402

from core.config import AppConfig, load_config  # noqa: E402
from core.spark import build_spark_session  # noqa: E402
from events.kafka_source import read_payment_records  # noqa: E402
from pipeline.scoring_query import load_scoring_model, scored_records, with_stream_overrides  # noqa: E402
from udfs.scoring import ship_model  # noqa: E402

CUTS = ("read_parse", "features", "scoring")


def run_cut(spark: SparkSession, config: AppConfig, model, cut: str, checkpoint: Path) -> tuple[float, int]:
    """(seconds from the first micro-batch's start to the last one's end, records) of one cut."""
    records_df = read_payment_records(spark, config.kafka, config.stream)
    query = (scored_records(records_df, config, model, until=cut).writeStream.format("noop")
             .option("checkpointLocation", str(checkpoint)).trigger(availableNow=True).start())
    query.awaitTermination()
    if query.exception() is not None:
        raise SystemExit(f"cut {cut} failed: {query.exception()}")
    progress = [p for p in query.recentProgress if p["numInputRows"]]
    seconds = sum(p["durationMs"]["triggerExecution"] for p in progress) / 1000
    return seconds, sum(p["numInputRows"] for p in progress)


def run_stages(spark: SparkSession, config: AppConfig, end_to_end_seconds: float | None) -> dict:
    model = load_scoring_model(config)
    ship_model(spark, model.folder)
    seconds, records = {}, 0
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as folder:
        for cut in CUTS:
            seconds[cut], records = run_cut(spark, config, model, cut, Path(folder) / cut)
    stage_seconds, previous = {}, 0.0
    for cut in CUTS:
        stage_seconds[cut], previous = max(seconds[cut] - previous, 1e-3), seconds[cut]
    if end_to_end_seconds is not None:
        stage_seconds["mysql_write"] = max(end_to_end_seconds - previous, 1e-3)
    return {"records": records, "cut_seconds": {c: round(s, 2) for c, s in seconds.items()},
            "seconds": {s: round(v, 2) for s, v in stage_seconds.items()},
            "rows_per_second": {s: round(records / v) for s, v in stage_seconds.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payments-topic", required=True)
    parser.add_argument("--labels-topic", required=True)
    parser.add_argument("--batch-rows", type=int, required=True, help="records per micro-batch, as the job ran")
    parser.add_argument("--end-to-end-seconds", type=float, help="the job's own time, for the MySQL write's share")
    parser.add_argument("--out", required=True, help="JSON file for the figures")
    args = parser.parse_args()
    config = with_stream_overrides(load_config(), payments_topic=args.payments_topic, labels_topic=args.labels_topic,
                                   max_offsets_per_trigger=args.batch_rows, starting_offsets="earliest")
    spark = build_spark_session(config, "bench-stages", {"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("WARN")
    started = time.monotonic()
    figures = run_stages(spark, config, args.end_to_end_seconds)
    figures["wall_seconds"] = round(time.monotonic() - started, 1)
    Path(args.out).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
