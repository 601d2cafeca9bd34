"""Runs side by side: :func:`list_runs` (a table of the runs under a directory) and
:func:`compare_runs` (config and metric differences, with paired tests where the test rows are
the same: McNemar's test and a paired bootstrap interval on the stored predictions)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelcycle import _html
from modelcycle._html import HtmlReport
from modelcycle.exceptions import ArtifactError, ConfigError
from modelcycle.tracking import flatten

__all__ = ["RunsComparison", "compare_runs", "list_runs"]

METRICS = ("accuracy", "macro_f1", "weighted_f1", "ece")
RUN_FILE = "run.json"


def list_runs(root: str | Path) -> list[dict[str, Any]]:
    """One row per run directory in ``root`` (or ``root`` itself), oldest first: its path,
    date, data, model, rows and headline test metrics."""
    root = Path(root)
    if not root.is_dir():
        raise ArtifactError(f"{root}: not a directory")
    candidates = [root] if (root / RUN_FILE).is_file() else sorted(root.iterdir())
    rows = []
    for path in candidates:
        if not (path / RUN_FILE).is_file():
            continue
        summary = _read_run(path)
        metrics = summary.get("test_metrics", {})
        rows.append(
            {
                "run": str(path),
                "created": summary.get("created", ""),
                "data": Path(str(summary.get("data", ""))).name,
                "model": summary.get("model"),
                "rows": summary.get("rows"),
                **{name: metrics.get(name) for name in METRICS[:2]},
                "variant": (summary.get("serve") or {}).get("variant"),
            }
        )
    return sorted(rows, key=lambda row: (row["created"], row["run"]))


def runs_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """``list_runs``'s rows as a plain-text table."""
    headers = ["run", "created", "data", "model", "rows", "accuracy", "macro_f1", "variant"]
    cells = [[_text(row[h]) for h in headers] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    return "\n".join(line.rstrip() for line in lines)


@dataclass(frozen=True)
class RunsComparison(HtmlReport):
    """Runs compared: ``comparison.json`` and ``comparison.html``."""

    json_file = "comparison.json"
    html_file = "comparison.html"

    result: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """``comparison.json``'s content."""
        return self.result

    def to_html(self) -> str:
        """One page: the runs' metrics, the config differences, the paired tests."""
        return _comparison_html(self.result)

    def summary(self, out: str | Path) -> str:
        """Each run's accuracy, each paired test's verdict, and where the page went."""
        lines = [
            f"{run['name']}: accuracy {_text(run['metrics'].get('accuracy'))}, macro-F1 "
            f"{_text(run['metrics'].get('macro_f1'))}"
            for run in self.result["runs"]
        ]
        lines += [
            f"{pair['b']} vs {pair['a']}: {pair['verdict']}" for pair in self.result["paired"]
        ]
        lines.append(f"config differences: {len(self.result['config_differences'])}")
        lines.append(f"wrote {Path(out) / self.html_file} and {Path(out) / self.json_file}")
        return "\n".join(lines)


def compare_runs(paths: Sequence[str | Path], *, seed: int = 0) -> RunsComparison:
    """Compare two or more run directories against the first."""
    if len(paths) < 2:
        raise ConfigError("runs compare needs two or more run directories")
    runs = []
    configs = []
    for path in map(Path, paths):
        summary = _read_run(path)
        configs.append(flatten(_read_json(path / "config.json")))
        runs.append(
            {
                "name": path.name,
                "path": str(path),
                "created": summary.get("created"),
                "model": summary.get("model"),
                "data": summary.get("data"),
                "metrics": {m: summary.get("test_metrics", {}).get(m) for m in METRICS},
            }
        )
    keys = sorted({key for config in configs for key in config})
    differences = {
        key: [config.get(key) for config in configs]
        for key in keys
        if len({config.get(key) for config in configs}) > 1
    }
    paired = [_paired(Path(paths[0]), Path(other), seed) for other in paths[1:]]
    return RunsComparison({"runs": runs, "config_differences": differences, "paired": paired})


def _paired(a: Path, b: Path, seed: int) -> dict[str, Any]:
    """McNemar's test and the paired bootstrap interval of B's accuracy minus A's, when both
    runs predicted the same test rows (same texts, same labels, same order)."""
    import polars as pl  # deferred: start-up time of the CLI

    from modelcycle.evaluation import mcnemar, paired_bootstrap_ci

    result: dict[str, Any] = {"a": a.name, "b": b.name}
    frames = []
    for run in (a, b):
        path = run / "predictions.csv"
        if not path.is_file():
            return {**result, "same_rows": False, "verdict": f"no paired test: {path} is missing"}
        frames.append(pl.read_csv(path, infer_schema=False))
    fa, fb = frames
    if fa.select("text", "label").equals(fb.select("text", "label")) is False:
        return {**result, "same_rows": False, "verdict": "no paired test: the test rows differ"}
    correct_a = (fa["label"] == fa["predicted"]).to_numpy()
    correct_b = (fb["label"] == fb["predicted"]).to_numpy()
    test = mcnemar(int((correct_a & ~correct_b).sum()), int((correct_b & ~correct_a).sum()))
    ci = paired_bootstrap_ci(correct_b, correct_a, 1000, seed)
    difference = float(correct_b.mean() - correct_a.mean())
    verdict = (
        f"accuracy {difference:+.4f} (95% interval {ci[0]:+.4f} to {ci[1]:+.4f}), McNemar p = "
        f"{test['p_value']:.4g}: "
        + ("significant at 0.05" if test["p_value"] < 0.05 else "no significant difference")
        if ci
        else f"accuracy {difference:+.4f}, McNemar p = {test['p_value']:.4g}"
    )
    return {
        **result,
        "same_rows": True,
        "n": len(correct_a),
        "difference": difference,
        "ci95": ci,
        "mcnemar": test,
        "verdict": verdict,
    }


def _comparison_html(result: Mapping[str, Any]) -> str:
    runs = result["runs"]
    metrics = _html.table(
        ["run", "created", "model", *METRICS],
        [
            [_html.Html(f'<a href="{_html.esc(r["path"])}/index.html">{_html.esc(r["name"])}</a>'),
             r["created"], r["model"], *(_text(r["metrics"][m]) for m in METRICS)]
            for r in runs
        ],
        numeric=tuple(range(3, 3 + len(METRICS))),
    )  # fmt: skip
    config = _html.table(
        ["config key", *(r["name"] for r in runs)],
        [[key, *values] for key, values in result["config_differences"].items()],
        compact=True,
    )
    paired = _html.table(
        ["B", "against A", "rows", "verdict"],
        [[p["b"], p["a"], p.get("n", "–"), p["verdict"]] for p in result["paired"]],
    )
    body = (
        f"<h2>Test metrics</h2>{metrics}"
        f"<h2>Paired tests</h2><p>Where both runs predicted the same test rows: McNemar's exact "
        f"test on the rows only one got right, and a paired bootstrap 95% interval of the "
        f"accuracy difference.</p>{paired}"
        f"<h2>Config differences</h2>{config}"
    )
    return _html.page("modelcycle runs compared", body, subtitle=", ".join(r["name"] for r in runs))


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "–" if value is None else str(value)


def _read_run(path: Path) -> dict[str, Any]:
    if not (path / RUN_FILE).is_file():
        raise ArtifactError(
            f"{path}: not a run directory (no {RUN_FILE}; write one with modelcycle run)"
        )
    return _read_json(path / RUN_FILE)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: cannot read it ({exc})") from exc
    return data
