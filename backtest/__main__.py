"""Backtest a change before it goes live: replay a labelled dataset through the job's own features,
model and rules into a separate database, then print and write a report (markdown and PNG plots).

    make backtest                                   # a generated month, the current configuration
    make backtest ARGS="--input data/payments.parquet --start 2018-08-01 --rules candidate.yaml"
    .venv/bin/python -m backtest --model VERSION    # the current configuration against another model
    make backtest ARGS="--kafka-topic payments --from-offsets '{\"payments\":{\"0\":5000}}' --rules candidate.yaml"

--rules FILE holds `rules:` (and optionally `score_bands:`) as in conf/payments.yaml's
`decisions:`; with --rules or --model the candidate is reported beside the current configuration
(the registry's champion and conf/'s decisions) on the same payments."""
from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import yaml

from core.config import PROJECT_ROOT, AppConfig, ConfigError, DecisionsConfig, load_config

log = logging.getLogger("backtest")
DEFAULT_OUT = PROJECT_ROOT / "backtest-reports"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m backtest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", help="labelled dataset (.parquet/.csv/.jsonl: the contract's fields + is_fraud); "
                                        "default: a generated one (--days, seed 0)")
    parser.add_argument("--kafka-topic", help="replay this Kafka topic's payments instead of a file, labelled by "
                                              "the labels topic's latest label of each (none: not fraud)")
    parser.add_argument("--from-offsets", default="earliest",
                        help="with --kafka-topic: Spark's startingOffsets (earliest or JSON per partition)")
    parser.add_argument("--to-offsets", default="latest",
                        help="with --kafka-topic: Spark's endingOffsets (latest or JSON per partition)")
    parser.add_argument("--labels-topic", help="with --kafka-topic: the labels topic (default kafka.topics.labels)")
    parser.add_argument("--save-dataset", help="also write the labelled dataset replayed to this Parquet file (e.g. "
                                               "a training set from Kafka: make train ARGS=\"--input FILE\")")
    parser.add_argument("--days", type=int, default=30, help="days of the generated dataset (default 30)")
    parser.add_argument("--start", help="first day reported (UTC, YYYY-MM-DD); earlier days only build history")
    parser.add_argument("--end", help="last day reported (UTC, YYYY-MM-DD, inclusive)")
    parser.add_argument("--rules", help="candidate decision rules (YAML)")
    parser.add_argument("--model", help="candidate model version (under model.artifacts_dir)")
    parser.add_argument("--database-prefix", help="the variants' databases are <prefix>_current and "
                                                  "<prefix>_candidate (default: <mysql.database>_backtest)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="report folder (default backtest-reports/)")
    parser.add_argument("--config", help="YAML config (default: PAYMENTS_CONFIG or conf/payments.yaml)")
    return parser.parse_args(argv)


def candidate_decisions(path: str | None, current: DecisionsConfig) -> DecisionsConfig:
    """The candidate's decisions: the file's rules and score bands over the current ones."""
    if path is None:
        return current
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    section = raw.get("decisions", raw)
    if not isinstance(section, dict) or "rules" not in section:
        raise ConfigError("--rules", path, "expected a YAML mapping with `rules:` (as conf/payments.yaml's decisions:)")
    try:
        return DecisionsConfig(**{"score_bands": current.score_bands, **section})
    except ValueError as error:
        raise ConfigError("--rules", path, str(error)) from None


def read_labelled_dataset(args: argparse.Namespace, spark, config: AppConfig) -> pd.DataFrame:
    if args.input and args.kafka_topic:
        raise ConfigError("--input", args.input, "give a file or --kafka-topic, not both")
    if args.kafka_topic:
        from backtest.kafka_input import KafkaRange, read_kafka_dataset
        return read_kafka_dataset(spark, config, KafkaRange(args.kafka_topic, args.from_offsets, args.to_offsets,
                                                            args.labels_topic))
    if args.input:
        from producer.encoding import read_dataset
        dataset = read_dataset(args.input)
        if "is_fraud" not in dataset.columns:
            raise ConfigError("--input", args.input, "a backtest needs labelled payments: no is_fraud column")
        return dataset
    from generator.simulator import SimulationParams, generate
    return generate(SimulationParams(n_days=args.days, seed=0))[0]


def reported_period(frame: pd.DataFrame, start: str | None, end: str | None) -> pd.DataFrame:
    """The results of the days asked for (all without --start/--end)."""
    keep = pd.Series(True, index=frame.index)
    if start:
        keep &= frame["event_time"] >= pd.Timestamp(start, tz="UTC")
    if end:
        keep &= frame["event_time"] < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)
    return frame[keep]


def variants_of(args: argparse.Namespace, config: AppConfig):
    """The current configuration (the registry's champion, conf/'s decisions), and the candidate if asked."""
    from backtest.replay import Variant
    from features.definitions import model_feature_names
    from model.registry import ModelRegistry
    from udfs.model_artifact import checked_version
    features = model_feature_names(config.features)
    champion = ModelRegistry(config).current().champion
    variants = [Variant("current", config.decisions, checked_version(config.model.artifacts_dir, champion, features))]
    if args.rules or args.model:
        model = checked_version(config.model.artifacts_dir, args.model, features) if args.model else variants[0].model
        variants.append(Variant("candidate", candidate_decisions(args.rules, config.decisions), model))
    return variants


def source_name(args: argparse.Namespace) -> str:
    if args.kafka_topic:
        return f"Kafka topic {args.kafka_topic} from {args.from_offsets} to {args.to_offsets}"
    return args.input or f"generated {args.days} days"


def run(args: argparse.Namespace) -> Path:
    from backtest import replay, report
    from backtest.progress import spark_progress
    from core.spark import build_spark_session
    from decisions.rules import compile_rules
    from events.schemas import scored_payment_schema
    from features.definitions import stored_feature_names

    config = load_config(args.config)
    variants = variants_of(args, config)
    spark = build_spark_session(config, "backtest")
    dataset = read_labelled_dataset(args, spark, config)
    if args.save_dataset:
        dataset.to_parquet(args.save_dataset, index=False)
        log.info("labelled dataset: %s (%d payments, %d frauds)", args.save_dataset, len(dataset),
                 int(dataset["is_fraud"].sum()))
    for variant in variants:
        compile_rules(spark, variant.decisions.rules, scored_payment_schema(stored_feature_names(config.features)))
    replay.ship(spark, variants)
    run_id, prefix = uuid.uuid4().hex[:12], args.database_prefix or f"{config.mysql.database}_backtest"
    featured_df = replay.persisted(replay.featured_records(spark, dataset, config))
    frames, figures = {}, []
    for variant in variants:
        mysql = replay.backtest_database(config.mysql, f"{prefix}_{variant.name}")
        replay.fresh_database(config, mysql)
        with spark_progress(spark, f"{variant.name}: features, score, decide, write to {mysql.database}"):
            replay.write_variant(replay.scored_payments(featured_df, config, variant, run_id), mysql)
        frame = report.labelled(reported_period(replay.stored_results(mysql), args.start, args.end), dataset)
        frames[variant.name] = frame
        figures.append(report.figures_of(variant.name, variant.model.version, frame))
    featured_df.unpersist()
    title = f"Backtest {run_id}: {source_name(args)}"
    path = report.write_report(Path(args.out), title, figures, frames)
    print(report.summary_table(figures))
    return path


def main(argv: list[str] | None = None) -> int:
    from core.logs import configure_logging
    configure_logging()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    from decisions.rules import RuleError
    from model.registry import RegistryError
    from udfs.model_artifact import ModelArtifactError
    try:
        path = run(args)
    except (ConfigError, ValueError, OSError, ModelArtifactError, RegistryError, RuleError) as error:
        print(f"python -m backtest: {error}", file=sys.stderr)
        return 2
    print(f"report: {path} ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
