"""A button that starts a short training run in a background thread, with a progress bar.

The kernel stays free while it trains (the click handler returns at once), so the other
widgets keep working. Progress is read from the run directory the run writes (history.csv
rows per epoch, best.json after ranking), so any runner that writes a run directory works.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets
import pandas as pd

from pgnas_core.run.run_dir import RunDir


def _default_runner(cfg, out: Path):
    from pgnas_core.run.pipeline import search

    return search(cfg, out, progress=False)


def _rows(path: Path) -> int:
    try:
        return len(pd.read_csv(path)) if path.is_file() else 0
    except (pd.errors.EmptyDataError, OSError, pd.errors.ParserError):
        return 0


def run_progress(run_dir: Path, cfg) -> int:
    """Steps done in a run directory: trained epochs plus finished derivations, over the
    run's method and its baselines."""
    run = RunDir(run_dir)
    steps = 0
    for name in (cfg.method.name, *cfg.method.baselines):
        where = run.method_dir(name, cfg.method.name)
        steps += _rows(where.history) + int(where.best.is_file())
    return steps


def total_steps(cfg) -> int:
    methods = 1 + len(cfg.method.baselines)
    return methods * (cfg.train.epochs + 1)


class TrainButton(widgets.VBox):
    """``make_config()`` is called at each click (so it can read the sliders); every run goes
    to a fresh ``out_dir/run_NNN``. ``runner(cfg, run_dir)`` defaults to
    the pipeline's ``search``."""

    def __init__(
        self,
        make_config: Callable,
        out_dir: str | Path,
        runner: Callable | None = None,
        description: str = "train",
        poll_seconds: float = 0.5,
    ):
        self.make_config, self.out_dir = make_config, Path(out_dir)
        self.runner = runner or _default_runner
        self.poll_seconds = poll_seconds
        self.button = widgets.Button(description=description, icon="play", button_style="primary")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="progress")
        self.status = widgets.HTML("idle")
        self.thread: threading.Thread | None = None
        self.result = self.error = self.run_dir = None
        super().__init__([widgets.HBox([self.button, self.progress]), self.status])
        self.button.on_click(lambda _: self.start())

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def _next_dir(self) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        k = 0
        while (self.out_dir / f"run_{k:03d}").exists():
            k += 1
        return self.out_dir / f"run_{k:03d}"

    def start(self) -> threading.Thread | None:
        """Start a run in a background thread (not while one is running); returns it."""
        if self.running:
            self.status.value = "already training: wait for it to finish"
            return None
        cfg = self.make_config()
        self.run_dir = self._next_dir()
        self.result = self.error = None
        self.progress.max, self.progress.value = total_steps(cfg), 0
        self.progress.bar_style = ""
        self.button.disabled = True
        self.status.value = f"training into {html.escape(str(self.run_dir))} ..."
        worker = threading.Thread(target=self._work, args=(cfg, self.run_dir), daemon=True)
        # The watcher alone touches the progress widgets; it ends after the worker.
        self.thread = threading.Thread(
            target=self._watch, args=(worker, self.run_dir, cfg), daemon=True
        )
        worker.start()
        self.thread.start()
        return self.thread

    def _work(self, cfg, run_dir: Path) -> None:
        try:
            self.result = self.runner(cfg, run_dir)
        except Exception as e:  # shown in the widget: a thread has nobody else to tell
            self.error = e

    def _watch(self, worker: threading.Thread, run_dir: Path, cfg) -> None:
        tic = time.perf_counter()
        while worker.is_alive():
            self.progress.value = min(run_progress(run_dir, cfg), self.progress.max)
            worker.join(self.poll_seconds)
        if self.error is None:
            self.progress.value = self.progress.max
            self.progress.bar_style = "success"
            self.status.value = (
                f"done in {time.perf_counter() - tic:.0f}s: {html.escape(str(run_dir))}"
            )
        else:
            e = self.error
            self.progress.bar_style = "danger"
            self.status.value = f"failed: {html.escape(type(e).__name__)}: {html.escape(str(e))}"
        self.button.disabled = False

    def wait(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)


def train_button(
    make_config: Callable, out_dir: str | Path, runner: Callable | None = None
) -> TrainButton:
    """A "train" button: each click runs ``make_config()``'s config (a RunConfig) into a new
    directory under ``out_dir`` in a background thread, with a progress bar."""
    return TrainButton(make_config, out_dir, runner)
