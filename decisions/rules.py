"""APPROVED / REVIEW / DECLINED from the score band and the rules in conf/ (decisions:).

Every row records the decision and its reasons: the ids of the rules that fired and the
score band. The most severe action wins. A rule that does not compile, or is not boolean,
stops the job at start with the rule's id. A rule that raises while it runs (a division by zero
under ANSI mode, a bad cast) counts as not fired for that row only: the row records the rule's
id in rule_errors and the sink counts and logs it; the stream goes on.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from core.config import ACTIONS, DecisionRule, DecisionsConfig

SEVERITY = {action: rank for rank, action in enumerate(ACTIONS)}
BAND_ACTION = {"SCORE_LOW": "APPROVED", "SCORE_MEDIUM": "REVIEW", "SCORE_HIGH": "DECLINED"}


class RuleError(ValueError):
    """A decision rule does not compile against the scored payment's columns."""


@dataclass(frozen=True)
class ScoreBands:
    review: float
    decline: float


def score_bands(decisions: DecisionsConfig, trained_thresholds: dict) -> ScoreBands:
    """conf/ thresholds where set, else the ones chosen when the model was trained (its metadata)."""
    review, decline = decisions.review_threshold, decisions.decline_threshold
    return ScoreBands(review=review if review is not None else float(trained_thresholds.get("review", 0.5)),
                      decline=decline if decline is not None else float(trained_thresholds.get("decline", 0.9)))


def score_band(score: Column, bands: ScoreBands) -> Column:
    return (F.when(score >= bands.decline, "SCORE_HIGH")
            .when(score >= bands.review, "SCORE_MEDIUM")
            .otherwise("SCORE_LOW"))


# Expressions a rule may not hold: they run code of the JVM's choosing (reflection, object
# invocation) or code outside SQL (user-defined functions).
OUTSIDE_SQL = ("CallMethodViaReflection", "TryReflect", "ScalaUDF", "PythonUDF", "ScalaAggregator", "HiveSimpleUDF",
               "HiveGenericUDF", "HiveGenericUDTF", "HiveUDAFFunction")
OUTSIDE_SQL_PACKAGES = (".expressions.objects.",)


def compile_rules(spark: SparkSession, rules: tuple[DecisionRule, ...], schema: T.StructType) -> None:
    """Analyse every rule against the scored payment's schema; fail naming the first bad one: it
    does not compile, is not boolean, or reaches outside SQL (reflect, java_method, a UDF)."""
    empty_df = spark.createDataFrame([], schema)
    for rule in rules:
        try:
            fired_df = empty_df.select(F.expr(rule.when).alias("fired"))
            result_type = fired_df.schema["fired"].dataType
        except Exception as error:  # AnalysisException, ParseException
            raise RuleError(f"decision rule {rule.id} ({rule.when!r}) does not compile: "
                            f"{str(error).splitlines()[0]}") from None
        if not isinstance(result_type, T.BooleanType):
            raise RuleError(f"decision rule {rule.id} ({rule.when!r}) gives {result_type.simpleString()}, "
                            "not a boolean")
        refused = sorted(name for name in expression_classes(fired_df) if reaches_outside_sql(name))
        if refused:
            raise RuleError(f"decision rule {rule.id} ({rule.when!r}) is refused: it reaches outside SQL "
                            f"({', '.join(name.rpartition('.')[2] for name in refused)}); a rule may only combine "
                            "SQL expressions over the payment, its features and score")


def expression_classes(frame: DataFrame) -> set[str]:
    """The class names of every expression in a frame's analysed projection."""
    projection = frame._jdf.queryExecution().analyzed().expressions()
    pending = [projection.apply(i) for i in range(projection.size())]
    found = set()
    while pending:
        expression = pending.pop()
        found.add(expression.getClass().getName())
        children = expression.children()
        pending += [children.apply(i) for i in range(children.size())]
    return found


def reaches_outside_sql(class_name: str) -> bool:
    return class_name.rpartition(".")[2] in OUTSIDE_SQL or any(package in class_name
                                                                for package in OUTSIDE_SQL_PACKAGES)


def rule_outcome(rule: DecisionRule) -> Column:
    """The rule's condition evaluated per row: true or false (NULL counts as false), NULL when it
    raised for that row (Spark's TryEval around it: the error does not fail the task)."""
    spark = SparkSession.getActiveSession()
    jvm = spark.sparkContext._jvm
    expressions = jvm.org.apache.spark.sql.catalyst.expressions
    condition = spark._jsparkSession.sessionState().sqlParser().parseExpression(rule.when)
    never_null = expressions.Coalesce(jvm.scala.jdk.javaapi.CollectionConverters.asScala(
        [condition, expressions.Literal.create(False, jvm.org.apache.spark.sql.types.DataTypes.BooleanType)]).toSeq())
    return Column(jvm.org.apache.spark.sql.classic.ExpressionUtils.column(expressions.TryEval(never_null)))


def decision_columns(rules: tuple[DecisionRule, ...], bands: ScoreBands) -> dict[str, Column]:
    """score_band, reasons (fired rule ids, then the band), decision and rule_errors (ids of the
    rules that raised for the row), over a frame with the payment, its features and score."""
    band = score_band(F.col("score"), bands)
    outcomes = [rule_outcome(rule) for rule in rules]
    conditions = [F.coalesce(outcome, F.lit(False)) for outcome in outcomes]
    fired = [F.when(condition, F.lit(rule.id)) for condition, rule in zip(conditions, rules, strict=True)]
    errors = [F.when(outcome.isNull(), F.lit(rule.id)) for outcome, rule in zip(outcomes, rules, strict=True)]
    band_severity = F.when(band == "SCORE_HIGH", SEVERITY[BAND_ACTION["SCORE_HIGH"]]).when(
        band == "SCORE_MEDIUM", SEVERITY[BAND_ACTION["SCORE_MEDIUM"]]).otherwise(SEVERITY["APPROVED"])
    rule_severities = [F.when(condition, F.lit(SEVERITY[rule.action])).otherwise(0)
                       for condition, rule in zip(conditions, rules, strict=True)]
    severity = F.greatest(band_severity, *rule_severities) if rules else band_severity
    return {"score_band": band, "reasons": F.concat_ws(",", *fired, band),
            "decision": F.element_at(F.array(*[F.lit(a) for a in ACTIONS]), severity + 1),
            "rule_errors": F.nullif(F.concat_ws(",", *errors), F.lit(""))}


def with_decision(rules: tuple[DecisionRule, ...], bands: ScoreBands, is_scored: Column):
    """Transform: add score_band, reasons, decision and rule_errors to the rows is_scored selects (NULL for
    the others, whose rules are never evaluated). The columns are built once, when the query
    is defined."""
    columns = {name: F.when(is_scored, column) for name, column in decision_columns(rules, bands).items()}

    def transform(scored_df: DataFrame) -> DataFrame:
        return scored_df.withColumns(columns)
    return transform
