"""Train the fraud model on the stream's own features and write a versioned artifact.

    .venv/bin/python jobs/train_model.py                 # generated default dataset, 7/7/7 split
    .venv/bin/python jobs/train_model.py --input data/payments.parquet --train-start 2018-07-25

Features come from the scoring query's own stateful operators, run as a Spark batch query
(local[*]; scripts/spark-submit jobs/train_model.py runs it on a cluster).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from core.config import load_config  # noqa: E402
from core.logs import configure_logging  # noqa: E402
from core.spark import build_spark_session  # noqa: E402
from features.batch import compute_features, labels_after_delay  # noqa: E402
from features.definitions import model_feature_names  # noqa: E402
from generator.simulator import SimulationParams, generate  # noqa: E402
from producer.encoding import read_dataset  # noqa: E402
from training.model_card import write_model_card  # noqa: E402
from training.split import SplitPlan  # noqa: E402
from training.train import build_metadata, fit_and_compare  # noqa: E402
from udfs.model_artifact import ARTIFACTS_DIR, CURRENT_FILE, MODEL_DIR, save_artifact  # noqa: E402

log = logging.getLogger("train_model")
DEFAULT_COMMAND = ".venv/bin/python jobs/train_model.py"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="train_model.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", help="labelled dataset (.parquet/.csv/.jsonl with is_fraud); "
                                        "default: generate the default dataset (seed 0)")
    parser.add_argument("--train-start", default="2018-07-25")
    parser.add_argument("--train-days", type=int, default=7)
    parser.add_argument("--test-days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-set-current", action="store_true", help="do not make it the default model")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_logging()
    config = load_config()
    started = time.monotonic()
    if args.input:
        dataset, description = read_dataset(args.input), {"file": args.input}
    else:
        params = SimulationParams(seed=args.seed)
        dataset, _ = generate(params)
        description = {"customers": params.n_customers, "terminals": params.n_terminals,
                       "days": params.n_days, "seed": params.seed}
    delay = timedelta(days=config.features.label_delay_days)
    spark = build_spark_session(config, "train-model")
    features = compute_features(spark, dataset, labels_after_delay(dataset, delay), config.features,
                                base_currency=config.currency.base)
    frame = pd.concat([dataset[["transaction_id", "customer_id", "event_time", "is_fraud"]],
                       features.drop(columns=["amount"], errors="ignore"), dataset[["amount"]]], axis=1)
    log.info("features of %d payments in %.1f s", len(frame), time.monotonic() - started)
    names = model_feature_names(config.features)
    plan = SplitPlan(pd.Timestamp(args.train_start, tz="UTC"), args.train_days,
                     config.features.label_delay_days, args.test_days)
    result = fit_and_compare(frame, names, plan, args.seed)
    metadata = build_metadata(result, names, plan, description)
    folder = ARTIFACTS_DIR / metadata["version"]
    save_artifact(folder, result.pipeline, metadata)
    if not args.no_set_current:
        CURRENT_FILE.write_text(metadata["version"] + "\n", encoding="utf-8")
        write_model_card(metadata, MODEL_DIR / "MODEL_CARD.md", " ".join([DEFAULT_COMMAND, *(argv or sys.argv[1:])]))
    print(json.dumps({"version": metadata["version"], "chosen": result.best, "validation": result.validation,
                      "test": result.test_metrics, "thresholds": metadata["thresholds"]}, indent=2))
    log.info("artifact written to %s in %.0f s total", folder, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
