"""The what-if app in a real browser: Voilà serves apps/whatif.ipynb, Debian's chromium (driven by Playwright) opens it, and
moving the human-scribe slider must change the numbers shown. Skipped, with the reason, where there is no browser."""
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
APP = Path(__file__).resolve().parents[1] / "apps" / "whatif.ipynb"
VOILA = Path(sys.executable).with_name("voila")

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no browser: Debian's chromium is not installed (apt-get install -y chromium)"),
    pytest.mark.skipif(not VOILA.exists(), reason="voila is not installed (pip install -e '.[dev]')"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_url(tmp_path):
    port = free_port()
    env = {**os.environ, "TWINLAB_APP_DRAWS": "20"}   # a smaller ensemble: the test checks that the numbers move, not their precision
    server = subprocess.Popen([str(VOILA), str(APP), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"], cwd=APP.parent, env=env,
                              stdout=subprocess.DEVNULL, stderr=(tmp_path / "voila.log").open("w"))
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(120):   # the server is up once it answers at all (the notebook runs only when the page is asked for)
            try:
                urllib.request.urlopen(url + "static/", timeout=1)
                break
            except urllib.error.HTTPError: break   # an answer, if not a page
            except OSError: time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_moving_a_slider_changes_the_numbers(app_url):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(app_url, timeout=120_000)
            page.wait_for_selector(".whatif-summary li", timeout=120_000)
            before = page.inner_text(".whatif-summary")
            assert "after-hours EHR time" in before and "change +0.0" in before   # no lever moved: exactly no change
            handle = page.locator(".whatif-scribe .noUi-handle")
            handle.focus()
            for _ in range(6): handle.press("ArrowRight")
            page.wait_for_function("t => document.querySelector('.whatif-summary').innerText !== t", arg=before, timeout=60_000)
            after = page.inner_text(".whatif-summary")
            assert after != before and "change -" in after   # scribes at 30% of visits take EHR minutes away
            assert "answered in" in page.inner_text(".whatif-status")
        finally:
            browser.close()
