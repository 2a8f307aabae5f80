"""The dashboard in a real browser (headless Chromium): friendly on an empty database, and on a
generated dataset scored by the real job its key numbers equal what MySQL says. Screenshots of
every view go to test-artifacts/dashboard/."""
from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import numpy as np
import pytest

from bench.browser import browser_page, exceptions_shown, metric, open_view, screenshot
from core.config import PROJECT_ROOT
from dashboard.users import LOCAL_ANALYST
from features.definitions import model_feature_names
from pipeline.scoring_query import start_scoring_query
from services.dashboard_server import DashboardServer
from services.grants import migrate_and_grant
from services.kafka_acls import allow_label_writer
from services.mariadb_server import MariaDbServer
from sinks.model_registry import Assignment, record_assignment
from sinks.mysql_connection import connect
from tests.job_runner import produce_generated
from tests.kafka_helpers import produce
from tests.model_helpers import copy_current_artifact, tiny_artifact

pytestmark = pytest.mark.integration

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "dashboard"
PORT = 8597
SHADOW = "tiny-shadow"
HOSTILE = b'<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


@pytest.fixture
def own_database(local_services, unique_id):
    """The config pointed at a new, migrated database of this test (dropped afterwards)."""
    name = "dash_" + re.sub(r"[^a-z0-9]", "_", unique_id)[-24:]
    server = MariaDbServer.from_config(local_services)
    server.ensure_database(name)
    config = local_services.model_copy(update={"mysql": replace(local_services.mysql, database=name)})
    migrate_and_grant(local_services, config.mysql)
    yield config
    server.drop_database(name)


@pytest.fixture
def dashboard(own_database, tmp_path):
    server = DashboardServer(own_database.dashboard.host, PORT, tmp_path / "dashboard",
                             (("MYSQL_DATABASE", own_database.mysql.database),))
    server.start()
    yield server
    server.stop()


def scalar(config, sql: str, *params):
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def test_empty_database_gives_friendly_empty_states(dashboard):
    expected = {"overview": "No micro-batch was committed", "alerts": "No alert matches",
                "customer": "Enter a customer id", "model": "No payment was scored",
                "rejected": "No message was rejected"}
    with browser_page() as page:
        for view, text in expected.items():
            open_view(page, dashboard.url, view)
            assert page.get_by_text(text).first.is_visible(), view
            assert exceptions_shown(page) == 0, view
            screenshot(page, ARTIFACTS, f"empty-{view}")


def drain(spark, config) -> None:
    """Score everything in the topics (availableNow)."""
    query = start_scoring_query(spark, config, {"availableNow": True})
    query.awaitTermination(600)
    assert query.exception() is None


def with_shadow_model(config, tmp_path):
    """The config with its own artifacts folder (the current model and a small shadow), and the
    registry of its database naming that shadow beside the current champion."""
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    champion = copy_current_artifact(artifacts)
    tiny_artifact(artifacts, SHADOW, model_feature_names(config.features), seed=7,
                  thresholds={"review": 0.3, "decline": 0.95})
    config = config.model_copy(update={"model": replace(config.model, artifact=champion, artifacts_dir=artifacts)})
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        record_assignment(cursor, "shadow", Assignment(champion, SHADOW), "test")
    return config


def test_key_numbers_on_every_view_equal_mysql(spark, isolated_config, own_database, unique_id, tmp_path):
    config = own_database.model_copy(update={"kafka": isolated_config.kafka, "stream": isolated_config.stream})
    config = with_shadow_model(config, tmp_path)
    produce_generated(config, 3000, f"{unique_id}-", "--invalid-fraction", "0.02")
    drain(spark, config)
    # In a micro-batch of their own, the hostile messages are the newest rejected ones, which
    # the rejected view shows (in one batch they would tie with the generated invalid JSON).
    produce(config.kafka.bootstrap_servers, config.kafka.topics.payments, [(None, HOSTILE)] * 120)
    drain(spark, config)

    allow_label_writer(config, config.kafka.topics.labels)
    server = DashboardServer(config.dashboard.host, PORT, tmp_path / "dashboard",
                             (("MYSQL_DATABASE", config.mysql.database),
                              ("MODEL_ARTIFACTS_DIR", str(config.model.artifacts_dir)),
                              ("KAFKA_LABELS_TOPIC", config.kafka.topics.labels)))
    server.start()
    try:
        with browser_page() as page:
            check_overview(page, server.url, config)
            check_alerts(page, server.url, config)
            check_customer(page, server.url, config)
            check_model(page, server.url, config)
            check_rejected(page, server.url, config)
            check_labelling(page, server.url, config, spark)
    finally:
        server.stop()


def as_int(text: str) -> int:
    return int(text.replace(",", "").split()[0])


def check_overview(page, url: str, config) -> None:
    open_view(page, url, "overview")
    assert as_int(metric(page, "Payments scored")) == scalar(config, "SELECT COUNT(*) FROM scored_transactions")
    assert as_int(metric(page, "Alerts (review + declined)")) == scalar(config, "SELECT COUNT(*) FROM payment_alerts")
    assert as_int(metric(page, "Rejected messages")) == scalar(config, "SELECT COUNT(*) FROM rejected_payments")
    assert as_int(metric(page, "Micro-batches")) == scalar(config, "SELECT COUNT(*) FROM stream_batches")
    assert as_int(metric(page, "Declined")) == scalar(
        config, "SELECT COUNT(*) FROM scored_transactions WHERE decision = 'DECLINED'")
    version = scalar(config, "SELECT model_version FROM stream_batches ORDER BY committed_at DESC LIMIT 1")
    assert page.get_by_text(f"Model in use: {version}").is_visible()
    assert exceptions_shown(page) == 0
    screenshot(page, ARTIFACTS, "overview")


def check_alerts(page, url: str, config) -> None:
    open_view(page, url, "alerts")
    assert as_int(metric(page, "Alerts matching")) == scalar(config, "SELECT COUNT(*) FROM payment_alerts") > 0
    newest = page.get_by_text("Newest alert ", exact=False).first
    newest.wait_for(state="visible", timeout=20_000)
    text = newest.inner_text()
    explained = scalar(config, "SELECT top_features FROM payment_alerts WHERE transaction_id = %s",
                       text.split()[2].rstrip(":"))
    assert explained.count(":") == 3 and f"top features {explained}" in text  # three features, their contributions
    assert exceptions_shown(page) == 0
    screenshot(page, ARTIFACTS, "alerts")


def check_customer(page, url: str, config) -> None:
    customer = scalar(config, "SELECT customer_id FROM scored_transactions GROUP BY customer_id "
                              "ORDER BY COUNT(*) DESC, customer_id LIMIT 1")
    open_view(page, url, "customer", f"customer={customer}")
    shown = scalar(config, "SELECT LEAST(COUNT(*), 200) FROM scored_transactions WHERE customer_id = %s", customer)
    alerts = scalar(config, "SELECT COUNT(*) FROM (SELECT decision FROM scored_transactions WHERE customer_id = %s "
                            "ORDER BY event_time DESC LIMIT 200) latest WHERE decision <> 'APPROVED'", customer)
    assert as_int(metric(page, "Payments shown")) == shown > 1
    assert as_int(metric(page, "Alerts among them")) == alerts
    assert exceptions_shown(page) == 0
    screenshot(page, ARTIFACTS, "customer")


def check_model(page, url: str, config) -> None:
    open_view(page, url, "model")
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT LEAST(FLOOR(score * 20), 19), COUNT(*) FROM scored_transactions GROUP BY 1")
        counts = np.zeros(20)
        for score_bin, count in cursor.fetchall():
            counts[int(score_bin)] = count
    version = config.model.artifact_dir().name
    trained = json.loads((PROJECT_ROOT / "model" / "artifacts" / version / "metadata.json").read_text())[
        "test_score_distribution"]["share"]
    live = counts / counts.sum()
    psi = sum((max(a, 1e-4) - max(e, 1e-4)) * math.log(max(a, 1e-4) / max(e, 1e-4))
              for a, e in zip(live, trained, strict=True))
    assert as_int(metric(page, "Payments scored, last 1 hour")) == int(counts.sum())
    assert float(metric(page, "Population stability index")) == pytest.approx(psi, abs=0.0015)
    check_shadow_comparison(page, config)
    assert exceptions_shown(page) == 0
    screenshot(page, ARTIFACTS, "model")


def check_shadow_comparison(page, config) -> None:
    """The champion-shadow figures equal MySQL's, the shadow alerting from its own threshold (0.3)."""
    both = scalar(config, "SELECT COUNT(*) FROM scored_transactions WHERE shadow_model_version = %s", SHADOW)
    assert both == scalar(config, "SELECT COUNT(*) FROM scored_transactions") > 0
    alerts = [scalar(config, "SELECT COUNT(*) FROM scored_transactions WHERE " + where) for where in (
        "decision <> 'APPROVED'", "shadow_score >= 0.3", "decision <> 'APPROVED' AND shadow_score >= 0.3")]
    assert as_int(metric(page, "Payments scored by both")) == both
    shown = [as_int(metric(page, label)) for label in ("Champion's alerts", "Shadow's alerts", "Alerts of both")]
    assert shown == alerts and alerts[1] > 0
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT score, shadow_score FROM scored_transactions")
        scores = np.asarray(cursor.fetchall(), dtype=float)
    assert float(metric(page, "Score correlation")) == pytest.approx(np.corrcoef(scores.T)[0, 1], abs=0.0015)


def check_rejected(page, url: str, config) -> None:
    open_view(page, url, "rejected")
    assert as_int(metric(page, "Rejected messages")) == scalar(config, "SELECT COUNT(*) FROM rejected_payments")
    # The most frequent reason's samples are shown: the hostile messages, as text, not markup.
    # Waits: the view re-renders every refresh_seconds, and a check at that instant found nothing.
    page.get_by_text("<script>window.__pwned=2</script>", exact=False).first.wait_for(state="visible",
                                                                                      timeout=20_000)
    assert page.evaluate("window.__pwned") is None
    assert exceptions_shown(page) == 0
    screenshot(page, ARTIFACTS, "rejected")



def check_labelling(page, url: str, config, spark) -> None:
    """Log in, confirm the newest alert as fraud: the label goes through Kafka and the job into
    fraud_labels with the analyst's name; a wrong password is refused first."""
    transaction_id = scalar(config, "SELECT transaction_id FROM payment_alerts ORDER BY committed_at DESC, "
                                    "transaction_id LIMIT 1")
    password = (config.local_services.state_dir / "secrets" / "dashboard-analyst-password").read_text().strip()
    open_view(page, url, "alerts")
    log_in(page, LOCAL_ANALYST, password + "-wrong")
    page.get_by_text("Wrong user name or password.").wait_for(timeout=30_000)
    log_in(page, LOCAL_ANALYST, password)
    page.get_by_text(f"Logged in as {LOCAL_ANALYST}.", exact=False).wait_for(timeout=30_000)
    sent = page.get_by_text(f"Label sent: {transaction_id} is fraud, by {LOCAL_ANALYST}", exact=False)
    # A submit that lands while Streamlit reruns the page (the login cookie's rerun) can be dropped
    # before it runs, as for a user: press again once. A second label only replaces the first.
    for attempt in (1, 2):
        page.get_by_label("Transaction id of the alert").fill(transaction_id)
        page.get_by_role("button", name="Confirm fraud").click()
        try:
            sent.wait_for(timeout=30_000)
            break
        except Exception:
            if attempt == 2:
                screenshot(page, ARTIFACTS, "alerts-label-failed")
                raise AssertionError(page.inner_text("body")[-1200:]) from None
    assert exceptions_shown(page) == 0
    screenshot(page, ARTIFACTS, "alerts-labelled")
    drain(spark, config)
    stored = scalar(config, "SELECT CONCAT(is_fraud, ' ', labeled_by) FROM current_fraud_labels "
                            "WHERE transaction_id = %s", transaction_id)
    assert stored == f"1 {LOCAL_ANALYST}"


def log_in(page, username: str, password: str) -> None:
    form = page.get_by_test_id("stForm").filter(has=page.get_by_text("Log in to label alerts"))
    form.get_by_label("User name").fill(username)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_role("button", name="Log in").click()
