"""Decisions: the most severe of the score band and the fired rules wins; reasons record why."""
from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from core.config import DecisionRule
from decisions.rules import RuleError, ScoreBands, compile_rules, with_decision

RULES = (
    DecisionRule("LARGE_AMOUNT", "amount > 5000", "REVIEW", "big"),
    DecisionRule("BURST_10M", "cust_count_10m > 10", "REVIEW", "burst"),
    DecisionRule("SPIKE", "amount > 10 * cust_mean_amount_30d", "DECLINED", "spike"),
)
BANDS = ScoreBands(review=0.3, decline=0.8)
SCHEMA = T.StructType([T.StructField("transaction_id", T.StringType()), T.StructField("amount", T.DoubleType()),
                       T.StructField("cust_count_10m", T.LongType()),
                       T.StructField("cust_mean_amount_30d", T.DoubleType()), T.StructField("score", T.DoubleType())])


def test_most_severe_action_wins_and_reasons_list_rules_then_band(spark):
    source_df = spark.createDataFrame([
        ("ok", 20.0, 1, 20.0, 0.01),
        ("big", 6000.0, 1, 5000.0, 0.01),
        ("big-burst-medium", 6000.0, 12, 5000.0, 0.5),
        ("spike-low-score", 900.0, 1, 50.0, 0.1),
        ("high-score", 20.0, 1, 20.0, 0.95),
        ("nulls", None, None, None, None),
    ], SCHEMA)
    actual_df = source_df.transform(with_decision(RULES, BANDS, F.lit(True))).select("transaction_id", "decision",
                                                                                    "reasons")
    expected_df = spark.createDataFrame([
        ("ok", "APPROVED", "SCORE_LOW"),
        ("big", "REVIEW", "LARGE_AMOUNT,SCORE_LOW"),
        ("big-burst-medium", "REVIEW", "LARGE_AMOUNT,BURST_10M,SCORE_MEDIUM"),
        ("spike-low-score", "DECLINED", "SPIKE,SCORE_LOW"),
        ("high-score", "DECLINED", "SCORE_HIGH"),
        ("nulls", "APPROVED", "SCORE_LOW"),
    ], "transaction_id string, decision string, reasons string")
    assert_df_equality(actual_df, expected_df, ignore_nullable=True, ignore_row_order=True)


@pytest.mark.parametrize("when, message", [
    ("amount >", "does not compile"),
    ("no_such_column > 1", "does not compile"),
    ("amount * 2", "not a boolean"),
    ("java_method('java.lang.System', 'exit', 0) IS NULL", "reaches outside SQL .CallMethodViaReflection"),
    ("reflect('java.lang.Runtime', 'getRuntime') IS NOT NULL AND amount > 1", "reaches outside SQL"),
    ("try_reflect('java.io.File', 'listRoots') IS NULL", "reaches outside SQL"),
])
def test_a_bad_rule_is_refused_naming_it(spark, when, message):
    with pytest.raises(RuleError, match=f"decision rule BAD_ONE .*{message}"):
        compile_rules(spark, (*RULES, DecisionRule("BAD_ONE", when, "REVIEW", "x")), SCHEMA)


def test_the_configured_rules_compile_against_the_scored_columns(spark):
    from core.config import load_config
    from events.schemas import scored_payment_schema
    from features.definitions import stored_feature_names

    config = load_config()
    compile_rules(spark, config.decisions.rules, scored_payment_schema(stored_feature_names(config.features)))


def test_rows_that_are_not_scored_get_no_decision_and_their_rules_are_not_evaluated(spark):
    """Labels and rejected messages flow through the same query: no decision, and a rule that
    would fail on their NULLs (a division by zero under ANSI SQL) is never run for them."""
    rules = (DecisionRule("RATIO", "amount / cust_count_10m > 100", "REVIEW", "ratio"),)
    source_df = spark.createDataFrame([("paid", 6000.0, 2, 20.0, 0.1, True),
                                       ("label", 6000.0, 0, None, None, False)],
                                      T.StructType([*SCHEMA.fields, T.StructField("is_scored", T.BooleanType())]))
    actual_df = (source_df.transform(with_decision(rules, BANDS, F.col("is_scored")))
                 .select("transaction_id", "decision", "reasons"))
    expected_df = spark.createDataFrame([("paid", "REVIEW", "RATIO,SCORE_LOW"), ("label", None, None)],
                                        "transaction_id string, decision string, reasons string")
    assert_df_equality(actual_df, expected_df, ignore_nullable=True, ignore_row_order=True)


def test_a_rule_that_raises_for_a_row_counts_as_not_fired_for_that_row_only(spark):
    """A division by zero under ANSI SQL fails that row's rule, not the task: the row records the
    rule in rule_errors and is decided by the other rules and its score band."""
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"
    rules = (DecisionRule("PER_PAYMENT", "amount / cust_count_10m > 100", "DECLINED", "ratio"), RULES[0])
    source_df = spark.createDataFrame([("fires", 6000.0, 2, 20.0, 0.1), ("quiet", 60.0, 2, 20.0, 0.1),
                                       ("raises", 6000.0, 0, 20.0, 0.1), ("null", None, 0, 20.0, 0.1)], SCHEMA)
    actual_df = (source_df.transform(with_decision(rules, BANDS, F.lit(True)))
                 .select("transaction_id", "decision", "reasons", "rule_errors"))
    expected_df = spark.createDataFrame([
        ("fires", "DECLINED", "PER_PAYMENT,LARGE_AMOUNT,SCORE_LOW", None),
        ("quiet", "APPROVED", "SCORE_LOW", None),
        ("raises", "REVIEW", "LARGE_AMOUNT,SCORE_LOW", "PER_PAYMENT"),
        ("null", "APPROVED", "SCORE_LOW", None),
    ], "transaction_id string, decision string, reasons string, rule_errors string")
    assert_df_equality(actual_df, expected_df, ignore_nullable=True, ignore_row_order=True)
