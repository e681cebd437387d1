"""Run the notebooks in quick mode under pytest (nbval), with a fresh cache of runs per session.

The kernels nbval starts inherit this process's environment, so setting the variables here
reaches every notebook, and the notebooks share their runs within one session. Variables the
caller set are left alone: ``PGNAS_NOTEBOOK_RUNS=runs/notebooks pytest notebooks`` reuses the
local cache instead of training again.
"""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("PGNAS_QUICK", "1")
if not os.environ.get("PGNAS_NOTEBOOK_RUNS"):
    _runs = tempfile.mkdtemp(prefix="pgnas-notebook-runs-")
    os.environ["PGNAS_NOTEBOOK_RUNS"] = _runs
    atexit.register(shutil.rmtree, _runs, True)


def pytest_collection_modifyitems(items):
    """Every notebook cell is a slow test: the notebooks train in quick mode for minutes, so
    ``make check`` (``-m "not slow"``) leaves them to ``make test``."""
    import pytest

    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.path).endswith(".ipynb") and str(item.path).startswith(here):
            item.add_marker(pytest.mark.slow)
