"""The l2 and tau sliders as a user meets them: JupyterLab, a real browser, a moved slider.

JupyterLab is started on 127.0.0.1 (free port, token, no browser) in a temporary folder
holding a copy of ``notebooks/03_weight_prior_l2.ipynb`` whose sweep points at two small runs
trained here on real digits (the notebook's ``SWEEP_DIRS`` parameter, the way a run made on a
GPU is shown). Debian's chromium is driven headless by Playwright: run all cells, move each
slider with the keyboard (a mouse drag if that does not move it), check that the line the
widget writes changed, and save a screenshot to ``tests/_artifacts/``. Every wait is bounded.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "03_weight_prior_l2.ipynb"
ARTIFACTS = REPO / "tests" / "_artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[dev]' (make setup)")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (make setup)")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer within {timeout}s:\n{log.read_text()}")


def _notebook_with_sweep(dest: Path, sweep_dirs: list[str]) -> Path:
    """Copy the l2 notebook, injecting the sweep after its parameter cell (papermill style)."""
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = nbformat.v4.new_code_cell(f"SWEEP_DIRS = {sweep_dirs!r}  # injected by the test")
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(nb.cells.index(next(c for c in nb.cells if c.cell_type == "code")) + 1, cell)
    path = dest / NOTEBOOK.name
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def sweep_dirs(tmp_path_factory):
    """Two really trained nets (digits, 1 epoch) of an l2 sweep."""
    from pgnas_core.run import experiments as ex

    root = tmp_path_factory.mktemp("browser-runs")
    base = ex.quick_config(
        "train.epochs=1", "search.candidates=3", "method.baselines=[]", "search.finetune_epochs=0"
    )
    return list(ex.run_sweep(base, "posterior.l2", [1.0, 30.0], root)["run_dir"])


@pytest.fixture
def jupyterlab(tmp_path, sweep_dirs):
    """A JupyterLab server on 127.0.0.1 serving a folder with the notebook; yields its URL."""
    _notebook_with_sweep(tmp_path, sweep_dirs)
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "PGNAS_QUICK": "1",
        "PGNAS_NOTEBOOK_RUNS": str(tmp_path / "runs"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / ".jupyter"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / ".runtime"),
    }
    log = tmp_path / "jupyter.log"
    # started from this Python, so the default python3 kernel is this environment's
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={tmp_path}",
        "--ServerApp.port_retries=0",
        "--LabApp.news_url=None",
        "--ServerApp.open_browser=False",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
        cmd.append("--allow-root")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield {"base": base, "token": token, "log": log}
    finally:
        if proc.poll() is None:
            try:
                req = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
                urllib.request.urlopen(req, timeout=10)
            except OSError:
                pass
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _summary_text(page, widget: str) -> str:
    return page.locator(f".{widget} .pgnas-summary").first.inner_text(timeout=10_000)


def _move_slider(page, widget: str, key: str, presses: int = 8) -> tuple[str, tuple[str, str]]:
    """Move the first slider of ``widget`` right; return (text before, (text, readout) once the
    text shows the readout's new value). The readout moves in the browser at once; the text
    follows only after the kernel's answer, which can take minutes on a loaded machine."""
    from playwright.sync_api import expect

    before = _summary_text(page, widget)
    readout = page.locator(f".{widget} .widget-readout").first
    start = readout.inner_text(timeout=10_000)
    handle = page.locator(f".{widget} .noUi-handle").first
    handle.scroll_into_view_if_needed(timeout=10_000)
    handle.focus()
    for _ in range(presses):
        handle.press("ArrowRight")
    try:
        expect(readout).not_to_have_text(start, timeout=20_000)
    except AssertionError:  # keyboard ignored: drag the handle instead
        box = handle.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + 120, box["y"] + box["height"] / 2, steps=10)
        page.mouse.up()
        expect(readout).not_to_have_text(start, timeout=20_000)
    return before, _wait_for_agreement(page, widget, key, 300)


def _wait_for_agreement(page, widget: str, key: str, timeout: float) -> tuple[str, str]:
    """Wait (in the browser) until the value in ``widget``'s summary text equals its slider's
    readout to 3%; return (text, readout) as the page then shows them, agreeing or not."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "([root, key]) => { const w = document.querySelector(root);"
            " if (!w) return false;"
            " const s = w.querySelector('.pgnas-summary'), r = w.querySelector('.widget-readout');"
            " if (!s || !r) return false;"
            " const m = s.innerText.match(new RegExp('^' + key + '=([0-9.e+-]+)'));"
            " const a = m ? parseFloat(m[1]) : NaN, b = parseFloat(r.innerText);"
            " return Math.abs(a - b) <= 0.03 * Math.abs(b); }",
            arg=[f".{widget}", key],
            timeout=timeout * 1000,
        )
    except PlaywrightTimeout:
        pass
    readout = page.locator(f".{widget} .widget-readout").first.inner_text(timeout=10_000)
    return _summary_text(page, widget), readout


def test_sliders_in_jupyterlab_change_the_widget_output(jupyterlab):
    sync_playwright = _playwright()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "browser_widgets.png"
    url = f"{jupyterlab['base']}/lab/tree/{NOTEBOOK.name}?token={jupyterlab['token']}"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(url, timeout=90_000)
            page.locator(".jp-Notebook").first.wait_for(state="visible", timeout=120_000)
            # JupyterLab may ask which kernel to start: accept its proposal (python3, this venv)
            dialog = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
            try:
                dialog.first.wait_for(state="visible", timeout=20_000)
                dialog.first.click()
            except PlaywrightTimeout:
                pass
            news = page.locator(".jp-toast-button", has_text=re.compile(r"^No$"))
            if news.count():
                news.first.click()
            # the kernel must be up before running
            page.locator(
                ".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                "#jp-main-statusbar :text('Idle')"
            ).first.wait_for(timeout=120_000)
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
            # every cell ran when the l2 widget (second to last output) and the tau widget show
            for widget in ("pgnas-l2-explorer", "pgnas-tau-explorer"):
                page.locator(f".{widget} .pgnas-summary").first.wait_for(timeout=300_000)
            errors = page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] "
                ":text('Traceback')"
            )
            assert errors.count() == 0, "a cell raised:\n" + errors.first.inner_text()

            # each move is judged by what it checks: the widget's own text showing the value
            # of its slider's readout (the kernel's "Idle" can come before the text is drawn)
            l2_before, l2_final = _move_slider(page, "pgnas-l2-explorer", "l2")
            tau_before, tau_final = _move_slider(page, "pgnas-tau-explorer", "tau")
            final = {"pgnas-l2-explorer": l2_final, "pgnas-tau-explorer": tau_final}
            page.locator(".pgnas-l2-explorer").first.scroll_into_view_if_needed()
            page.screenshot(path=str(shot), full_page=False)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser_failure.png"), full_page=False)
            print(jupyterlab["log"].read_text()[-4000:])
            raise
        finally:
            browser.close()
    assert l2_before.startswith("l2=") and l2_final[0] != l2_before, (l2_before, l2_final)
    assert tau_before.startswith("tau=") and tau_final[0] != tau_before, (tau_before, tau_final)
    print({"l2": (l2_before, l2_final), "tau": (tau_before, tau_final)})
    # the text follows the slider: the value went up, and the page's final text shows the
    # value the slider's own readout shows
    for widget, key in (("pgnas-l2-explorer", "l2"), ("pgnas-tau-explorer", "tau")):
        before = l2_before if key == "l2" else tau_before
        text, readout = final[widget]
        value = float(re.match(rf"{key}=([\d.e+-]+)", text).group(1))
        assert value > float(re.match(rf"{key}=([\d.e+-]+)", before).group(1)), (before, text)
        assert value == pytest.approx(float(readout), rel=0.03), (text, readout)
    assert shot.stat().st_size > 10_000
