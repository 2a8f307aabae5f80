"""Seeded, vectorised transaction simulator after the handbook's published design.

Le Borgne, Siblini, Lebichot, Bontempi (ULB), "Reproducible Machine Learning for Credit
Card Fraud Detection - Practical Handbook", chapter 3: customers and terminals on a
100x100 grid, each customer paying at the terminals within radius r; Poisson daily
counts, normal time of day around noon, normal amounts; three fraud scenarios.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

SECONDS_PER_DAY = 86_400
SCENARIO_NONE, SCENARIO_LARGE_AMOUNT, SCENARIO_TERMINAL, SCENARIO_CUSTOMER = 0, 1, 2, 3


@dataclass(frozen=True)
class SimulationParams:
    """Every knob of the simulator; the defaults are the handbook's."""

    n_customers: int = 5_000
    n_terminals: int = 10_000
    n_days: int = 183
    start_date: str = "2018-04-01"
    radius: float = 5.0
    seed: int = 0
    large_amount_threshold: float = 220.0
    terminals_compromised_per_day: int = 2
    terminal_compromise_days: int = 28
    customers_compromised_per_day: int = 3
    customer_compromise_days: int = 14
    customer_fraud_share: float = 1 / 3
    customer_fraud_amount_factor: float = 5.0


@dataclass(frozen=True)
class Profiles:
    customer_xy: np.ndarray
    mean_amount: np.ndarray
    std_amount: np.ndarray
    mean_tx_per_day: np.ndarray
    terminal_xy: np.ndarray
    terminal_offsets: np.ndarray  # CSR: customer c uses terminal_ids[offsets[c]:offsets[c+1]]
    terminal_ids: np.ndarray

    @property
    def terminals_per_customer(self) -> np.ndarray:
        return np.diff(self.terminal_offsets)


def make_profiles(params: SimulationParams, rng: np.random.Generator) -> Profiles:
    """Customer and terminal profiles, and which terminals each customer uses."""
    customer_xy = rng.uniform(0, 100, size=(params.n_customers, 2))
    mean_amount = rng.uniform(5, 100, size=params.n_customers)
    mean_tx_per_day = rng.uniform(0, 4, size=params.n_customers)
    terminal_xy = rng.uniform(0, 100, size=(params.n_terminals, 2))
    nearby = cKDTree(terminal_xy).query_ball_point(customer_xy, r=params.radius)
    counts = np.fromiter((len(terminals) for terminals in nearby), dtype=np.int64, count=len(nearby))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    terminal_ids = (np.concatenate([np.sort(t) for t in nearby]).astype(np.int64)
                    if offsets[-1] else np.zeros(0, dtype=np.int64))
    return Profiles(customer_xy, mean_amount, mean_amount / 2, mean_tx_per_day, terminal_xy,
                    offsets, terminal_ids)


def simulate_transactions(params: SimulationParams, profiles: Profiles,
                          rng: np.random.Generator) -> pd.DataFrame:
    """Genuine transactions: Poisson per customer-day, time ~ N(noon, 20,000 s) kept inside the day."""
    daily = rng.poisson(np.broadcast_to(profiles.mean_tx_per_day, (params.n_days, params.n_customers)))
    day, customer = np.nonzero(daily)
    repeats = daily[day, customer]
    day, customer = np.repeat(day, repeats), np.repeat(customer, repeats)
    seconds = np.rint(rng.normal(SECONDS_PER_DAY / 2, 20_000, size=day.size)).astype(np.int64)
    has_terminal = profiles.terminals_per_customer[customer] > 0
    keep = (seconds > 0) & (seconds < SECONDS_PER_DAY) & has_terminal
    day, customer, seconds = day[keep], customer[keep], seconds[keep]
    amount = rng.normal(profiles.mean_amount[customer], profiles.std_amount[customer])
    negative = amount < 0
    amount[negative] = rng.uniform(0, 2 * profiles.mean_amount[customer[negative]])
    amount = np.maximum(np.round(amount, 2), 0.01)
    choice = np.floor(rng.random(day.size) * profiles.terminals_per_customer[customer]).astype(np.int64)
    terminal = profiles.terminal_ids[profiles.terminal_offsets[customer] + choice]
    frame = pd.DataFrame({
        "tx_seconds": day * SECONDS_PER_DAY + seconds, "day": day, "customer": customer,
        "terminal": terminal, "amount": amount,
    })
    return frame.sort_values(["tx_seconds", "customer"], kind="stable").reset_index(drop=True)


def add_frauds(frame: pd.DataFrame, params: SimulationParams, rng: np.random.Generator) -> pd.DataFrame:
    """The three scenarios in order: large amounts, compromised terminals, compromised customers."""
    is_fraud = np.zeros(len(frame), dtype=bool)
    scenario = np.zeros(len(frame), dtype=np.int8)
    amount = frame["amount"].to_numpy().copy()
    day, terminal, customer = (frame[c].to_numpy() for c in ("day", "terminal", "customer"))

    large = amount > params.large_amount_threshold
    is_fraud[large], scenario[large] = True, SCENARIO_LARGE_AMOUNT

    for start in range(params.n_days):
        compromised = rng.choice(params.n_terminals, params.terminals_compromised_per_day, replace=False)
        hit = np.isin(terminal, compromised) & (day >= start) & (day < start + params.terminal_compromise_days)
        is_fraud[hit], scenario[hit] = True, SCENARIO_TERMINAL

    for start in range(params.n_days):
        compromised = rng.choice(params.n_customers, params.customers_compromised_per_day, replace=False)
        window = np.flatnonzero(np.isin(customer, compromised) & (day >= start)
                                & (day < start + params.customer_compromise_days))
        chosen = rng.choice(window, int(len(window) * params.customer_fraud_share), replace=False)
        amount[chosen] = np.round(amount[chosen] * params.customer_fraud_amount_factor, 2)
        is_fraud[chosen], scenario[chosen] = True, SCENARIO_CUSTOMER

    return frame.assign(amount=amount, is_fraud=is_fraud, fraud_scenario=scenario)


def to_contract(frame: pd.DataFrame, params: SimulationParams) -> pd.DataFrame:
    """Rows in the payment contract's fields, plus is_fraud and fraud_scenario."""
    start = datetime.fromisoformat(params.start_date).replace(tzinfo=UTC)
    event_time = pd.Timestamp(start) + pd.to_timedelta(frame["tx_seconds"], unit="s")
    width = len(str(max(len(frame) - 1, 0)))
    return pd.DataFrame({
        "transaction_id": [f"tx-{params.seed}-{i:0{width}d}" for i in range(len(frame))],
        "customer_id": [f"C{c:05d}" for c in frame["customer"]],
        "terminal_id": [f"T{t:05d}" for t in frame["terminal"]],
        "amount": frame["amount"].to_numpy(),
        "currency": "EUR",
        "event_time": event_time,
        "is_fraud": frame["is_fraud"].to_numpy(),
        "fraud_scenario": frame["fraud_scenario"].to_numpy(),
    })


def generate(params: SimulationParams = SimulationParams()) -> tuple[pd.DataFrame, Profiles]:
    """The whole dataset for params, reproducible from params.seed."""
    rng = np.random.default_rng(params.seed)
    profiles = make_profiles(params, rng)
    frame = add_frauds(simulate_transactions(params, profiles, rng), params, rng)
    return to_contract(frame, params), profiles
