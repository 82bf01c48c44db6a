"""Browser tests: headless Chromium (Debian's `chromium`) driven by Playwright, against a local stack
with the demo catalog. Where Chromium is missing they are skipped, and the run says so; under CI=true a
missing Chromium fails them instead. A failing test leaves a screenshot in browser-artifacts/."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from local import LocalStack

CHROMIUM = os.environ.get("SHELF_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ADMIN_API_KEY = "sk_browser_" + "b" * 32
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "browser-artifacts"
SCREENSHOTS = ROOT / "docs" / "img"  # refreshed with SHELF_UPDATE_SCREENSHOTS=1

_missing: list[str] = []


def _why_unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make test installs requirements-dev.txt)"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set SHELF_CHROMIUM)"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _why_unavailable()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
        _missing.append(reason)
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def shop():
    stack = LocalStack(
        port=0, stage="browser", banner=False,
        env={"SHELF_SEED_DEMO": "1", "SHELF_ADMIN_API_KEY": ADMIN_API_KEY, "SHELF_LOCAL_SCHEDULE_SECONDS": "0"},
        parameters={"RetryIntervalSeconds": "1", "RetryMaxAttempts": "2", "CompensationMaxAttempts": "3"},
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_failed = report.failed
    return report


@pytest.fixture
def page(browser, shop, request):
    context = browser.new_context(viewport={"width": 1200, "height": 860}, base_url=shop.url)
    context.set_default_timeout(20_000)
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)  # assertions wait as long as actions: a loaded machine is slow, not broken
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))
    yield page
    if getattr(request.node, "browser_failed", False):
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()


def save_screenshot(page, name: str) -> None:
    """README screenshots, only when asked for (they are committed files)."""
    if os.environ.get("SHELF_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name))


def pytest_terminal_summary(terminalreporter):
    if _missing:
        terminalreporter.write_sep("!", "BROWSER TESTS DID NOT RUN", yellow=True)
        terminalreporter.write_line(f"{_missing[0]}. CI installs Chromium and runs them.")
