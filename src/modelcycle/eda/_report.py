"""``EdaReport``: the profile's figures, written as ``eda.json`` and ``eda.html``."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelcycle._html import HtmlReport
from modelcycle._wording import plural
from modelcycle.eda._plots import PlotData, draw
from modelcycle.eda._render import render

__all__ = ["EdaReport"]


@dataclass(frozen=True)
class EdaReport(HtmlReport):
    """What is in a labeled text dataset and what is wrong with it.

    ``to_json()`` gives ``eda.json``'s content (the fields of DESIGN.md); ``to_html()`` renders
    the self-contained report with its plots; ``write(dir)`` writes both.
    """

    json_file = "eda.json"
    html_file = "eda.html"

    data: dict[str, Any]
    plots: PlotData = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """The figures as JSON-ready data (a copy)."""
        return copy.deepcopy(self.data)

    def to_html(self) -> str:
        """The report as one HTML page with every plot embedded (draws the plots)."""
        return render(self.data, draw(self.plots))

    def summary(self, out: str | Path) -> str:
        """One line: rows, labels, duplicates, conflicting texts; the files written to ``out``."""
        d, out = self.data, Path(out)
        return (
            f"{plural(d['rows'], 'row')}, {plural(len(d['labels']), 'label')}, "
            f"{plural(d['duplicates'], 'duplicate')}, "
            f"{d['conflicting_labels']:,} conflicting; wrote {out / self.json_file} and "
            f"{out / self.html_file}"
        )
