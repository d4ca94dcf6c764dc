"""The dashboard in a real browser against a real ``rungs serve`` running a real sweep.

Starts ``rungs serve`` (API + one worker + local Ray) on a free port with SQLite in a temp dir,
submits a tiny synthetic sweep, and drives headless Chromium (Debian's, never a downloaded one)
through the sweep page: the learning curves appear and then grow without a reload, the CSV
button downloads the top-k, and the page raises no JavaScript error. The final screenshot lands
in ``test-artifacts/dashboard.png`` for a human to look at.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from orchestrator.storage import SQLStorage
from tests.orchestrator.api.conftest import fill_sweep
from tests.services import CHROMIUM_ENV

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
# `make test` finds or installs it (tests/services.py); Debian's path otherwise.
CHROMIUM = os.environ.get(CHROMIUM_ENV, "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
K = 2
# stage1 6 trials x 10 epochs at 0.3 s an epoch (no early stopping: the curves keep growing for
# a while), stage2 3 trials, then top-2 x 1 seed: about a minute on 2 busy cores.
SWEEP = f"""\
name: browser-tiny
method: bayes
metric: {{name: score, goal: maximize}}
model: {{name: synthetic, fixed: {{sleep_per_epoch: 0.3, noise: 0.05}}}}
parameters:
  lr: {{distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}}
  weight_decay: {{distribution: log_uniform_values, min: 1.0e-6, max: 1.0e-3}}
epochs: 10
resources: {{cpus_per_trial: 1, max_concurrent: 2}}
stages:
  - {{name: stage1, subset: 2000, trials: 6}}
  - {{name: stage2, subset: 4000, trials: 3}}
selection: {{k: {K}}}
validation: {{subset: 8000, seeds: [42]}}
wandb: false
"""
CSV_COLUMNS = ["rank", "name", "source", "trial_id", "stage", "variant", "score", "lr",
               "weight_decay", "distance_to_nearest"]  # fmt: skip
# Failed requests the page makes on purpose: the ranking is 404 until validation has results.
EXPECTED_HTTP_ERRORS = (("/ranking", 404),)
CURVE_POINTS_JS = """() => {
  const el = document.getElementById('curves');
  return el && el.data ? el.data.reduce((n, trace) => n + trace.x.length, 0) : 0;
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C first: ``rungs serve`` then stops its worker, which stops its Ray. The process
    group is ours (start_new_session): kill what is left of it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=40)
    with contextlib.suppress(ProcessLookupError):  # the whole group has exited already
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """``rungs serve`` with one worker; yields its base URL; stopped in the finalizer."""
    yield from _serve(tmp_path, workers=1)


def _serve(tmp_path: Path, workers: int, token: str | None = None) -> Iterator[str]:
    """``rungs serve`` on the SQLite file ``tmp_path/rungs.db``; with ``token``, every request
    (reads too) needs it."""
    port = _free_port()
    env = {**os.environ, "RUNGS_HOME": str(tmp_path / "home"), "WANDB_MODE": "disabled",
           "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1"}  # fmt: skip
    for name in ("RUNGS_API_TOKEN", "RUNGS_API_TOKEN_FILE", "RUNGS_DATABASE_URL"):
        env.pop(name, None)
    if token is not None:
        env |= {"RUNGS_API_TOKEN": token, "RUNGS_READS_REQUIRE_TOKEN": "1"}
    cmd = [sys.executable, "-m", "orchestrator", "serve", "--port", str(port),
           "--db", f"sqlite:///{tmp_path / 'rungs.db'}", "--workers", str(workers)]  # fmt: skip
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait("the API", lambda: _answers(base, proc, tmp_path), timeout=60)
        yield base
    finally:
        _stop(proc)
        log.close()


def _answers(base: str, proc: subprocess.Popen[bytes], tmp_path: Path) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"rungs serve exited: {(tmp_path / 'serve.log').read_text()[-2000:]}")
    try:
        return httpx.get(f"{base}/api/meta/states", timeout=2).status_code in (200, 401)
    except httpx.TransportError:
        return False


@dataclass
class PageProblems:
    """JavaScript errors and unexpected HTTP errors seen by the page."""

    js: list[str] = field(default_factory=list)
    http: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda exc: self.js.append(f"uncaught: {exc}"))
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, msg: Any) -> None:
        # a failed fetch is also logged as a console error: _response judges those
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.js.append(f"console.error: {msg.text}")

    def _response(self, response: Any) -> None:
        if response.status < 400:
            return
        path = response.url.split("?")[0]
        if not any(path.endswith(p) and response.status == s for p, s in EXPECTED_HTTP_ERRORS):
            self.http.append(f"{response.status} {response.url}")


def _submit(base: str) -> int:
    response = httpx.post(
        f"{base}/api/sweeps?filename=browser.yaml",
        content=SWEEP,
        headers={"Content-Type": "application/x-yaml"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _state(base: str, sweep_id: int) -> str:
    state = str(httpx.get(f"{base}/api/sweeps/{sweep_id}", timeout=10).json()["state"])
    assert state not in ("failed", "cancelled", "interrupted"), f"the sweep ended {state}"
    return state


def _top_rows(base: str, sweep_id: int) -> int:
    _state(base, sweep_id)
    return len(httpx.get(f"{base}/api/sweeps/{sweep_id}/top?k={K}", timeout=30).json()["rows"])


def test_live_dashboard_follows_a_running_sweep(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    sweep_id = _submit(server)
    problems = PageProblems()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
            problems.watch(page)
            _follow_curves(page, server, sweep_id)
            _download_csv(page, server, sweep_id, tmp_path)
            _wait("the sweep to complete", lambda: _state(server, sweep_id) == "completed", 240, 2)
            page.reload()  # the heavy panels refresh every few ticks: show them all now
            for chart in ("ranking", "importance", "parallel", "curves"):
                # ?.: right after the reload the view (and its charts) may not be built yet
                page.wait_for_function(
                    f"() => (document.getElementById('{chart}')?.data || []).length > 0",
                    timeout=60_000,
                )
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            # stage2's step says how its space was made, with the per-parameter notes on hover
            note = page.locator("#pipeline .step", has_text="stage2").locator(".sub[title]")
            assert note.inner_text().startswith("narrowed from stage1 (")
            assert "lr: " in (note.get_attribute("title") or "")
        finally:
            browser.close()
    assert problems.js == [], problems.js
    assert problems.http == [], problems.http


def _follow_curves(page: Any, base: str, sweep_id: int) -> None:
    """Open the list, click into the sweep, see curves appear and grow without a reload."""
    page.goto(f"{base}/")
    page.wait_for_selector(f"#sweeps tr[data-id='{sweep_id}']", timeout=30_000)
    page.click(f"#sweeps tr[data-id='{sweep_id}']")
    page.wait_for_function(f"() => location.hash === '#/sweep/{sweep_id}'")
    first = page.wait_for_function(f"() => ({CURVE_POINTS_JS})() > 0", timeout=180_000)
    before = int(first.json_value())
    page.evaluate("() => { window.__sameDocument = true; }")  # gone if the page reloads
    page.wait_for_function(f"() => ({CURVE_POINTS_JS})() > {before}", timeout=120_000)
    assert page.evaluate("() => window.__sameDocument === true"), "the page reloaded itself"


def _download_csv(page: Any, base: str, sweep_id: int, tmp_path: Path) -> None:
    """Once the API has a top-k, the page's button downloads it; mid-sweep it is a preview of
    the validation CSV, and both the page and the file name say so."""
    _wait(f"a top-{K}", lambda: _top_rows(base, sweep_id) >= K, timeout=240, every=2)
    page.fill("#k", str(K))
    page.dispatch_event("#k", "change")
    with page.expect_download(timeout=30_000) as info:
        page.click("#csv-button")
    download = info.value
    assert download.suggested_filename == f"top{K}_configs_preview.csv"
    assert page.inner_text("#top-label").startswith("Preview: selection has not run yet")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    frame = pd.read_csv(io.StringIO(target.read_text()))
    assert len(frame) == K and list(frame["rank"]) == list(range(1, K + 1))
    assert set(CSV_COLUMNS) <= set(frame.columns), list(frame.columns)
    assert frame["score"].notna().all()
    # while stage2 has no finished trial, the top-k is the latest search stage's so far
    assert set(frame["stage"]) <= {"stage1", "stage2"}


# -- reads that need a token ----------------------------------------------------------------------
TOKEN = "browser-s3cret"
CRASH = "RuntimeError: synthetic crash at epoch 3 (crash_at_epoch=3)"
NAN = "train_loss became NaN at epoch 3 (nan_at_epoch=3)"


def _seed(tmp_path: Path) -> int:
    """A stored sweep (no worker runs it) with a failed and a diverged trial and their reasons."""
    storage = SQLStorage(f"sqlite:///{tmp_path / 'rungs.db'}")
    filled = fill_sweep(storage)
    by_status = {status: trial for trial, status in filled.statuses.items()}
    storage.update_trial(by_status["failed"], stop_reason={"rule": "error", "message": CRASH})
    storage.update_trial(
        by_status["running"], status="diverged", stop_reason={"rule": "trainer", "message": NAN},
        finished=True,
    )  # fmt: skip
    storage.close()
    return filled.sweep_id


@pytest.fixture
def token_server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """``rungs serve --workers 0`` on a seeded database, reads requiring :data:`TOKEN`."""
    sweep_id = _seed(tmp_path)
    for base in _serve(tmp_path, workers=0, token=TOKEN):
        yield base, sweep_id


def test_dashboard_with_a_read_token_shows_reasons_and_downloads_the_csv(
    token_server: tuple[str, int], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    base, sweep_id = token_server
    problems = PageProblems()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
            problems.watch(page)
            _enter_token(page, base, sweep_id)
            problems.http.clear()  # the 401s before the token was entered were the point
            page.click(f"#sweeps tr[data-id='{sweep_id}']")
            _see_stop_reasons(page)
            _download_csv_with_token(page, base, sweep_id, tmp_path)
            page.reload()  # the token is kept in the browser
            page.wait_for_selector("#trials td", timeout=30_000)
            assert page.input_value("#token") == "" and page.is_visible("#token-forget")
        finally:
            browser.close()
    assert problems.js == [], problems.js
    assert problems.http == [], problems.http


def _enter_token(page: Any, base: str, sweep_id: int) -> None:
    """Without a token the page says so; with it the list appears and the token is stored."""
    page.goto(f"{base}/")
    page.wait_for_selector("#token-form.needed", timeout=30_000)
    assert "needs a token" in page.inner_text("#token-state")
    page.fill("#token", TOKEN)
    page.click("#token-save")
    page.wait_for_selector(f"#sweeps tr[data-id='{sweep_id}']", timeout=30_000)
    assert page.evaluate("() => localStorage.getItem('rungs-token')") == TOKEN
    assert page.get_attribute("#token-form", "class") == "token"


def _see_stop_reasons(page: Any) -> None:
    """A failed and a diverged trial say why, in the server's words."""
    page.wait_for_function(
        "(crash) => (document.getElementById('trials')?.innerText || '').includes(crash)",
        arg=CRASH,
        timeout=30_000,
    )
    text = page.inner_text("#trials")
    assert NAN in text
    assert "undefined" not in text


def _download_csv_with_token(page: Any, base: str, sweep_id: int, tmp_path: Path) -> None:
    """The CSV button fetches with the token and saves the file under the server's name."""
    answer = httpx.get(
        f"{base}/api/sweeps/{sweep_id}/top.csv",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    name = answer.headers["content-disposition"].split('filename="')[1].rstrip('"')
    page.wait_for_selector("#top td", timeout=30_000)
    with page.expect_download(timeout=30_000) as info:
        page.click("#csv-button")
    download = info.value
    assert download.suggested_filename == name
    target = tmp_path / name
    download.save_as(target)
    assert target.read_text(encoding="utf-8") == answer.text
    frame = pd.read_csv(target)
    assert len(frame) >= 1 and frame["score"].notna().all()
