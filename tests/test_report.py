"""`pgnas report DIR`: a run's and a study's report as one HTML file, opened in the real
Chromium (Debian's, driven headless by Playwright) from disk with the network cut off: every
image is there and renders (naturalWidth > 0), the page names the run or study, and nothing
is loaded from outside the file. Screenshots go to tests/_artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pgnas_core.run.cli import main

from cli_run import run_cli
from test_browser import CHROMIUM, _playwright
from viz_run import digits_run

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "_artifacts"
STUDY = REPO / "results" / "reference" / "guided_vs_random"


def test_a_folder_that_is_neither_a_run_nor_a_study_is_one_line_error(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a run")
    assert main(["report", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("pgnas: error: report:")
    assert "neither a run directory (no config.yaml) nor a study folder (no results.csv)" in err
    assert main(["report", str(tmp_path / "missing")]) == 1
    assert "is not a directory" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_the_report_kind_and_the_shipped_templates():
    import nbformat

    from pgnas_core.run.cli_report import report_kind
    from pgnas_viz.report import TEMPLATES, templates_dir

    assert report_kind(STUDY) == "study"
    for name in TEMPLATES.values():
        nb = nbformat.read(templates_dir() / name, as_version=4)
        first = nb.cells[0]
        assert "parameters" in first.metadata.get("tags", []), name  # papermill's cell
        assert "folder" in first.source
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert (templates_dir() / "pgnas_report" / "index.html.j2").is_file()


def _open_in_chromium(html: Path, screenshot: Path) -> dict:
    """Load ``html`` from disk with every non-file request refused; returns the images
    (src kind, naturalWidth, complete), the h1 text and the refused requests."""
    sync_playwright = _playwright()
    refused = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def refuse(route):
                refused.append(route.request.url)
                route.abort()

            page.route(re.compile(r"^(?!file:|data:).*"), refuse)
            page.goto(html.as_uri(), wait_until="load", timeout=60_000)
            images = page.evaluate(
                "Array.from(document.images).map(i => ({src: i.src.slice(0, 22),"
                " width: i.naturalWidth, complete: i.complete, alt: i.alt}))"
            )
            h1 = page.locator("h1").first.inner_text()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return {"images": images, "h1": h1, "refused": refused}


def _assert_images_render(seen: dict, at_least: int) -> None:
    images = seen["images"]
    assert len(images) >= at_least, images
    for img in images:
        assert img["complete"] and img["width"] > 0, img
        assert img["src"].startswith("data:image/"), img  # embedded, not a file beside it
    assert seen["refused"] == []  # self-contained: nothing fetched from the network


@pytest.mark.slow
@pytest.mark.browser
def test_a_run_report_renders_every_plot_in_chromium(tmp_path_factory, tmp_path):
    run_dir = digits_run(tmp_path_factory)
    dest = tmp_path / "run_report.html"
    r = run_cli("report", str(run_dir), "--dest", str(dest), timeout=600)
    assert r.returncode == 0, r.stderr
    assert str(dest) in r.stdout and dest.is_file()
    text = dest.read_text()
    sections = (
        "Training curves",
        "Keep-probabilities",
        "The derived architecture",
        "Candidates",
        "Records",
        "Provenance",
        "config.yaml",
        "environment.json",
    )
    for section in sections:
        assert section in text, section
    assert "def " not in text and "rs.training_curves" not in text  # code cells hidden
    assert "Traceback" not in text and "Warning" not in text
    seen = _open_in_chromium(dest, ARTIFACTS / "report_run.png")
    # curves, keep-probability heatmap and evolution, the graph, the candidate histogram
    _assert_images_render(seen, 5)
    assert run_dir.name in seen["h1"]
    assert any(i["src"].startswith("data:image/svg") for i in seen["images"])  # the graph


@pytest.mark.slow
@pytest.mark.browser
def test_a_study_report_renders_the_claims_in_chromium(tmp_path):
    dest = tmp_path / "study_report.html"
    r = run_cli("report", str(STUDY), "--dest", str(dest), timeout=600)
    assert r.returncode == 0, r.stderr
    text = dest.read_text()
    assert "the PGNAS winner beats the Random winner" in text  # the claims table
    assert "holds" in text and "95% CI" in text
    seen = _open_in_chromium(dest, ARTIFACTS / "report_study.png")
    _assert_images_render(seen, 4)  # claims, test_acc, Pareto vs params and vs FLOPs
    assert "guided_vs_random" in seen["h1"]
    assert not (STUDY / "report.html").exists()  # --dest: the reference folder stays clean


@pytest.mark.slow
def test_a_darts_run_report_shows_the_alpha_heatmap_and_says_why_no_candidates(
    tmp_path_factory, monkeypatch
):
    """The run sections in-process on a tiny DARTS run: the alpha heatmap (one panel per
    shown epoch, one scale), the cell graph as an SVG image, and a note instead of the
    candidates, which DARTS does not rank."""
    import matplotlib

    matplotlib.use("Agg")
    from pgnas_core.run import experiments as ex
    from pgnas_viz import report_sections as rs

    out = ex.cached_search(
        ex.cell_config("darts", "train.epochs=1"), tmp_path_factory.mktemp("darts"), name="darts"
    )
    shown = {"figures": [], "html": []}
    monkeypatch.setattr(rs, "figure", shown["figures"].append)
    monkeypatch.setattr(rs, "show_html", shown["html"].append)
    monkeypatch.setattr(rs, "note", lambda text: shown["html"].append(f"note: {text}"))
    run = rs.header(str(out))
    assert "method <b>darts</b>" in shown["html"][0]
    rs.heatmaps(run)
    (fig,) = shown["figures"]
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["epoch 0", "epoch 1"]
    assert len({(ax.images[0].norm.vmin, ax.images[0].norm.vmax) for ax in panels}) == 1
    rs.architecture(run)
    assert 'src="data:image/svg+xml;base64,' in shown["html"][-1]
    rs.candidates(run)
    assert shown["html"][-1].startswith("note: no candidates.csv: darts derives")
    rs.training_curves(run)
    curves = shown["figures"][-1].axes
    assert curves[3].get_title() == "argmax edges: parameter-free"
