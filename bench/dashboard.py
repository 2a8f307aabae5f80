"""Dashboard benchmark: each view's render time in headless Chromium with 10 million rows in
scored_transactions (a separate database, filled once by bench/dashboard_data.py and kept for
the next run), plus each view's database time and the EXPLAIN of every dashboard query.
     make bench-dashboard [ARGS="--rows 10000000 --rounds 5"]
"""
from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import dashboard_data, report  # noqa: E402
from bench.browser import VIEWS, browser_page, exceptions_shown, open_view, screenshot, switch_to  # noqa: E402
from bench.runs import bench_database  # noqa: E402
from core.config import PROJECT_ROOT, AppConfig, load_config  # noqa: E402
from dashboard import data  # noqa: E402
from dashboard.views import customer_velocity_columns, training_distribution  # noqa: E402
from services.dashboard_server import DashboardServer  # noqa: E402
from sinks.mysql_connection import admin_credentials, connect  # noqa: E402

DATABASE = "payments_dashbench"
PORT = 8598
SCREENSHOTS = PROJECT_ROOT / "state" / "bench" / "dashboard"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="scored payments (a multiple of 1,000,000)")
    parser.add_argument("--rounds", type=int, default=5, help="page loads per view after the first")
    parser.add_argument("--reload", action="store_true", help="drop the benchmark database and fill it again")
    return parser.parse_args()


def prepared_database(config: AppConfig, rows: int, reload: bool) -> tuple[AppConfig, float | None]:
    """The config pointed at the benchmark database, filled with `rows` payments (loaded if needed)."""
    bench_config = bench_database(config, DATABASE, empty=reload)
    user, password = admin_credentials(config.mysql)
    with connect(bench_config.mysql, user=user, password=password) as connection:
        with connection.cursor() as cursor:
            present = dashboard_data.loaded_rows(cursor)
        if present >= rows:
            print(f"{DATABASE} already holds {present:,} scored payments")
            return bench_config, None
        if present:
            raise SystemExit(f"{DATABASE} holds {present:,} payments, fewer than {rows:,}: run with --reload")
        print(f"filling {DATABASE} with {rows:,} scored payments ...")
        version = config.model.artifact_dir().name
        histogram = [int(share * 2000) for share in training_distribution(version)]
        return bench_config, dashboard_data.load(connection, rows, version, histogram)


def query_plans(config: AppConfig) -> dict:
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        now = data.database_now(cursor)
        plans = {}
        for name, (sql, params) in data.representative_queries(customer_velocity_columns(config), now).items():
            plan = data.explain(cursor, sql, params)
            plans[name] = {"steps": [f"{s['table']}: {s['type']} via {s['key']} (~{s['rows']} rows)" for s in plan
                                     if s["table"]], "scans_scored_transactions": bool(data.full_scans(plan))}
        return plans


def database_seconds(config: AppConfig, rounds: int) -> dict[str, float]:
    """Median seconds of each view's reads (the same functions the views call)."""
    customer = "C123"
    velocity = customer_velocity_columns(config)
    work = {
        "overview": lambda c, now: data.overview(c, now - timedelta(hours=1)),
        "alerts": lambda c, now: data.alerts(c, data.AlertFilter(now - timedelta(hours=1), now)),
        "customer": lambda c, now: (data.alerted_customers(c, now - timedelta(days=1)),
                                    data.customer_transactions(c, customer, velocity)),
        "model": lambda c, now: data.score_distribution(c, now - timedelta(hours=1)),
        "rejected": lambda c, now: (data.rejected_by_reason(c, now - timedelta(hours=1)),
                                    data.rejected_samples(c, "BAD_JSON", now - timedelta(hours=1))),
    }
    timings = {}
    with connect(config.mysql, autocommit=True) as connection, connection.cursor() as cursor:
        now = data.database_now(cursor)
        for view, read in work.items():
            samples = []
            for _ in range(rounds):
                started = time.monotonic()
                read(cursor, now)
                samples.append(time.monotonic() - started)
            timings[view] = round(statistics.median(samples), 3)
    return timings


def browser_seconds(config: AppConfig, rounds: int) -> dict[str, dict]:
    """Per view: a full page load (the first one in a new browser, then the median) and the
    median / worst of switching to it from another view in the sidebar (how users move)."""
    server = DashboardServer(config.dashboard.host, PORT, PROJECT_ROOT / "state" / "bench" / "dashboard-server",
                             (("MYSQL_DATABASE", DATABASE),))
    server.start()
    try:
        figures = {view: {"switch": []} for view in VIEWS}
        with browser_page() as page:
            for view in VIEWS:
                query = "customer=C123" if view == "customer" else ""
                cold = open_view(page, server.url, view, query)
                loads = [open_view(page, server.url, view, query) for _ in range(rounds)]
                if exceptions_shown(page):
                    raise SystemExit(f"the {view} view shows an error; see {server.log_file}")
                screenshot(page, SCREENSHOTS, view)
                figures[view].update(first_load=round(cold, 2), page_load=round(statistics.median(loads), 2))
            open_view(page, server.url, "customer", "customer=C123")  # this session's customer, kept on switches
            for _ in range(rounds):
                for view in VIEWS:
                    figures[view]["switch"].append(switch_to(page, view))
        for timing in figures.values():
            switches = timing.pop("switch")
            timing.update(median=round(statistics.median(switches), 2), max=round(max(switches), 2))
        return figures
    finally:
        server.stop()


def main() -> int:
    args = parse_args()
    config, load_seconds = prepared_database(load_config(), args.rows, args.reload)
    if load_seconds is not None:
        print(f"loaded in {load_seconds:.0f} s ({args.rows / load_seconds:,.0f} rows/s)")
    plans = query_plans(config)
    scans = [name for name, plan in plans.items() if plan["scans_scored_transactions"]]
    print("EXPLAIN: " + ("no query scans scored_transactions" if not scans else f"full scans in {scans}"))
    reads = database_seconds(config, args.rounds)
    print("database time per view (median): " + ", ".join(f"{v} {s * 1000:.0f} ms" for v, s in reads.items()))
    pages = browser_seconds(config, args.rounds)
    for view, figures in pages.items():
        print(f"  {view:<9} rendered after a switch in the sidebar in {figures['median']:.2f} s median, "
              f"{figures['max']:.2f} s max; full page load {figures['page_load']:.2f} s "
              f"(first in a new browser {figures['first_load']:.2f} s)")
    result = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": "make bench-dashboard" + (f" ARGS={shlex.quote(' '.join(sys.argv[1:]))}"
                                                   if sys.argv[1:] else ""),
              "scored_rows": args.rows, "load_seconds": load_seconds, "rounds": args.rounds,
              "database_seconds": reads, "page_seconds": pages, "query_plans": plans,
              "screenshots": str(SCREENSHOTS.relative_to(PROJECT_ROOT)), "machine": report.machine()}
    print(f"results: {report.save('dashboard', result)} and {report.RESULTS_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
