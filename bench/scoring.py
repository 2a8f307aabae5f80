"""The scoring stage's model call on one core: each model version scores the features of a
generated month, in Arrow-sized batches, single-threaded as a Python worker runs it
(udfs/scoring.single_threaded). Prints rows/s per version.

    make bench-scoring                                       # the current model
    make bench-scoring ARGS="--models random_forest-20180725-94c7c244,random_forest_deep-20180725-9576dfa4"
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from core.config import load_config  # noqa: E402
from core.spark import ARROW_BATCH_ROWS, build_spark_session  # noqa: E402
from features.batch import compute_features, labels_after_delay  # noqa: E402
from features.definitions import model_feature_names  # noqa: E402
from generator.simulator import SimulationParams, generate  # noqa: E402
from udfs.model_artifact import checked_version  # noqa: E402
from udfs.scoring import single_threaded  # noqa: E402

TARGET_ROWS_PER_SECOND = 100_000
REPEATS = 3


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="comma-separated versions (default: the configured model)")
    parser.add_argument("--days", type=int, default=30, help="days of generated payments to score")
    return parser.parse_args()


def feature_rows(config, days: int) -> np.ndarray:
    """The model inputs of a generated dataset's payments, computed by the stream's operators."""
    dataset = generate(SimulationParams(n_days=days, seed=1))[0]
    spark = build_spark_session(config, "bench-scoring")
    features = compute_features(spark, dataset, labels_after_delay(dataset, timedelta(days=7)), config.features)
    return np.nan_to_num(features[model_feature_names(config.features)].to_numpy(dtype=np.float64))


def rows_per_second(pipeline, rows: np.ndarray) -> float:
    """Best of REPEATS passes over the rows in ARROW_BATCH_ROWS batches, one thread."""
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        for start in range(0, len(rows), ARROW_BATCH_ROWS):
            pipeline.predict_proba(rows[start:start + ARROW_BATCH_ROWS])
        best = min(best, time.perf_counter() - started)
    return len(rows) / best


def main() -> int:
    args = parse_args()
    config = load_config()
    versions = args.models.split(",") if args.models else [config.model.artifact_dir().name]
    names = model_feature_names(config.features)
    models = {version: single_threaded(checked_version(config.model.artifacts_dir, version, names))
              for version in versions}
    rows = feature_rows(config, args.days)
    print(f"{len(rows):,} payments, batches of {ARROW_BATCH_ROWS:,} rows, one thread, best of {REPEATS}:")
    for version, model in models.items():
        rate = rows_per_second(model.pipeline, rows)
        verdict = "meets" if rate >= TARGET_ROWS_PER_SECOND else "misses"
        print(f"  {version}: {rate:,.0f} rows/s on one core ({verdict} the {TARGET_ROWS_PER_SECOND:,} target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
