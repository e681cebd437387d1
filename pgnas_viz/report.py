"""``pgnas report DIR``: one self-contained HTML file for a run directory or a study folder.

The report is a notebook template shipped with this package (``report_templates/``),
executed by papermill with the folder as its parameter and rendered by nbconvert with the
code cells hidden. Figures are embedded as PNG data, the architecture graph as SVG data, and
the page loads no script or stylesheet from the network, so it opens offline and can be
mailed or attached as it is.
"""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path

from pgnas_core.errors import PgnasError
from pgnas_core.run.cli_report import report_kind

TEMPLATES = {"run": "run_report.ipynb", "study": "study_report.ipynb"}
HTML_TEMPLATE = "pgnas_report"  # nbconvert's lab template without its CDN scripts
DEFAULT_NAME = "report.html"


def templates_dir() -> Path:
    return Path(str(resources.files("pgnas_viz") / "report_templates"))


def build_report(folder: str | Path, dest: str | Path | None = None, timeout: int = 600) -> Path:
    """Execute the run or study template on ``folder`` and write the HTML to ``dest``
    (default: ``folder/report.html``); returns its path."""
    folder = Path(folder).resolve()
    kind = report_kind(folder)
    dest = Path(dest) if dest else folder / DEFAULT_NAME
    if dest.is_dir():
        raise PgnasError(f"report: --dest {dest} is a directory, not a file")
    executed = execute_template(TEMPLATES[kind], {"folder": str(folder)}, timeout)
    html = render_html(executed, title=f"pgnas {kind} report: {folder.name}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(html, encoding="utf-8")
    return dest


def execute_template(name: str, parameters: dict, timeout: int = 600):
    """The template notebook ``name`` executed by papermill (in a scratch folder, so no
    stray files land in the run); a failing cell becomes one PgnasError line."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    with tempfile.TemporaryDirectory(prefix="pgnas-report-") as scratch:
        try:
            return pm.execute_notebook(
                str(templates_dir() / name),
                None,
                parameters=parameters,
                kernel_name="python3",
                progress_bar=False,
                cwd=scratch,
                execution_timeout=timeout,
            )
        except PapermillExecutionError as e:
            raise PgnasError(
                f"report: the {name} notebook failed in cell {e.exec_count}: {e.ename}: {e.evalue}"
            ) from e


def render_html(notebook, title: str) -> str:
    """The executed notebook as one HTML page: outputs and markdown only (no code, no
    prompts), images embedded."""
    from nbconvert import HTMLExporter

    notebook.metadata["title"] = title
    notebook.metadata.pop("widgets", None)
    exporter = HTMLExporter(
        template_name=HTML_TEMPLATE,
        extra_template_basedirs=[str(templates_dir())],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(notebook)
    return body
