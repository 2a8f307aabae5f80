"""Every dashboard query is answered through an index: EXPLAIN must show no full scan of
scored_transactions, and every read of the other tables must have an index to choose from."""
from __future__ import annotations

import pytest

from dashboard import data
from dashboard.views import customer_velocity_columns
from sinks.mysql_connection import named_statements

pytestmark = pytest.mark.integration

QUERIES = ("alert_count", "alert_to_label", "latest_alerted_customers", "latest_label", "alerts",
           "customer_transactions", "latest_batch",
           "latest_models", "minute_totals", "recent_batches", "rejected_by_reason", "rejected_samples",
           "score_histograms", "shadow_comparison", "window_totals")


def queries(config, cursor) -> dict:
    return data.representative_queries(customer_velocity_columns(config), data.database_now(cursor))


def test_every_statement_of_the_file_is_checked(local_services, mysql_connection):
    with mysql_connection.cursor() as cursor:
        names = set(queries(local_services, cursor))
    assert names == set(named_statements(data.SQL)) == {*QUERIES, "database_now"}


@pytest.mark.parametrize("name", QUERIES)
def test_dashboard_query_does_not_scan_a_table(local_services, mysql_connection, name):
    with mysql_connection.cursor() as cursor:
        sql, params = queries(local_services, cursor)[name]
        plan = data.explain(cursor, sql, params)
    assert not data.full_scans(plan), f"{name} scans scored_transactions: {plan}"
    for table in ("stream_batches", "payment_alerts", "rejected_payments", "fraud_labels"):
        # Scanning these is the optimiser's right choice when the window holds most of the table
        # (as it does on test data written minutes ago), so what must hold is that an index exists.
        unindexed = [step for step in data.full_scans(plan, table) if not (step["key"] or step["possible_keys"])]
        assert not unindexed, f"{name} has no index to read {table} with: {plan}"
