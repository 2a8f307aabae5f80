"""The backtest's figures and report: model metrics (ROC AUC, average precision, card precision@100
as the handbook defines it), alert rate, and per reason (rule id or score band) its hits, precision
and the alerts only it raised; markdown plus PNG plots, a candidate beside the current configuration."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve

from core.config import ALERT_ACTIONS
from training.metrics import evaluate

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

NOT_A_REASON = "SCORE_LOW"  # the band of a payment the model does not flag


@dataclass(frozen=True)
class VariantFigures:
    """What one configuration did on the dataset."""

    name: str
    model_version: str
    metrics: dict
    payments: int
    frauds: int
    alerts: int
    alerts_fraud: int
    reasons: pd.DataFrame  # reason, hits, hit_frauds, precision, alerts_only_it

    @property
    def alert_rate(self) -> float:
        return self.alerts / self.payments if self.payments else 0.0

    @property
    def alert_precision(self) -> float | None:
        return self.alerts_fraud / self.alerts if self.alerts else None

    @property
    def fraud_recall(self) -> float | None:
        return self.alerts_fraud / self.frauds if self.frauds else None


def labelled(results: pd.DataFrame, dataset: pd.DataFrame) -> pd.DataFrame:
    """The stored results with each payment's is_fraud from the dataset."""
    truth = dataset[["transaction_id", "is_fraud"]].drop_duplicates("transaction_id")
    frame = results.merge(truth, on="transaction_id", how="inner", validate="one_to_one")
    frame["is_fraud"] = frame["is_fraud"].astype(int)
    frame["is_alert"] = frame["decision"].isin(ALERT_ACTIONS)
    return frame


def reason_lists(reasons: pd.Series) -> pd.Series:
    """Each row's alerting reasons (rule ids, SCORE_MEDIUM / SCORE_HIGH), without SCORE_LOW."""
    return reasons.fillna("").map(lambda text: [r for r in text.split(",") if r and r != NOT_A_REASON])


def reason_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per reason: payments it fired for, frauds among them, precision, and alerts no other reason raised."""
    lists = reason_lists(frame["reasons"])
    exploded = pd.DataFrame({"reason": lists, "is_fraud": frame["is_fraud"], "is_alert": frame["is_alert"],
                             "alone": lists.map(len) == 1}).explode("reason").dropna(subset=["reason"])
    if exploded.empty:
        return pd.DataFrame(columns=["reason", "hits", "hit_frauds", "precision", "alerts_only_it"])
    table = exploded.groupby("reason").agg(hits=("is_fraud", "size"), hit_frauds=("is_fraud", "sum"),
                                           alerts_only_it=("alone", lambda alone: int(
                                               (alone & exploded.loc[alone.index, "is_alert"]).sum())))
    table["precision"] = (table["hit_frauds"] / table["hits"]).round(4)
    return table.reset_index().sort_values("hits", ascending=False)[
        ["reason", "hits", "hit_frauds", "precision", "alerts_only_it"]]


def figures_of(name: str, model_version: str, frame: pd.DataFrame) -> VariantFigures:
    metrics = evaluate(frame, frame["score"].to_numpy()) if frame["is_fraud"].nunique() == 2 else {}
    return VariantFigures(name, model_version, metrics, len(frame), int(frame["is_fraud"].sum()),
                          int(frame["is_alert"].sum()), int((frame["is_alert"] & (frame["is_fraud"] == 1)).sum()),
                          reason_table(frame))


def figure(value) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int | np.integer) else f"{value:.4f}"


def summary_table(variants: list[VariantFigures]) -> str:
    rows = [("model", *[v.model_version for v in variants]),
            ("payments", *[figure(v.payments) for v in variants]),
            ("frauds", *[figure(v.frauds) for v in variants]),
            ("ROC AUC", *[figure(v.metrics.get("roc_auc")) for v in variants]),
            ("average precision", *[figure(v.metrics.get("average_precision")) for v in variants]),
            ("card precision@100", *[figure(v.metrics.get("card_precision_at_100")) for v in variants]),
            ("alerts (REVIEW + DECLINED)", *[figure(v.alerts) for v in variants]),
            ("alert rate", *[figure(v.alert_rate) for v in variants]),
            ("alert precision", *[figure(v.alert_precision) for v in variants]),
            ("frauds alerted (recall)", *[figure(v.fraud_recall) for v in variants])]
    return markdown_table(["", *[v.name for v in variants]], rows)


def markdown_table(header: list[str], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]])


def alert_changes(current: pd.DataFrame, candidate: pd.DataFrame) -> str:
    """Alerts the candidate adds and removes, with the frauds among them."""
    both = current[["transaction_id", "is_alert", "is_fraud"]].merge(
        candidate[["transaction_id", "is_alert"]], on="transaction_id", suffixes=("_current", "_candidate"))
    added = both[~both["is_alert_current"] & both["is_alert_candidate"]]
    removed = both[both["is_alert_current"] & ~both["is_alert_candidate"]]
    return markdown_table(["change", "alerts", "frauds among them"], [
        ("raised only by the candidate", figure(len(added)), figure(int(added["is_fraud"].sum()))),
        ("raised only by the current", figure(len(removed)), figure(int(removed["is_fraud"].sum())))])


def plot_precision_recall(frames: dict[str, pd.DataFrame], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, frame in frames.items():
        precision, recall, _ = precision_recall_curve(frame["is_fraud"], frame["score"])
        ax.plot(recall, precision, label=name)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_score_distribution(frames: dict[str, pd.DataFrame], path: Path) -> None:
    fig, axes = plt.subplots(1, len(frames), figsize=(6 * len(frames), 4), squeeze=False)
    bins = np.linspace(0, 1, 41)
    for ax, (name, frame) in zip(axes[0], frames.items(), strict=True):
        ax.hist(frame.loc[frame["is_fraud"] == 0, "score"], bins=bins, alpha=0.6, label="legitimate")
        ax.hist(frame.loc[frame["is_fraud"] == 1, "score"], bins=bins, alpha=0.6, label="fraud")
        ax.set(yscale="log", xlabel="score", ylabel="payments", title=f"Score distribution: {name}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_alerts_per_day(frames: dict[str, pd.DataFrame], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    for name, frame in frames.items():
        per_day = frame[frame["is_alert"]].groupby(frame["event_time"].dt.floor("D")).size()
        ax.plot(per_day.index, per_day.to_numpy(), marker=".", label=name)
    ax.set(xlabel="day", ylabel="alerts", title="Alerts per day")
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


PLOTS = {"precision_recall.png": plot_precision_recall, "score_distribution.png": plot_score_distribution,
         "alerts_per_day.png": plot_alerts_per_day}


def write_report(out: Path, title: str, figures: list[VariantFigures], frames: dict[str, pd.DataFrame]) -> Path:
    """report.md and the plots in `out`; returns the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    for name, plot in PLOTS.items():
        plot(frames, out / name)
    sections = [f"# {title}", "", summary_table(figures), ""]
    if len(figures) == 2:
        sections += ["## Alerts that change", "", alert_changes(*frames.values()), ""]
    for variant in figures:
        rows = [tuple(figure(cell) if not isinstance(cell, str) else cell for cell in row)
                for row in variant.reasons.itertuples(index=False)]
        sections += [f"## Reasons: {variant.name}", "",
                     markdown_table(["reason", "hits", "frauds among them", "precision", "alerts only it raised"],
                                    rows) if rows else "No reason fired.", ""]
    sections += ["## Plots", "", *[f"![{name}]({name})" for name in PLOTS], ""]
    path = out / "report.md"
    path.write_text("\n".join(sections), encoding="utf-8")
    return path
