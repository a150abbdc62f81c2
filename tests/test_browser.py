"""The form in a real browser: Voilà serves ``tests/browser_app/app.ipynb``, headless Chromium
drives it (type, dry run, confirm, send, watch progress, export).

Needs Debian's ``chromium`` at /usr/bin/chromium; without it the test is skipped, unless
``ITNIO_REQUIRE_BROWSER=1`` (CI), where a missing browser is a failure. Screenshots go to
``artifacts/`` (gitignored). Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "tests" / "browser_app" / "app.ipynb"
ARTIFACTS = REPO / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_TIMEOUT = 60.0  # seconds for Voilà to listen
UI_TIMEOUT = 60_000  # ms for the page (kernel start + first render) and each step

pytestmark = pytest.mark.slow


def _require_browser() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)"
    if os.environ.get("ITNIO_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " — ITNIO_REQUIRE_BROWSER=1 makes this a failure")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll until Voilà accepts TCP connections (or died, or the deadline passed)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"voila exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)  # polling a port of another process; there is no event to wait on
    pytest.fail(f"voila did not listen on {port} in {STARTUP_TIMEOUT:.0f} s:\n{log.read_text()}")


@pytest.fixture
def voila_url(tmp_path: Path) -> Iterator[str]:
    """Voilà serving a copy of the app from a temp folder (ledgers/reports land there)."""
    _require_browser()
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(APP, site / "app.ipynb")
    home = tmp_path / "home"
    spec_dir = home / "jupyter-data" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3",
                "language": "python",
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ITNIO_", "JUPYTER"))}
    env.update(
        HOME=str(home),
        JUPYTER_DATA_DIR=str(home / "jupyter-data"),
        JUPYTER_PATH=str(home / "jupyter-data"),
        JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
        IPYTHONDIR=str(home / "ipython"),
        XDG_CONFIG_HOME=str(home / "xdg-config"),
        XDG_DATA_HOME=str(home / "xdg-data"),
        XDG_CACHE_HOME=str(home / "xdg-cache"),
        XDG_RUNTIME_DIR=str(home / "xdg-runtime"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    port = _free_port()
    log = tmp_path / "voila.log"
    cmd = [
        sys.executable, "-m", "voila", "--no-browser", f"--port={port}",
        "--Voila.ip=127.0.0.1", "--VoilaConfiguration.show_tracebacks=True", "app.ipynb",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=site, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_campaign_form_in_the_browser(voila_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=UI_TIMEOUT)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600}, accept_downloads=True)
            page.set_default_timeout(UI_TIMEOUT)
            page.goto(voila_url)

            def shot(name: str) -> None:
                page.screenshot(path=str(ARTIFACTS / f"browser-{name}.png"), full_page=True)

            textarea = page.locator(".itnio-content textarea")
            expect(textarea).to_be_visible()
            counter = page.locator(".itnio-counter")
            expect(counter).to_contain_text("0 characters")
            shot("01-loaded")

            # Typing updates the live counter and the preview.
            textarea.fill("Hi {first_name}, 20% off this weekend")
            expect(counter).to_contain_text("template: 37 characters · GSM-7 · 1 segment")
            expect(page.locator(".itnio-preview")).to_contain_text("Hi Guest0, 20% off")
            textarea.fill("Hi {first_name}, 20% off this weekend 😀")
            expect(counter).to_contain_text("UCS-2")
            send = page.locator("button.itnio-send")
            expect(send).to_be_disabled()
            shot("02-typed")

            # Dry run: the summary and the skipped rows; the confirmation states the count.
            page.locator("button.itnio-dryrun").click()
            summary = page.locator(".itnio-summary")
            expect(summary).to_contain_text("ready")
            expect(summary).to_contain_text("1,500")
            expect(summary).to_contain_text("enough balance")
            expect(page.locator(".itnio-skipped")).to_contain_text("skipped_invalid")
            confirm = page.locator(".itnio-confirm")
            expect(confirm).to_contain_text("Send 1,500 SMS now")
            expect(send).to_be_disabled()
            shot("03-dry-run")

            # Confirm, send, and watch the progress bar reach the end.
            confirm.locator("input[type=checkbox]").check()
            expect(send).to_be_enabled()
            send.click()
            result = page.locator(".itnio-result")
            expect(result).to_contain_text("Campaign completed")
            bar = page.locator(".itnio-progress .progress-bar")
            expect(bar).to_have_attribute("style", re.compile(r"(^|;\s*)width: 100%;"))
            expect(page.locator(".itnio-progress-label")).to_contain_text("1,500 of 1,500")
            expect(page.locator(".itnio-failures")).to_contain_text("No failures")
            expect(result).to_contain_text("submitted")
            expect(result).to_contain_text("1,500")
            shot("04-sent")

            # Export: a download link with the report.
            page.locator("button.itnio-export").click()
            link = page.locator(".itnio-download a[download]")
            expect(link).to_be_visible()
            with page.expect_download() as info:
                link.click()
            saved = tmp_path / info.value.suggested_filename
            info.value.save_as(saved)
            assert saved.suffix == ".xlsx" and saved.read_bytes()[:2] == b"PK"
            shot("05-exported")
        finally:
            browser.close()
