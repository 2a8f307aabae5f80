"""The simulator against the handbook's design figures (default parameters, full dataset)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from generator.__main__ import main as generator_main
from generator.simulator import SimulationParams, generate

HANDBOOK_TRANSACTIONS = 1_750_000  # "about 1.75 million transactions"
HANDBOOK_FRAUD_RATE = 0.008        # "about 0.8 %"


def test_row_count_matches_the_design_and_the_handbook(default_dataset):
    payments_df, profiles = default_dataset
    in_day = norm.cdf(43_200 / 20_000) - norm.cdf(-43_200 / 20_000)
    with_terminal = profiles.terminals_per_customer > 0
    expected = profiles.mean_tx_per_day[with_terminal].sum() * 183 * in_day
    assert len(payments_df) == pytest.approx(expected, rel=0.01)
    assert len(payments_df) == pytest.approx(HANDBOOK_TRANSACTIONS, rel=0.04)


def test_fraud_rate_overall_and_by_scenario(default_dataset):
    payments_df, _ = default_dataset
    assert payments_df["is_fraud"].mean() == pytest.approx(HANDBOOK_FRAUD_RATE, rel=0.15)
    shares = payments_df.loc[payments_df["is_fraud"], "fraud_scenario"].value_counts(normalize=True)
    assert set(shares.index) == {1, 2, 3}
    assert shares[2] > shares[3] > shares[1]  # terminals > customers > large amounts
    assert (payments_df["is_fraud"] == (payments_df["fraud_scenario"] > 0)).all()


def test_amounts_follow_the_customer_profiles(default_dataset):
    payments_df, profiles = default_dataset
    genuine = payments_df[payments_df["fraud_scenario"] == 0]
    customer = genuine["customer_id"].str[1:].astype(int).to_numpy()
    # N(m, m/2), negatives redrawn from U(0, 2m): E = m * (Phi(2) + phi(2)/2 + (1 - Phi(2)))
    redraw_lift = norm.cdf(2) + norm.pdf(2) / 2 + norm.sf(2)
    expected = profiles.mean_amount[customer].mean() * redraw_lift
    assert genuine["amount"].mean() == pytest.approx(expected, rel=0.01)
    assert (payments_df["amount"] > 0).all()
    assert np.allclose(payments_df["amount"], payments_df["amount"].round(2))
    assert (payments_df.loc[payments_df["fraud_scenario"] == 1, "amount"] > 220).all()


def test_terminals_per_customer_are_those_within_the_radius(default_dataset):
    _, profiles = default_dataset
    area_share = np.pi * 5 ** 2 / 100 ** 2
    assert profiles.terminals_per_customer.mean() == pytest.approx(10_000 * area_share, rel=0.06)
    for c in range(0, 5_000, 500):  # brute force for a sample of customers
        distance = np.linalg.norm(profiles.terminal_xy - profiles.customer_xy[c], axis=1)
        used = profiles.terminal_ids[profiles.terminal_offsets[c]:profiles.terminal_offsets[c + 1]]
        assert set(used) == set(np.flatnonzero(distance <= 5))


def test_same_seed_same_data_other_seed_other_data():
    small = SimulationParams(n_customers=50, n_terminals=100, n_days=5, seed=3)
    first, _ = generate(small)
    again, _ = generate(small)
    other, _ = generate(SimulationParams(n_customers=50, n_terminals=100, n_days=5, seed=4))
    assert first.equals(again)
    assert not first["amount"].equals(other["amount"])


def test_command_writes_parquet_and_csv(tmp_path):
    import pandas as pd
    for name in ("d.parquet", "d.csv"):
        assert generator_main(["--out", str(tmp_path / name), "--n-customers", "20",
                               "--n-terminals", "50", "--n-days", "3"]) == 0
    assert len(pd.read_parquet(tmp_path / "d.parquet")) == len(pd.read_csv(tmp_path / "d.csv")) > 0
