"""Amounts into the base currency, as Spark columns: each currency's minor units (how many
decimals an amount may have) and the versioned rate in force at the payment's event time
(conf/currency_rates.yaml). Built once, when the query is defined."""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from core.config import CurrencyConfig
from core.currencies import MINOR_UNITS_NOT_TWO
from events.schemas import AMOUNT_TYPE, BASE_AMOUNT_TYPE

RATE_TYPE = "decimal(20,10)"


def minor_units_column(currency: Column) -> Column:
    """Decimals an amount in `currency` may have (ISO 4217; 2 unless listed otherwise)."""
    exceptions = F.create_map(*[item for code, units in sorted(MINOR_UNITS_NOT_TWO.items())
                                for item in (F.lit(code), F.lit(units))])
    return F.coalesce(F.try_element_at(exceptions, currency), F.lit(2))


def rounded_to_minor_units(amount: Column, units: Column) -> Column:
    """The amount rounded to `units` decimals (Spark's round takes a constant scale)."""
    return (F.when(units == 0, F.round(amount, 0)).when(units == 3, F.round(amount, 3))
            .when(units == 4, F.round(amount, 4)).otherwise(F.round(amount, 2)))


def rate_column(rates: CurrencyConfig, currency: Column, event_time: Column) -> Column:
    """Base units per unit of `currency` in the version in force at event_time (the latest
    effective_from at or before it, else the first version); NULL when that version lacks it."""
    newest_first = sorted(rates.versions, key=lambda version: version.effective_from, reverse=True)
    codes = sorted({code for version in rates.versions for code in version.rates})
    by_currency = F.create_map(*[item for code in codes for item in (F.lit(code), F.array(*[
        F.struct(F.lit(version.effective_from).alias("effective_from"),
                 F.lit(version.rates.get(code)).cast(RATE_TYPE).alias("rate"))
        for version in newest_first]))])
    history = F.try_element_at(by_currency, currency)
    in_force = F.try_element_at(F.filter(history, lambda version: version["effective_from"] <= event_time), F.lit(1))
    return F.coalesce(in_force, F.try_element_at(history, F.lit(-1)))["rate"]


def base_amount_column(rates: CurrencyConfig, amount: Column, currency: Column, event_time: Column) -> Column:
    """The amount in the base currency, rounded half-even to cents; NULL when not convertible.
    `amount` must already fit AMOUNT_TYPE (the parser checks its range first)."""
    converted = amount.cast(AMOUNT_TYPE) * rate_column(rates, currency, event_time)
    return F.bround(converted, 2).cast(BASE_AMOUNT_TYPE)
