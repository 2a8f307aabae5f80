"""Feature names, windows and the model's feature order, derived from conf/ (features:)."""
from __future__ import annotations

from dataclasses import dataclass

MICROS_PER_MINUTE = 60_000_000
MICROS_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class FeatureConfig:
    customer_windows_days: tuple[int, ...] = (1, 7, 30)
    burst_windows_minutes: tuple[int, ...] = (10, 60)
    terminal_windows_days: tuple[int, ...] = (1, 7, 30)
    label_delay_days: int = 7
    allowed_lateness_hours: int = 24

    @property
    def label_delay_us(self) -> int:
        return self.label_delay_days * MICROS_PER_DAY

    @property
    def lateness_us(self) -> int:
        return self.allowed_lateness_hours * 60 * MICROS_PER_MINUTE

    @property
    def customer_retention_us(self) -> int:
        longest = max(max(self.customer_windows_days) * MICROS_PER_DAY,
                      max(self.burst_windows_minutes) * MICROS_PER_MINUTE)
        return longest + self.lateness_us

    @property
    def terminal_retention_us(self) -> int:
        return self.label_delay_us + max(self.terminal_windows_days) * MICROS_PER_DAY + self.lateness_us


def window_label(minutes: int) -> str:
    """10 -> '10m', 60 -> '1h', 1440 -> '1d'."""
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def _pair_per_window(windows_minutes, first: str, second: str) -> list[str]:
    """[first_<w>, second_<w>] for each window w, e.g. cust_count_7d, cust_mean_amount_7d."""
    names = []
    for minutes in windows_minutes:
        label = window_label(minutes)
        names += [f"{first}_{label}", f"{second}_{label}"]
    return names


def customer_feature_names(config: FeatureConfig) -> list[str]:
    return _pair_per_window([d * 1440 for d in config.customer_windows_days], "cust_count", "cust_mean_amount")


def burst_feature_names(config: FeatureConfig) -> list[str]:
    return _pair_per_window(config.burst_windows_minutes, "cust_count", "cust_sum_amount")


def terminal_feature_names(config: FeatureConfig) -> list[str]:
    return _pair_per_window([d * 1440 for d in config.terminal_windows_days], "term_count", "term_risk")


def model_feature_names(config: FeatureConfig) -> list[str]:
    """The handbook's baseline features, in the order the model is trained on."""
    return (["amount", "during_weekend", "during_night"]
            + customer_feature_names(config) + terminal_feature_names(config))


def all_feature_names(config: FeatureConfig) -> list[str]:
    """Every feature column the engine adds (model features, burst features, is_late)."""
    return model_feature_names(config) + burst_feature_names(config) + ["is_late"]
