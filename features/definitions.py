"""Feature names, windows and the model's feature order, derived from conf/ (features:)."""
from __future__ import annotations

from core.config import MICROS_PER_DAY, MICROS_PER_MINUTE, FeatureConfig

__all__ = ["MICROS_PER_DAY", "MICROS_PER_MINUTE", "FeatureConfig"]


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


def stored_feature_names(config: FeatureConfig) -> list[str]:
    """Feature columns stored with each scored payment (`amount` is the payment's own column)."""
    return [name for name in all_feature_names(config) if name != "amount"]
