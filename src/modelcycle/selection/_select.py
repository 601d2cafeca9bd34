"""``select``: search, add quantized variants, apply the rule, refit the pick, write it all."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from modelcycle._io import atomic_dir, check_output_path, write_json, write_text
from modelcycle.config import QuantizeConfig, SelectConfig, TrainConfig
from modelcycle.data import Dataset
from modelcycle.exceptions import ArtifactError, ConfigError
from modelcycle.models import MODELS
from modelcycle.selection._measure import Scheme, measure_variants, scheme_for
from modelcycle.selection._report import Leaderboard, render_html
from modelcycle.selection._rule import TEST_NAME, constraints, mark_pareto, recommend
from modelcycle.selection._search import STUDY_NAME, Search, importances, open_study, trial_rows
from modelcycle.training import TrainResult, train

__all__ = ["STUDY_FILE", "select"]

STUDY_FILE = "study.db"
QUANTIZED_TOP = 2  # --quantize: variants of this many of the most accurate trials
QUANTIZE_SECONDS = 5.0  # kept per fold and variant family for --quantize (export, guardrail)
FINISH_SECONDS = 2.0  # kept for the report and the model directory
OUR_FILES = ("leaderboard.json", STUDY_FILE)


def select(
    dataset: Dataset,
    config: SelectConfig | None = None,
    *,
    out_dir: str | Path,
    val: Dataset | None = None,
    progress: Callable[[str], None] | None = None,
    started: float | None = None,
) -> Leaderboard:
    """Search ``config.models`` on ``dataset`` within ``config.budget`` seconds (counted from
    ``started``, a ``time.monotonic()``, default now), recommend one by the stated rule, and
    write into ``out_dir``: ``leaderboard.json``, ``leaderboard.html``, the Optuna study
    (``study.db``, unless ``config.storage`` names another) and ``model/``, the pick refitted on
    every row (a model directory, as ``modelcycle train`` writes).

    Example::

        board = select(load_dataset("train.csv"), SelectConfig(budget=60), out_dir="sel/")
        board.recommendation, board.reason, load_model("sel/model")
    """
    config = config or SelectConfig()
    start = time.monotonic() if started is None else started
    deadline = start + config.budget
    say = progress or (lambda message: None)
    unknown = [m for m in config.models if m not in MODELS]
    if unknown:
        raise ConfigError(f"unknown model {unknown[0]!r}; valid models are: {', '.join(MODELS)}")
    dataset.require_classes(2)
    out_dir = _output_dir(out_dir)
    scheme = scheme_for(dataset, config, val)
    say(f"scoring on {scheme.description}")
    storage = config.storage or f"sqlite:///{(out_dir / STUDY_FILE).resolve()}"
    study = open_study(storage, config, scheme, where=config.storage or str(out_dir / STUDY_FILE))
    kept = FINISH_SECONDS
    if config.quantize:
        kept += QUANTIZE_SECONDS * QUANTIZED_TOP * len(scheme.folds)
    search = Search(study, scheme, config, deadline, kept, say)
    search.run()
    rows = trial_rows(study, scheme.rows)
    if config.quantize:
        rows += _variants(rows, scheme, config, deadline, say)
    candidates = [r for r in rows if r["state"] == "complete"]
    mark_pareto(candidates)
    limits = constraints(config)
    choice = recommend(candidates, limits, alpha=config.alpha)
    model_dir = None
    if choice.pick is not None:
        say(f"refitting {choice.pick['name']} on all {len(dataset) + len(val or []):,} rows")
        model_dir = _write_pick(choice.pick, dataset, val, config, out_dir / "model")
    for row in rows:
        row.pop("correct", None)
    board = Leaderboard(
        data=dataset.source,
        scoring=scheme.description,
        test=f"{TEST_NAME} (two-sided) against the most accurate model on the same "
        f"{scheme.rows:,} validation rows, level {config.alpha:g}",
        alpha=config.alpha,
        constraints=limits,
        rows=rows,
        recommendation=choice.pick["name"] if choice.pick else None,
        best=choice.best["name"] if choice.best else None,
        reason=choice.reason,
        budget_s=config.budget,
        elapsed_s=round(time.monotonic() - start, 2),
        study={"name": STUDY_NAME, "storage": storage, "trials": len(study.trials)},
        skipped=dict(search.skipped),
        importances=importances(study, config.models),
        model_dir=str(model_dir) if model_dir else None,
    )
    # the page first, then the JSON with the time that includes writing the page
    write_text(out_dir / "leaderboard.html", render_html(board))
    board = replace(board, elapsed_s=round(time.monotonic() - start, 2))
    write_json(out_dir / "leaderboard.json", board.to_json())
    return board


def _output_dir(path: str | Path) -> Path:
    """``path``, made; refused when it holds files that a selection did not write."""
    path = Path(path)
    check_output_path(path)
    if path.exists() and (
        not path.is_dir()
        or (any(path.iterdir()) and not any((path / f).exists() for f in OUR_FILES))
    ):
        raise ArtifactError(
            f"{path} exists and is not a directory modelcycle select wrote; "
            "choose another output path"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def _variants(
    rows: list[dict[str, Any]],
    scheme: Scheme,
    config: SelectConfig,
    deadline: float,
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    """INT8 (and for fasttext PQ) variants of the ``QUANTIZED_TOP`` most accurate trials, while
    the budget lasts."""
    done = sorted((r for r in rows if r["state"] == "complete"), key=lambda r: -r["accuracy"])
    out = []
    for row in done[:QUANTIZED_TOP]:
        needed = (row["fit_seconds"] + QUANTIZE_SECONDS) * len(scheme.folds)
        if time.monotonic() + needed > deadline - FINISH_SECONDS:
            say(f"no time left to quantize {row['name']}")
            break
        precisions = ["int8", "pq"] if row["family"] == "fasttext" else ["int8"]
        say(f"quantizing {row['name']}: {', '.join(precisions)}")
        measured = measure_variants(
            row["family"], row["params"], precisions, scheme, seed=config.seed
        )
        for precision, figures in measured.items():
            out.append(
                {
                    **row,
                    **figures,
                    "name": f"{row['name']}-{precision}",
                    "variant": precision,
                    "fit_seconds": row["fit_seconds"],
                }
            )
    return out


def _write_pick(
    pick: dict[str, Any],
    dataset: Dataset,
    val: Dataset | None,
    config: SelectConfig,
    path: Path,
) -> Path:
    """Refit the pick on every row and write its model directory (a quantized pick: the
    same precision of the refitted model)."""
    every = dataset
    if val is not None:
        every = Dataset.from_records(
            dataset.texts + val.texts,
            dataset.labels.tolist() + val.labels.tolist(),
            source=dataset.source,
        )
    train_config = TrainConfig(model=pick["family"], params=pick["params"], seed=config.seed)
    result = train(every, train_config, progress=False)
    metrics = {
        "selection_accuracy": pick["accuracy"],
        "selection_accuracy_low": pick["accuracy_ci95"][0],
        "selection_accuracy_high": pick["accuracy_ci95"][1],
    }
    fitted = TrainResult(result.model, train_config, result.seconds, len(every), metrics)
    if pick["variant"] == "trained":
        return fitted.save(path, source=dataset.source)
    from modelcycle.quantization import quantize  # deferred: ONNX Runtime, for --quantize only

    with tempfile.TemporaryDirectory() as scratch:
        quantized = QuantizeConfig(precisions=(pick["variant"],), seed=config.seed)
        sample = every.take(range(min(len(every), 1000)))
        quantize(result.model, sample, Path(scratch) / "q", quantized, source=dataset.source)
        with atomic_dir(path, replace_if="manifest.json") as tmp:
            shutil.copytree(Path(scratch) / "q" / pick["variant"], tmp, dirs_exist_ok=True)
    return path
