"""The what-if app in a real browser: Voilà serves apps/whatif.ipynb, Debian's chromium (driven by Playwright) opens it, and
moving the human-scribe slider must change the numbers shown. Skipped, with the reason, where there is no browser."""
import os
import socket
import subprocess
import sys
import time
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


def served_url(server: subprocess.Popen, log: Path, seconds: float = 180) -> str:
    """The address Voilà says it listens on. Voilà moves to another port when the one asked for has been taken in the
    meantime (the other test worker's kernels open ports too), so the test reads the address from Voilà's log instead
    of assuming it: connecting to a port some other program took hangs the browser until it times out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines()
        for said, following in zip(lines, lines[1:]):
            if "Voilà is running at" in said and following.strip().startswith("http"): return following.strip()
        if server.poll() is not None: pytest.fail(f"voila exited with code {server.returncode}:\n{log.read_text()}")
        time.sleep(0.5)
    pytest.fail(f"voila did not say where it listens within {seconds:.0f} s:\n{log.read_text()}")


@pytest.fixture
def app_url(tmp_path):
    log = tmp_path / "voila.log"
    env = {**os.environ, "TWINLAB_APP_DRAWS": "20"}   # a smaller ensemble: the test checks that the numbers move, not their precision
    with log.open("w") as sink:
        server = subprocess.Popen([str(VOILA), str(APP), "--no-browser", f"--port={free_port()}", "--Voila.ip=127.0.0.1"],
                                  cwd=APP.parent, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield served_url(server, log)
    finally:
        server.terminate()
        server.wait(timeout=30)
        sys.stderr.write(f"voila's log:\n{log.read_text()}")   # pytest shows it only when the test fails


def test_moving_a_slider_changes_the_numbers(app_url):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(app_url, wait_until="commit", timeout=60_000)   # Voilà streams the page while the notebook runs
            page.wait_for_selector(".whatif-summary li", timeout=300_000)
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
