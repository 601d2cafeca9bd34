"""Logging run directories and stage outputs to MLflow."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from modelcycle._version import __version__
from modelcycle.exceptions import ArtifactError, ConfigError

__all__ = ["log_run", "track"]

EXPERIMENT = "modelcycle"
# Where each stage writes in a run directory (the path ``track`` is given for a command).
OUTPUTS = {
    "eda": "eda",
    "clean": "clean",
    "split": "data",
    "select": "select",
    "train": "model",
    "evaluate": "evaluation",
    "predict": "predictions.csv",
    "quantize": "quantized",
}
_HEADLINE = ("accuracy", "macro_f1", "weighted_f1", "ece", "log_loss", "roc_auc", "pr_auc")


def log_run(run_dir: str | Path, uri: str, *, experiment: str = EXPERIMENT) -> str:
    """Log a run directory to MLflow at ``uri``: a parent run with a child run per stage.
    Returns where it went, in words."""
    run_dir = Path(run_dir)
    summary, config = _json(run_dir / "run.json"), _json(run_dir / "config.json")
    mlflow = _start(uri, experiment)
    with mlflow.start_run(run_name=f"run {run_dir.resolve().name}") as parent:
        mlflow.log_params(flatten(config))
        mlflow.set_tags(_tags(summary.get("data"), summary.get("data_sha256")))
        metrics = summary.get("test_metrics", {})
        mlflow.log_metrics({f"test_{k}": v for k, v in _numbers(metrics, _HEADLINE).items()})
        for name in ("index.html", "run.json", "config.json", "manifest.json"):
            mlflow.log_artifact(str(run_dir / name))
        for stage in summary["timings"]:
            record = _json(run_dir / "stages" / f"{stage}.json")
            with mlflow.start_run(run_name=stage, nested=True):
                mlflow.log_params(flatten(record["config"]))
                mlflow.log_metric("seconds", record["seconds"])
                _LOGGERS[stage](mlflow, run_dir / OUTPUTS[stage])
        run_id: str = parent.info.run_id
    return f"MLflow run {run_id} (experiment {experiment!r}) at {uri}"


def track(
    uri: str | None, stage: str, out: str | Path, params: Mapping[str, Any] | None = None
) -> str | None:
    """Log what one command wrote to ``out`` (``stage``: train, evaluate or select) as one
    MLflow run at ``uri``, with ``params`` (configs and paths allowed) flattened; does nothing
    when ``uri`` is None. Returns where it went, in words, or None."""
    if uri is None:
        return None
    mlflow = _start(uri, EXPERIMENT)
    out = Path(out)
    with mlflow.start_run(run_name=f"{stage} {out.resolve().name}") as active:
        mlflow.log_params(flatten(_plain(params or {})))
        mlflow.set_tags(_tags(None, None))
        _LOGGERS[stage](mlflow, out)
        run_id: str = active.info.run_id
    return f"MLflow run {run_id} (experiment {EXPERIMENT!r}) at {uri}"


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as JSON data: configs (dataclasses) as tables, paths as strings."""
    plain = {
        key: dataclasses.asdict(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type)
        else value
        for key, value in params.items()
    }
    return dict(json.loads(json.dumps(plain, default=str)))


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"train": {"params": {"C": 4}}}`` as ``{"train.params.C": "4"}`` (MLflow params)."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return flat


def _start(uri: str, experiment: str) -> Any:
    try:
        import mlflow  # deferred: MLflow is an optional extra and slow to import
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"--track {uri}: MLflow is not installed; install modelcycle[tracking] "
            "(make install installs it)"
        ) from exc
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.set_experiment(experiment)
    except mlflow.exceptions.MlflowException as exc:
        raise ConfigError(f"--track {uri}: {str(exc).splitlines()[0]}") from exc
    return mlflow


def _tags(data: str | None, data_sha256: str | None) -> dict[str, str]:
    tags = {"modelcycle.version": __version__}
    if data is not None:
        tags["modelcycle.data"] = data
    if data_sha256 is not None:
        tags["modelcycle.data_sha256"] = data_sha256
    commit = _git_commit(Path.cwd())
    if commit is not None:
        tags["mlflow.source.git.commit"] = commit
    return tags


def _git_commit(directory: Path) -> str | None:
    """The commit checked out in ``directory``'s git repository, if it is in one."""
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _numbers(data: Mapping[str, Any], keys: tuple[str, ...] | None = None) -> dict[str, float]:
    """The numeric entries of ``data`` (those of ``keys``, when given)."""
    return {
        key: float(value)
        for key, value in data.items()
        if (keys is None or key in keys)
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    }


def _json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: cannot read it for tracking ({exc})") from exc
    return data


def _log_dir(mlflow: Any, path: Path) -> None:
    if path.is_dir():
        mlflow.log_artifacts(str(path), artifact_path=path.name)
    elif path.is_file():
        mlflow.log_artifact(str(path))


def _log_eda(mlflow: Any, path: Path) -> None:
    eda = _json(path / "eda.json")
    mlflow.log_metrics(_numbers(eda, ("rows", "duplicates", "conflicting_labels")))
    _log_dir(mlflow, path)


def _log_clean(mlflow: Any, path: Path) -> None:
    report = _json(path / "clean_report.json")
    mlflow.log_metrics(_numbers(report, ("rows_in", "rows_out", "rows_removed", "rows_changed")))
    _log_dir(mlflow, path)


def _log_split(mlflow: Any, path: Path) -> None:
    split = _json(path / "split.json")
    mlflow.log_metrics({f"{part}_rows": split[part]["rows"] for part in ("train", "val", "test")})
    mlflow.log_artifact(str(path / "split.json"), artifact_path="data")


def _log_train(mlflow: Any, path: Path) -> None:
    """Validation metrics, the per-epoch history as steps, and the model as a pyfunc model."""
    meta = _json(path / "model.json")
    mlflow.log_metrics(_numbers(meta.get("metrics", {})))
    mlflow.log_params({f"model.{k}": v for k, v in flatten(meta.get("params", {})).items()})
    history = path / "history.json"
    for index, epoch in enumerate(json.loads(history.read_text()) if history.is_file() else []):
        step = int(epoch.get("epoch", index + 1))
        mlflow.log_metrics({k: v for k, v in _numbers(epoch).items() if k != "epoch"}, step=step)
    info = log_model(mlflow, path, meta["labels"])
    mlflow.set_tag("modelcycle.model_uri", info.model_uri)


def log_model(mlflow: Any, model_dir: Path, labels: list[Any]) -> Any:
    """Log ``model_dir`` as the MLflow pyfunc model ``model`` of the active run."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    columns: list[Any] = [ColSpec("string", "label")]
    columns += [ColSpec("double", f"score_{label}") for label in labels]
    signature = ModelSignature(inputs=Schema([ColSpec("string", "text")]), outputs=Schema(columns))
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(Path(__file__).with_name("pyfunc_model.py")),
        artifacts={"model_dir": str(model_dir)},
        signature=signature,
        pip_requirements=[f"modelcycle=={__version__}"],
    )


def _log_evaluate(mlflow: Any, path: Path) -> None:
    mlflow.log_metrics(_numbers(_json(path / "metrics.json"), _HEADLINE))
    _log_dir(mlflow, path)


def _log_predict(mlflow: Any, path: Path) -> None:
    _log_dir(mlflow, path)


def _log_quantize(mlflow: Any, path: Path) -> None:
    table = _json(path / "quantization.json")
    for row in table["rows"]:
        keys = ("size_bytes", "latency_ms_p50", "throughput_per_s", "accuracy", "agreement")
        mlflow.log_metrics({f"{row['precision']}_{k}": v for k, v in _numbers(row, keys).items()})
    for file in sorted(path.glob("quantization.*")):
        mlflow.log_artifact(str(file), artifact_path="quantized")


def _log_select(mlflow: Any, path: Path) -> None:
    board = _json(path / "leaderboard.json")
    if board.get("recommendation") is not None:
        mlflow.set_tag("modelcycle.recommendation", str(board["recommendation"]))
    _log_dir(mlflow, path)


_LOGGERS: dict[str, Callable[[Any, Path], None]] = {
    "eda": _log_eda,
    "clean": _log_clean,
    "split": _log_split,
    "select": _log_select,
    "train": _log_train,
    "evaluate": _log_evaluate,
    "predict": _log_predict,
    "quantize": _log_quantize,
}
