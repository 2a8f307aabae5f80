"""Open dashboard views in headless Chromium (Debian's package, driven by Playwright): for the
browser test and the dashboard benchmark. Playwright's own browser download is not used."""
from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dashboard.views import RENDERED_MARK

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWS = {"overview": "", "alerts": "alerts", "customer": "customer", "model": "model", "rejected": "rejected"}
TITLES = {"overview": ("Overview", "Overview"), "alerts": ("Alerts", "Latest alerts"),
          "customer": ("Customer", "Customer"), "model": ("Model", "Model"),
          "rejected": ("Rejected", "Rejected messages")}  # view: (sidebar link, page heading)


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("Chromium is not installed; `make setup` installs Debian's chromium package")
    return found


@contextmanager
def browser_page(width: int = 1400, height: int = 1000) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def open_view(page, base_url: str, view: str, query: str = "", timeout_ms: int = 60_000) -> float:
    """Navigate to a view; wait until its last element (the 'Figures as of' line) is shown.
    Returns the seconds from navigation to that point."""
    started = time.monotonic()
    page.goto(f"{base_url}/{VIEWS[view]}{('?' + query) if query else ''}")
    page.get_by_text(RENDERED_MARK).first.wait_for(timeout=timeout_ms)
    return time.monotonic() - started


def switch_to(page, view: str, timeout_ms: int = 60_000) -> float:
    """Click the view in the sidebar (no page load, as users move); seconds until its heading and
    its last element are shown."""
    link, heading = TITLES[view]
    started = time.monotonic()
    page.get_by_test_id("stSidebarNav").get_by_text(link, exact=True).click()
    page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=timeout_ms)
    page.get_by_text(RENDERED_MARK).first.wait_for(timeout=timeout_ms)
    return time.monotonic() - started


def metric(page, label: str) -> str:
    """The value shown by the st.metric with this label."""
    box = page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text(label, exact=True))
    return box.locator('[data-testid="stMetricValue"]').first.inner_text().strip()


def exceptions_shown(page) -> int:
    return page.locator('[data-testid="stException"]').count()


def screenshot(page, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
