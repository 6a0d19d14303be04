"""Fixtures for the demo shop's tests: the shop on an emulator, and headless Chromium.

The shop lives in ``examples/shop/konbini_shop`` (an example, not part of the package), so its
folder is put on ``sys.path`` here.

Browser stack: Selenium with Debian's ``chromium-headless-shell`` (Chromium's headless-only
build: the same engine, about a third less CPU and a third of the start-up time of the full
browser in these tests) or, where only ``chromium`` is installed, the full browser, both
driven by ``chromium-driver`` (all installed by ``.ci/setup.d/chromium.sh``). Debian builds
them from one Chromium release, so driver and browser match; Selenium is pure Python from
PyPI, and with the driver's path given it never downloads anything. Without Chromium the
browser tests skip, saying why, except under CI (``CI`` set) or with
``KONBINI_REQUIRE_BROWSER=1``, where they FAIL.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SHOP_DIR = Path(__file__).resolve().parents[2] / "examples" / "shop"
if str(SHOP_DIR) not in sys.path:
    sys.path.insert(0, str(SHOP_DIR))

from konbini_shop import RunningShop, run_offline  # noqa: E402

#: The browser: ``KONBINI_CHROMIUM``, else the headless shell if installed, else Chromium.
CHROMIUM = os.environ.get("KONBINI_CHROMIUM") or next(
    (
        path
        for path in ("/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium")
        if os.path.exists(path)
    ),
    "/usr/bin/chromium",
)
CHROMEDRIVER = os.environ.get("KONBINI_CHROMEDRIVER", "/usr/bin/chromedriver")

#: Flags this machine needs for headless Chromium (no sandbox as root, no network but loopback).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1100,1400",
    "--lang=en-US",
)


def _browser_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("KONBINI_REQUIRE_BROWSER") == "1"


def _unavailable(reason: str) -> None:
    if _browser_required():
        pytest.fail(
            f"headless Chromium is required here (CI or KONBINI_REQUIRE_BROWSER=1): {reason}"
        )
    pytest.skip(f"no headless Chromium: {reason} (run .ci/setup.d/chromium.sh as root)")


@pytest.fixture
def shop() -> Iterator[RunningShop]:
    """A fresh emulator and shop on free 127.0.0.1 ports (the order page polls every 50 ms)."""
    with run_offline(poll_ms=50) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session; cookies cleared per test.

    Its profile is a fresh temporary folder chromedriver makes and removes (a profile folder of
    our own, ``--user-data-dir``, keeps the headless shell from starting under chromedriver).
    """
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("the selenium package is not installed (pip install -e '.[dev]')")
    for path in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(path) is None:
            _unavailable(f"{path} is missing")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException as error:
        _unavailable(f"Chromium did not start: {error.msg}")
    try:
        yield driver
    finally:
        driver.quit()
