"""``run``: every stage of a config into one run directory, each skipped while unchanged."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelcycle._io import check_output_path, sha256_file
from modelcycle.config import PipelineConfig
from modelcycle.exceptions import ArtifactError, ConfigError
from modelcycle.pipeline._cache import (
    RECORDS_DIR,
    drop_record,
    is_fresh,
    read_record,
    write_record,
)
from modelcycle.pipeline._stages import AUTO, Stage, stage_plan
from modelcycle.pipeline._summary import RUN_FILE, write_run_files
from modelcycle.tracking import log_run

__all__ = ["RunResult", "run"]

# What ``on_stage`` is told about each stage: it runs, it is unchanged (skipped), or it is left
# out by ``stages`` (its earlier outputs are kept).
RUNNING, UNCHANGED, LEFT_OUT = "running", "unchanged", "left out"


@dataclass(frozen=True)
class RunResult:
    """Where a run went, its headline figures, and which stages ran."""

    path: Path
    summary: dict[str, Any]

    @property
    def metrics(self) -> dict[str, Any]:
        """The test-set metrics (``metrics.json``)."""
        metrics: dict[str, Any] = self.summary.get("test_metrics", {})
        return metrics

    @property
    def ran(self) -> list[str]:
        """The stages that ran this time (the others were unchanged or left out)."""
        ran: list[str] = self.summary["ran"]
        return ran


def run(
    config: PipelineConfig,
    out_dir: str | Path,
    *,
    on_stage: Callable[[str, str], None] | None = None,
    force: Collection[str] = (),
    stages: Collection[str] | None = None,
    track: str | None = None,
) -> RunResult:
    """Run the stages of ``config`` into ``out_dir``, skipping each whose inputs, config and
    modelcycle version are unchanged since it last ran there (like make).

    ``force`` names stages to run even so; ``stages`` runs only those named (the others keep
    their earlier outputs, which must exist). ``on_stage(name, status)`` is told each stage's
    fate as it comes: ``"running"``, ``"unchanged"`` or ``"left out"``. Each stage writes its
    outputs atomically and its record last, so a run killed mid-stage resumes at that stage.
    ``track``: an MLflow tracking URI to log the run to (:func:`modelcycle.tracking.log_run`).
    """
    if not config.data.path:
        raise ConfigError("data.path is not set; name the labeled data file in [data] path")
    plan = stage_plan(config)
    _check_names(plan, force, "--force")
    _check_names(plan, stages or (), "--stages")
    run_dir = _prepare(Path(out_dir))
    full = config.to_dict()
    records: dict[str, dict[str, Any]] = {}
    ran: list[str] = []
    for stage in plan:
        inputs = _inputs(stage, config, records)
        section = {name: full[name] for name in stage.sections}
        record = read_record(run_dir, stage.name)
        fresh = is_fresh(run_dir, record, inputs=inputs, config=section, outputs=stage.outputs)
        if record is not None and (
            (fresh and stage.name not in force) or (stages is not None and stage.name not in stages)
        ):
            _tell(on_stage, stage.name, UNCHANGED if fresh else LEFT_OUT)
            records[stage.name] = record
            continue
        if stages is not None and stage.name not in stages:
            raise ConfigError(
                f"stage {stage.name!r} has not run in {run_dir}; add it to --stages "
                "(the stages after it read its outputs)"
            )
        if not ran:
            _check_model(config)
        _tell(on_stage, stage.name, RUNNING)
        drop_record(run_dir, stage.name)
        _clear(run_dir, stage.outputs)
        start = time.perf_counter()
        stage.body(config, run_dir)
        seconds = time.perf_counter() - start
        records[stage.name] = write_record(
            run_dir, stage.name, inputs=inputs, config=section, outputs=stage.outputs,
            seconds=seconds,
        )  # fmt: skip
        ran.append(stage.name)
    summary = write_run_files(run_dir, config, records, ran)
    if track is not None:
        summary["tracking"] = log_run(run_dir, track)
    return RunResult(run_dir, summary)


def _tell(on_stage: Callable[[str, str], None] | None, name: str, status: str) -> None:
    if on_stage is not None:
        on_stage(name, status)


def _check_names(plan: list[Stage], names: Collection[str], option: str) -> None:
    valid = [stage.name for stage in plan]
    for name in names:
        if name not in valid:
            raise ConfigError(
                f"{option}: unknown stage {name!r}; this run's stages are: {', '.join(valid)}"
            )


def _check_model(config: PipelineConfig) -> None:
    """Refuse, before the first stage runs, what would fail later: an unknown model or
    parameter, a parameter out of its range."""
    from modelcycle.models import make_model  # deferred: an unchanged run never loads models

    if config.train.model != AUTO:  # select checks its own families
        make_model(config.train.model, config.train.params).check_params()


def _clear(run_dir: Path, outputs: tuple[str, ...]) -> None:
    """Remove a stage's earlier outputs (its record is already gone): what a killed run left
    half-written, and files an earlier config made that this one does not."""
    for name in outputs:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _prepare(run_dir: Path) -> Path:
    """Create ``run_dir``, or accept it as an earlier run's; refuse any other directory."""
    check_output_path(run_dir)
    ours = (run_dir / RECORDS_DIR).is_dir() or (run_dir / RUN_FILE).is_file()
    if run_dir.exists() and (not run_dir.is_dir() or (any(run_dir.iterdir()) and not ours)):
        raise ArtifactError(
            f"{run_dir} exists and is not a run directory modelcycle wrote; choose another "
            "output path"
        )
    (run_dir / RECORDS_DIR).mkdir(parents=True, exist_ok=True)
    return run_dir


def _inputs(
    stage: Stage, config: PipelineConfig, records: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """The SHA-256 of what ``stage`` reads: the data file and its upstream stages' outputs."""
    inputs: dict[str, str] = {}
    if stage.reads_data and Path(config.data.path).is_file():
        inputs[f"data:{config.data.path}"] = _file_hash(Path(config.data.path))
    for upstream in stage.after:
        for path, digest in records[upstream]["outputs"].items():
            inputs[f"{upstream}:{path}"] = digest
    return inputs


_HASHES: dict[tuple[str, int, int], str] = {}


def _file_hash(path: Path) -> str:
    """A data file's SHA-256, computed once per process for the same path, size and mtime."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = sha256_file(path)
    return _HASHES[key]
