"""Headless Chromium (Debian's, driven by Playwright) and the JupyterLab / formgrader steps both browser
tests use (tests/test_e2e.py: one Lab per role; tests/test_hub.py: JupyterHub)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .servers import REPO

CHROMIUM = os.environ.get("PT2JAX_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync"]
SHOTS = REPO / "build" / "screenshots"
# generous waits: servers, a browser, JAX/torch kernels and the sandboxed grader share 2 cores
UI_MS = 60_000
KERNEL_MS = 150_000
GRADE_MS = 240_000


def launch_browser(failure_prefix: str = "failure-") -> Iterator[Any]:
    """Yield a Playwright Chromium (a module fixture's body); skip on PT2JAX_E2E_SKIP, fail without chromium."""
    if os.environ.get("PT2JAX_E2E_SKIP"):
        pytest.skip("PT2JAX_E2E_SKIP is set")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: the e2e test needs Debian's chromium "
                    "(`apt-get install chromium chromium-driver`, done by `make setup` as root and by .ci/run)")
    from playwright.sync_api import sync_playwright

    for old in SHOTS.glob(f"{failure_prefix}*.png"):
        old.unlink()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, timeout=UI_MS)
        try:
            yield browser
        finally:
            browser.close()


def expect() -> Any:
    """Playwright's ``expect`` with the UI timeout."""
    from playwright.sync_api import expect as _expect

    _expect.set_options(timeout=UI_MS)
    return _expect


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def nbgrader_menu(page: Any, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator(".lm-Menu-itemLabel").get_by_text(item, exact=True).click()


def modal_ok(frame: Any, timeout: float = UI_MS) -> str:
    """Wait for the formgrader's result modal; fail with its text on an error, else close it."""
    modal = frame.locator("#success-modal, #error-modal")
    modal.locator(".modal-footer button").wait_for(timeout=timeout)
    text = modal.inner_text()
    assert "Success" in modal.locator(".modal-title").inner_text(), text[-3000:]
    modal.locator(".modal-footer button").click()
    modal.wait_for(state="detached")
    return text


def answer(page: Any, source: str, marker: str) -> None:
    """Replace the source of the first code cell holding ``marker`` by ``source``."""
    cell = page.locator(".jp-CodeCell", has_text=marker).first
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)  # no auto-indent or bracket closing, unlike typing
