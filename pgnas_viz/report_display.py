"""What a report section displays: a figure as an embedded PNG (then closed, so that no
figure is shown twice), a table with a caption, a note, raw HTML. IPython only."""

from __future__ import annotations

import html

import pandas as pd

FLOAT_FORMAT = "{:.4g}".format


def show_html(text: str) -> None:
    from IPython.display import HTML, display

    display(HTML(f'<div class="pgnas-report">{text}</div>'))


def figure(fig) -> None:
    """Display ``fig`` as one PNG and close it."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)


def table(df: pd.DataFrame, caption: str) -> None:
    body = df.to_html(float_format=FLOAT_FORMAT, na_rep="", border=0)
    show_html(f"<p><b>{html.escape(caption)}</b></p>{body}")


def note(text: str) -> None:
    show_html(f'<p class="pgnas-note">{html.escape(text)}</p>')


def setup() -> None:
    """Figures at a compact size; no warnings in the report (a figure's legend with
    nothing to list is not the reader's concern)."""
    import warnings

    import matplotlib

    matplotlib.rcParams["figure.dpi"] = 80
    warnings.simplefilter("ignore")
