"""Calendar features of a payment's event time (UTC): stateless column functions."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def during_weekend(event_time: Column) -> Column:
    """1 on Saturday and Sunday (dayofweek: Sunday = 1 ... Saturday = 7)."""
    return F.dayofweek(event_time).isin(1, 7).cast("int")


def during_night(event_time: Column) -> Column:
    """1 from midnight to 06:59."""
    return (F.hour(event_time) <= 6).cast("int")


def with_calendar_features(records_df: DataFrame) -> DataFrame:
    event_time = F.col("event_time")
    return records_df.withColumns({"during_weekend": during_weekend(event_time),
                                   "during_night": during_night(event_time)})
