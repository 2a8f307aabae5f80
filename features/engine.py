"""Exact windowed features over a sorted event state, vectorised with numpy.

The same `apply_batch` computes features for the whole training set (one call) and for
each streaming micro-batch (one call per batch, state carried between calls). A payment
counts every event of its key with time in the window that is in the state or its own
batch, disorder inside a batch resolved by sorting; rows already emitted are never revised.

Window counts are differences of `searchsorted` positions in the state, sorted by
(key code, time rank); sums are exact integer cents, so both paths give identical floats.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from features.definitions import (MICROS_PER_DAY, MICROS_PER_MINUTE, FeatureConfig,
                                  burst_feature_names, customer_feature_names, terminal_feature_names)

def _ints() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


def _objects() -> np.ndarray:
    return np.zeros(0, dtype=object)


NO_EVENT = np.iinfo(np.int64).min

PAYMENT_INPUT_COLUMNS = ("transaction_id", "customer_id", "terminal_id", "amount_cents", "event_us")
LABEL_INPUT_COLUMNS = ("transaction_id", "terminal_id", "event_us", "is_fraud", "labeled_at_us")


@dataclass
class KeyCodes:
    """Stable small integer codes for string keys (customer ids, terminal ids)."""

    codes: dict = field(default_factory=dict)

    def encode(self, keys) -> np.ndarray:
        setdefault = self.codes.setdefault
        return np.fromiter((setdefault(k, len(self.codes)) for k in keys), dtype=np.int64, count=len(keys))


@dataclass
class FeatureState:
    """Everything the features of future payments depend on, as of batch `version`."""

    version: int = -1
    max_event_us: int = NO_EVENT
    customers: KeyCodes = field(default_factory=KeyCodes)
    terminals: KeyCodes = field(default_factory=KeyCodes)
    cust_code: np.ndarray = field(default_factory=_ints)      # customer events, sorted by (code, time)
    cust_time: np.ndarray = field(default_factory=_ints)
    cust_cents: np.ndarray = field(default_factory=_ints)
    cust_txid: np.ndarray = field(default_factory=_objects)
    term_code: np.ndarray = field(default_factory=_ints)      # terminal events, sorted by (code, time)
    term_time: np.ndarray = field(default_factory=_ints)
    fraud_code: np.ndarray = field(default_factory=_ints)     # fraud labels, sorted by (terminal code, payment time)
    fraud_time: np.ndarray = field(default_factory=_ints)
    fraud_labeled_at: np.ndarray = field(default_factory=_ints)
    fraud_txid: np.ndarray = field(default_factory=_objects)
    seen_tx: set = field(default_factory=set)

    @property
    def size(self) -> int:
        """Events held (customer + terminal + labels), for the per-batch log line."""
        return len(self.cust_time) + len(self.term_time) + len(self.fraud_time)


def apply_batch(state: FeatureState, payments: pd.DataFrame, labels: pd.DataFrame,
                config: FeatureConfig, version: int) -> tuple[pd.DataFrame, FeatureState]:
    """Features of the batch's payments and the state after it; `state` is left unchanged.

    payments: transaction_id, customer_id, terminal_id, amount_cents, event_us (UTC micros).
    labels:   transaction_id, terminal_id, event_us, is_fraud, labeled_at_us.
    Returns one row per payment (same order) with the feature columns, `is_late` and
    `is_duplicate` (a transaction_id already in the state or earlier in the batch).
    """
    new = replace(state, version=version, seen_tx=set(state.seen_tx))
    _add_fraud_labels(new, labels)
    txid = payments["transaction_id"].to_numpy(dtype=object)
    duplicate = payments["transaction_id"].duplicated().to_numpy() | np.fromiter(
        (t in state.seen_tx for t in txid), dtype=bool, count=len(txid))
    fresh = payments[~duplicate]
    time = fresh["event_us"].to_numpy(dtype=np.int64)
    cust = new.customers.encode(fresh["customer_id"].to_numpy(dtype=object))
    term = new.terminals.encode(fresh["terminal_id"].to_numpy(dtype=object))
    _add_payments(new, cust, term, time, fresh["amount_cents"].to_numpy(dtype=np.int64),
                  fresh["transaction_id"].to_numpy(dtype=object))

    columns = {"amount": fresh["amount_cents"].to_numpy(dtype=np.int64) / 100.0}
    columns.update(_calendar_features(time))
    columns.update(_customer_features(new, cust, time, config))
    columns.update(_terminal_features(new, term, time, config))
    columns["is_late"] = time < (state.max_event_us - config.lateness_us
                                 if state.max_event_us != NO_EVENT else NO_EVENT)
    features = pd.DataFrame(columns, index=fresh.index).reindex(payments.index)
    features["is_duplicate"] = duplicate
    if len(time):
        new.max_event_us = max(state.max_event_us, int(time.max()))
    _prune(new, config)
    return features, new


def _sorted_merge(codes: list[np.ndarray], times: list[np.ndarray], *payloads: list[np.ndarray]):
    """Concatenate and sort by (code, time). The state part is already sorted, so a stable
    sort on one int64 key (timsort) merges it with the batch in about linear time."""
    code, time = np.concatenate(codes), np.concatenate(times)
    if not len(time):
        return (code, time, *(np.concatenate(p) for p in payloads))
    low, span = int(time.min()), int(time.max()) - int(time.min()) + 1
    if (int(code.max()) + 1) * span < 2 ** 62:
        order = np.argsort(code * span + (time - low), kind="stable")
    else:
        order = np.lexsort((time, code))
    return (code[order], time[order], *(np.concatenate(p)[order] for p in payloads))


def _add_payments(state: FeatureState, cust, term, time, cents, txid) -> None:
    state.cust_code, state.cust_time, state.cust_cents, state.cust_txid = _sorted_merge(
        [state.cust_code, cust], [state.cust_time, time], [state.cust_cents, cents], [state.cust_txid, txid])
    state.term_code, state.term_time = _sorted_merge([state.term_code, term], [state.term_time, time])
    state.seen_tx.update(txid)


def _add_fraud_labels(state: FeatureState, labels: pd.DataFrame) -> None:
    fraud = labels[labels["is_fraud"].astype(bool)].drop_duplicates("transaction_id")
    fraud = fraud[~fraud["transaction_id"].isin(set(state.fraud_txid))]
    if fraud.empty:
        return
    code = state.terminals.encode(fraud["terminal_id"].to_numpy(dtype=object))
    (state.fraud_code, state.fraud_time, state.fraud_labeled_at, state.fraud_txid) = _sorted_merge(
        [state.fraud_code, code], [state.fraud_time, fraud["event_us"].to_numpy(dtype=np.int64)],
        [state.fraud_labeled_at, fraud["labeled_at_us"].to_numpy(dtype=np.int64)],
        [state.fraud_txid, fraud["transaction_id"].to_numpy(dtype=object)])


def _window_positions(key_code, key_time, query_code, bounds):
    """For each (lower, upper] bound pair: state positions (lo, hi) of the query key's events in it.

    Positions come from one sorted int64 key, code * span + time offset; when codes x time
    span would not fit in 62 bits, times are first replaced by their ranks (slower, same result).
    """
    if not len(query_code):
        return [(query_code, query_code) for _ in bounds]
    limits = [key_time] + [b for pair in bounds for b in pair]
    low = min(int(a.min()) for a in limits if len(a))
    high = max(int(a.max()) for a in limits if len(a))
    codes = max(int(key_code.max()) if len(key_code) else 0, int(query_code.max()) if len(query_code) else 0) + 1
    span = high - low + 1
    if codes * span < 2 ** 62:
        to_offset = lambda times: times - low  # noqa: E731
    else:
        ranks = np.unique(np.concatenate(limits))
        span = len(ranks) + 1
        to_offset = lambda times: np.searchsorted(ranks, times)  # noqa: E731
    composite = key_code * span + to_offset(key_time)
    base = query_code * span
    # Every bound is (query time - a constant), so one (code, time) order sorts all of them;
    # sorted queries make each binary search start where the previous one ended.
    order = np.argsort(base + to_offset(bounds[0][1]), kind="stable")
    positions = []
    for lower, upper in bounds:
        lo, hi = np.empty(len(order), np.int64), np.empty(len(order), np.int64)
        lo[order] = np.searchsorted(composite, (base + to_offset(lower))[order], side="right")
        hi[order] = np.searchsorted(composite, (base + to_offset(upper))[order], side="right")
        positions.append((lo, hi))
    return positions


def _calendar_features(time: np.ndarray) -> dict:
    days = np.floor_divide(time, MICROS_PER_DAY)
    hour = np.floor_divide(time - days * MICROS_PER_DAY, 60 * MICROS_PER_MINUTE)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return {"during_weekend": (weekday >= 5).astype(np.int8), "during_night": (hour <= 6).astype(np.int8)}


def _customer_features(state: FeatureState, cust, time, config: FeatureConfig) -> dict:
    long_windows = [d * MICROS_PER_DAY for d in config.customer_windows_days]
    bursts = [m * MICROS_PER_MINUTE for m in config.burst_windows_minutes]
    spans = long_windows + bursts
    positions = _window_positions(state.cust_code, state.cust_time, cust, [(time - w, time) for w in spans])
    cumulative = np.concatenate([[0], np.cumsum(state.cust_cents)])
    names = customer_feature_names(config) + burst_feature_names(config)
    columns = {}
    for index, (lo, hi) in enumerate(positions):
        count, cents = hi - lo, cumulative[hi] - cumulative[lo]
        count_name, amount_name = names[2 * index], names[2 * index + 1]
        columns[count_name] = count
        if index < len(long_windows):
            columns[amount_name] = np.divide(cents, count * 100.0, out=np.zeros(len(count)), where=count > 0)
        else:
            columns[amount_name] = cents / 100.0
    return columns


def _terminal_features(state: FeatureState, term, time, config: FeatureConfig) -> dict:
    delay = config.label_delay_us
    bounds = [(time - delay - d * MICROS_PER_DAY, time - delay) for d in config.terminal_windows_days]
    counts = [hi - lo for lo, hi in _window_positions(state.term_code, state.term_time, term, bounds)]
    frauds = [hi - lo for lo, hi in _window_positions(state.fraud_code, state.fraud_time, term, bounds)]
    unknown = _labels_not_yet_known(state, term, time, bounds)
    names = terminal_feature_names(config)
    columns = {}
    for index, (count, fraud) in enumerate(zip(counts, frauds)):
        fraud = fraud - unknown[index]
        columns[names[2 * index]] = count
        columns[names[2 * index + 1]] = np.divide(fraud, count, out=np.zeros(len(count)), where=count > 0)
    return columns


def _labels_not_yet_known(state: FeatureState, term, time, bounds) -> list[np.ndarray]:
    """Per window, fraud labels inside it whose labeled_at is after the payment's time."""
    zeros = [np.zeros(len(time), dtype=np.int64) for _ in bounds]
    if not len(time) or not len(state.fraud_time):
        return zeros
    recent = state.fraud_labeled_at > time.min()
    if not recent.any():
        return zeros
    labels = pd.DataFrame({"code": state.fraud_code[recent], "s": state.fraud_time[recent],
                           "at": state.fraud_labeled_at[recent]})
    queries = pd.DataFrame({"code": term, "t": time, "q": np.arange(len(time))})
    pairs = queries.merge(labels, on="code")
    if pairs.empty:
        return zeros
    q, s, t, at = (pairs[c].to_numpy() for c in ("q", "s", "t", "at"))
    result = []
    for lower, upper in bounds:
        offset_lower, offset_upper = (time - lower)[q], (time - upper)[q]
        inside = (s > t - offset_lower) & (s <= t - offset_upper) & (at > t)
        result.append(np.bincount(q[inside], minlength=len(time)))
    return result


def _prune(state: FeatureState, config: FeatureConfig) -> None:
    """Drop events no future on-time payment can need (older than the retention horizons)."""
    if state.max_event_us == NO_EVENT:
        return
    keep = state.cust_time >= state.max_event_us - config.customer_retention_us
    if not keep.all():
        state.seen_tx.difference_update(state.cust_txid[~keep])
        state.cust_code, state.cust_time, state.cust_cents, state.cust_txid = (
            a[keep] for a in (state.cust_code, state.cust_time, state.cust_cents, state.cust_txid))
    horizon = state.max_event_us - config.terminal_retention_us
    keep = state.term_time >= horizon
    if not keep.all():
        state.term_code, state.term_time = state.term_code[keep], state.term_time[keep]
    keep = state.fraud_time >= horizon
    if not keep.all():
        state.fraud_code, state.fraud_time, state.fraud_labeled_at, state.fraud_txid = (
            a[keep] for a in (state.fraud_code, state.fraud_time, state.fraud_labeled_at, state.fraud_txid))
