"""The dashboard's five views (Streamlit). Figures come from dashboard/data.py; each view's
figures refresh on their own every `dashboard.refresh_seconds`. Values from the database are
shown as text (metrics, tables, charts), never as markdown or HTML."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import streamlit as st

from core.config import AppConfig, load_config
from dashboard import data
from dashboard.auth import logged_in_user
from dashboard.drift import population_stability_index, reading, shares
from dashboard.labels import LabelNotSent, LabelSender, label_message
from decisions.rules import score_bands
from features.definitions import burst_feature_names, customer_feature_names

WINDOWS_MINUTES = (15, 60, 360, 1440, 10080)
RENDERED_MARK = "Figures as of"


@dataclass(frozen=True)
class Resources:
    config: AppConfig
    pool: data.ConnectionPool


@st.cache_resource
def resources() -> Resources:
    config = load_config()
    return Resources(config, data.ConnectionPool(config.mysql.as_reader()))


def window_label(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"last {minutes // 1440} day" + ("s" if minutes > 1440 else "")
    if minutes % 60 == 0:
        return f"last {minutes // 60} hour" + ("s" if minutes > 60 else "")
    return f"last {minutes} minutes"


def window_picker(key: str) -> int:
    """Minutes of history to show (the sidebar; default dashboard.window_minutes)."""
    default = resources().config.dashboard.window_minutes
    options = sorted({*WINDOWS_MINUTES, default})
    return st.sidebar.selectbox("Time range", options, index=options.index(default), format_func=window_label,
                                key=key)


def rendered_mark(now: datetime, started: float) -> None:
    """The last element of every view: when the figures were read and how long it took."""
    refresh = resources().config.dashboard.refresh_seconds
    st.caption(f"{RENDERED_MARK} {now:%Y-%m-%d %H:%M:%S} UTC · shown in {(time.monotonic() - started) * 1000:.0f} ms"
               f" · refreshes every {refresh} s")


def every_refresh(body):
    """Run a view's body(cursor, now) at once and again every dashboard.refresh_seconds (a Streamlit
    fragment): one pooled connection, the database's clock, and the rendered mark at the end."""
    def refresh() -> None:
        started = time.monotonic()
        with resources().pool.cursor() as cursor:
            now = data.database_now(cursor)
            body(cursor, now)
        rendered_mark(now, started)
    return st.fragment(run_every=timedelta(seconds=resources().config.dashboard.refresh_seconds))(refresh)


def overview() -> None:
    st.title("Overview")
    minutes = window_picker("overview_window")

    @every_refresh
    def body(cursor, now: datetime):
        figures = data.overview(cursor, now - timedelta(minutes=minutes))
        if figures.batches == 0:
            st.info(f"No micro-batch was committed in the {window_label(minutes)}. Start the scoring job "
                    "(`make run`) or send payments (`make produce`); figures appear as batches commit.")
        show_overview(figures, now)
    body()


def show_overview(figures: data.Overview, now: datetime) -> None:
    latest = figures.recent.iloc[0] if not figures.recent.empty else None
    latency = ("-" if latest is None or pd.isna(latest["latency_p50_ms"])
               else f"{int(latest['latency_p50_ms']):,} / {int(latest['latency_p99_ms']):,} ms")
    rows = [[("Payments scored", f"{figures.scored:,}"), ("Alerts (review + declined)", f"{figures.alerts:,}"),
             ("Alert rate", "-" if figures.alert_rate is None else f"{figures.alert_rate:.2%}"),
             ("Rejected messages", f"{figures.rejected:,}")],
            [("Approved", f"{figures.approved:,}"), ("Review", f"{figures.review:,}"),
             ("Declined", f"{figures.declined:,}"), ("Resent duplicates", f"{figures.duplicates:,}")],
            [("Throughput, last minute", f"{figures.throughput(now):,.0f} tx/s"),
             ("Send-to-commit latency p50 / p99, last batch", latency),
             ("Micro-batches", f"{figures.batches:,}"),
             ("Last commit", "-" if figures.last_commit is None else f"{figures.last_commit:%H:%M:%S} UTC")]]
    for row in rows:
        for column, (label, value) in zip(st.columns(len(row)), row, strict=True):
            column.metric(label, value)
    st.text(f"Model in use: {figures.model_version or '-'}")
    if figures.per_minute.empty:
        return
    per_minute = figures.per_minute.set_index("minute")
    st.subheader("Decisions per minute")
    st.bar_chart(per_minute[["approved", "review", "declined"]], color=["#4c9a2a", "#e0a800", "#c0392b"])
    st.subheader("Send-to-commit latency per batch (ms)")
    latency = figures.recent.set_index("committed_at")[["latency_p50_ms", "latency_p95_ms", "latency_p99_ms"]]
    st.line_chart(latency.astype("float64"))


def alerts() -> None:
    st.title("Latest alerts")
    minutes = window_picker("alerts_window")
    config = resources().config
    decisions = st.sidebar.multiselect("Decision", data.ALERT_DECISIONS, default=list(data.ALERT_DECISIONS))
    reasons = ["(any)", *[rule.id for rule in config.decisions.rules], "SCORE_HIGH", "SCORE_MEDIUM"]
    reason = st.sidebar.selectbox("Reason", reasons)

    @every_refresh
    def body(cursor, now: datetime):
        where = data.AlertFilter(since=now - timedelta(minutes=minutes), until=now,
                                 decisions=tuple(decisions), reason=None if reason == "(any)" else reason)
        frame, total = data.alerts(cursor, where)
        st.metric("Alerts matching", f"{total:,}")
        if frame.empty:
            st.info(f"No alert matches in the {window_label(minutes)}.")
        else:
            st.caption(f"The newest {len(frame):,} of {total:,}; top_features: the three features that moved "
                       "the score most (tree SHAP values, + towards fraud)")
            newest = frame.iloc[0]
            st.text(f"Newest alert {newest['transaction_id']}: {newest['decision']}, reasons {newest['reasons']}, "
                    f"top features {newest['top_features'] or '-'}")
            st.dataframe(frame, hide_index=True, width="stretch")
    body()
    label_an_alert()


@st.cache_resource
def label_sender() -> LabelSender:
    config = resources().config
    return LabelSender(config.dashboard.label_writer, config.kafka.topics.labels)


def label_an_alert() -> None:
    """Below the alerts (outside their refresh): a logged-in analyst marks one as fraud or legitimate."""
    st.subheader("Label an alert")
    analyst = logged_in_user(resources().config.dashboard)
    if analyst is None:
        return
    st.caption(f"Logged in as {analyst}. A label goes to the labels topic; the job stores it and counts it "
               "in the terminal-risk features like a chargeback.")
    with st.form("label-form"):
        transaction_id = st.text_input("Transaction id of the alert").strip()
        fraud_column, legitimate_column = st.columns(2)
        fraud = fraud_column.form_submit_button("Confirm fraud")
        legitimate = legitimate_column.form_submit_button("Legitimate")
    if fraud or legitimate:
        st.session_state[LABEL_OUTCOME] = send_label(transaction_id, fraud, analyst)
    show_label_outcome(st.session_state.get(LABEL_OUTCOME))


LABEL_OUTCOME = "label_outcome"  # kept in the session: a rerun (the login cookie's, a refresh) keeps it shown


def send_label(transaction_id: str, is_fraud: bool, analyst: str) -> tuple[str, str, str]:
    """Send the label; returns (success or error, headline, detail) for show_label_outcome."""
    with resources().pool.cursor() as cursor:
        alert = data.alert_to_label(cursor, transaction_id) if transaction_id else None
        current = data.latest_label(cursor, transaction_id) if alert else None
        now = data.database_now(cursor)
    if alert is None:
        return "error", "No alert has that transaction id.", ""
    try:
        sent = label_sender().send(*label_message(alert, is_fraud, analyst, now))
    except LabelNotSent as error:
        return "error", "The label was not sent; the broker said:", str(error)
    except ValueError as error:  # the label writer's settings (ConfigError, a missing CA file)
        return "error", "The label was not sent: labelling is not configured.", str(error)
    return "success", "Label sent.", (
        f"Label sent: {alert.transaction_id} is {'fraud' if is_fraud else 'legitimate'}, by {analyst} "
        f"(partition {sent.partition}, offset {sent.offset})"
        + (f"; it replaces the label {'fraud' if current[0] else 'legitimate'} by {current[1] or 'a system'}"
           if current else ""))


def show_label_outcome(outcome: tuple[str, str, str] | None) -> None:
    if outcome is None:
        return
    kind, headline, detail = outcome
    (st.success if kind == "success" else st.error)(headline)
    if detail:
        st.text(detail)


def customer() -> None:
    st.title("Customer")
    velocity = customer_velocity_columns(resources().config)
    with resources().pool.cursor() as cursor:
        now = data.database_now(cursor)
        suggestions = data.alerted_customers(cursor, now - timedelta(days=1))
    chosen = st.query_params.get("customer") or st.session_state.get("chosen_customer", "")
    picked = st.sidebar.selectbox("Customers alerted in the last day", ["", *suggestions])
    customer_id = st.text_input("Customer id", value=picked or chosen).strip()
    st.session_state["chosen_customer"] = customer_id  # kept when the user switches views and back
    if customer_id:
        st.query_params["customer"] = customer_id  # a link to this customer

    @every_refresh
    def body(cursor, now: datetime):
        if not customer_id:
            st.info("Enter a customer id, or pick a customer with a recent alert in the sidebar.")
            return
        show_customer(data.customer_transactions(cursor, customer_id, velocity), velocity)
    body()


def customer_velocity_columns(config: AppConfig) -> list[str]:
    return customer_feature_names(config.features) + burst_feature_names(config.features)


def show_customer(frame: pd.DataFrame, velocity: list[str]) -> None:
    if frame.empty:
        st.info("No scored payment of this customer.")
        return
    columns = st.columns(4)
    columns[0].metric("Payments shown", f"{len(frame):,}")
    columns[1].metric("Alerts among them", f"{int(frame['decision'].isin(data.ALERT_DECISIONS).sum()):,}")
    columns[2].metric("Latest score", f"{float(frame['score'].iloc[0]):.3f}")
    columns[3].metric("Highest score", f"{float(frame['score'].max()):.3f}")
    by_time = frame.set_index("event_time").sort_index()
    counts = [c for c in velocity if "_count_" in c]
    st.subheader("Score and payment counts over time")
    left, right = st.columns(2)
    left.line_chart(by_time[["score"]].astype("float64"), height=260)
    right.line_chart(by_time[counts].astype("float64"), height=260)
    st.subheader("Payments, newest first")
    st.dataframe(frame, hide_index=True, width="stretch")


def model() -> None:
    st.title("Model")
    minutes = window_picker("model_window")

    @every_refresh
    def body(cursor, now: datetime):
        since = now - timedelta(minutes=minutes)
        live = data.score_distribution(cursor, since)
        champion, shadow = data.latest_models(cursor)
        show_model(champion or resources().config.model.artifact_dir().name, live, minutes)
        if shadow:
            review = shadow_review_threshold(shadow)
            show_shadow(champion, shadow, review, data.shadow_comparison(cursor, since, champion, shadow, review),
                        minutes)
    body()


def model_metadata(version: str) -> dict | None:
    """A version's metadata from the artifacts folder (None when it is not there)."""
    path = resources().config.model.artifacts_dir / version / "metadata.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def training_distribution(version: str) -> np.ndarray | None:
    """The model's score shares on its test week, from its metadata (None if it has none)."""
    distribution = (model_metadata(version) or {}).get("test_score_distribution")
    return np.asarray(distribution["share"], dtype=float) if distribution else None


def shadow_review_threshold(version: str) -> float:
    """The score from which the shadow would alert: its own REVIEW threshold (conf/ overrides as for the champion)."""
    return score_bands(resources().config.decisions, (model_metadata(version) or {}).get("thresholds", {})).review


def show_shadow(champion: str, shadow: str, review: float, comparison: data.ShadowComparison, minutes: int) -> None:
    st.subheader(f"Champion {champion} against shadow {shadow}")
    st.caption(f"The shadow is scored on the same payments and never decides; it would alert from {review:.2f}. "
               f"{window_label(minutes).capitalize()}, batches that scored both.")
    if comparison.payments == 0:
        st.info("No payment scored by both models in this range yet.")
        return
    columns = st.columns(3)
    columns[0].metric("Payments scored by both", f"{comparison.payments:,}")
    columns[1].metric("Score correlation", as_figure(comparison.correlation))
    columns[2].metric("Alert overlap (both / either)", as_figure(comparison.overlap))
    columns = st.columns(3)
    columns[0].metric("Champion's alerts", f"{comparison.champion_alerts:,}")
    columns[1].metric("Shadow's alerts", f"{comparison.shadow_alerts:,}")
    columns[2].metric("Alerts of both", f"{comparison.both_alerts:,}")
    precision = pd.DataFrame({
        "model": [f"champion {champion}", f"shadow {shadow}"],
        "alerts": [comparison.champion_alerts, comparison.shadow_alerts],
        "labelled so far": [comparison.champion_labelled, comparison.shadow_labelled],
        "confirmed fraud": [comparison.champion_frauds, comparison.shadow_frauds],
        "precision": [as_figure(comparison.precision(comparison.champion_frauds, comparison.champion_labelled)),
                      as_figure(comparison.precision(comparison.shadow_frauds, comparison.shadow_labelled))]})
    st.dataframe(precision, hide_index=True)


def as_figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def show_model(version: str, live: data.ScoreDistribution, minutes: int) -> None:
    trained = training_distribution(version)
    st.text(f"Model in use: {version}")
    columns = st.columns(2)
    columns[0].metric(f"Payments scored, {window_label(minutes)}", f"{live.total:,}")
    if trained is None:
        columns[1].metric("Population stability index", "-")
        st.warning("This model's metadata has no training score distribution; retrain it with `make train`.")
        return
    if live.total == 0:
        columns[1].metric("Population stability index", "-")
        st.info(f"No payment was scored in the {window_label(minutes)}: no live distribution to compare.")
        return
    psi = population_stability_index(trained, shares(live.counts))
    columns[1].metric("Population stability index", f"{psi:.3f}", reading(psi), delta_color="off")
    bins = [f"{i / len(trained):.2f}-{(i + 1) / len(trained):.2f}" for i in range(len(trained))]
    comparison = pd.DataFrame({"score": bins, "training (test week)": trained, "live": shares(live.counts)})
    st.subheader("Score distribution: live against training")
    st.bar_chart(comparison.set_index("score"), stack=False)
    if len(live.model_versions) > 1:
        st.caption("Batches of several model versions are in this range: " + ", ".join(live.model_versions))


def rejected() -> None:
    st.title("Rejected messages")
    minutes = window_picker("rejected_window")

    @every_refresh
    def body(cursor, now: datetime):
        since = now - timedelta(minutes=minutes)
        by_reason = data.rejected_by_reason(cursor, since)
        st.metric("Rejected messages", f"{int(by_reason['messages'].sum()):,}")
        if by_reason.empty:
            st.info(f"No message was rejected in the {window_label(minutes)}.")
            return
        st.bar_chart(by_reason.set_index("reason_code"))
        st.dataframe(by_reason, hide_index=True)
        st.subheader("Newest rejected messages (raw bytes, escaped)")
        reason = st.selectbox("Reason", list(by_reason["reason_code"]), key="rejected_reason")
        samples = data.rejected_samples(cursor, reason, since)
        st.table(samples.set_index("committed_at"))  # plain text cells: the raw bytes are never markup
    body()
