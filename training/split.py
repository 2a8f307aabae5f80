"""The handbook's time-based split: train on a period, skip the label delay, test after it; the
model and its thresholds are chosen on the same split shifted back by one test period (validation)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class SplitPlan:
    train_start: pd.Timestamp
    train_days: int = 7
    delay_days: int = 7
    test_days: int = 7

    @property
    def test_start(self) -> pd.Timestamp:
        return self.train_start + pd.Timedelta(days=self.train_days + self.delay_days)

    def validation_plan(self) -> SplitPlan:
        """The same split one test period earlier: its test period is the validation period, which
        ends where this test period starts (the handbook's validation protocol)."""
        return SplitPlan(self.train_start - pd.Timedelta(days=self.test_days), self.train_days, self.delay_days,
                         self.test_days)

    def describe(self) -> dict:
        day = pd.Timedelta(days=1)
        return {"train": [str(self.train_start.date()), str((self.train_start + self.train_days * day - day).date())],
                "test": [str(self.test_start.date()), str((self.test_start + self.test_days * day - day).date())],
                "delay_days": self.delay_days}


def day_index(times: pd.Series, origin: pd.Timestamp) -> pd.Series:
    return ((times - origin) // pd.Timedelta(days=1)).astype(int)


def train_test_split(frame: pd.DataFrame, plan: SplitPlan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train rows, and test rows without customers already known to be compromised.

    A customer is known compromised once a fraud of theirs happened in the training period,
    or in the delay period up to the day before the test day (its label has arrived by then).
    """
    day = day_index(frame["event_time"], plan.train_start)
    train = frame[(day >= 0) & (day < plan.train_days)]
    known = set(train.loc[train["is_fraud"].astype(bool), "customer_id"])
    test_days = []
    for offset in range(plan.test_days):
        delay_day = frame[day == plan.train_days + offset - 1]
        known |= set(delay_day.loc[delay_day["is_fraud"].astype(bool), "customer_id"])
        today = frame[day == plan.train_days + plan.delay_days + offset]
        test_days.append(today[~today["customer_id"].isin(known)])
    return train, pd.concat(test_days)
