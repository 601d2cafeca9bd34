"""Configuration as plain typed data: one frozen dataclass per stage and one for the pipeline.

A pipeline config is read from TOML (or the JSON that every run saves), then ``--set key=value``
overrides apply. Unknown keys and wrong types are :class:`~modelcycle.exceptions.ConfigError`\\ s
that name the key and list the valid ones. Example ``pipeline.toml``::

    seed = 42

    [data]
    path = "reviews.csv"     # relative to this file
    text = "review_text"
    label = "sentiment"

    [clean]                  # on by default; `enabled = false` turns it off
    duplicates = "exact"

    [split]
    test = 0.2
    val = 0.1
    group = "movie"          # optional: every row of a movie on one side

    [train]
    model = "logreg"
    params = { C = 4.0 }

    [quantize]               # off by default: fp32/fp16/int8 variants of the model, measured
    enabled = true
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from modelcycle.exceptions import ConfigError

__all__ = [
    "QUANTIZE_PRECISIONS",
    "CleanConfig",
    "DataConfig",
    "EvalConfig",
    "PipelineConfig",
    "QuantizeConfig",
    "SelectConfig",
    "SplitConfig",
    "TrainConfig",
    "apply_overrides",
    "load_config",
    "parse_assignments",
]

DEFAULT_SEED = 42


@dataclass(frozen=True)
class DataConfig:
    """Where the labeled text is and which columns hold text and label (None: auto-detect)."""

    path: str = ""
    text: str | None = None
    label: str | None = None
    encoding: str = "utf-8"
    drop_labels: tuple[str, ...] = ()


DUPLICATE_MODES = ("none", "exact", "normalized")
CONFLICT_MODES = ("drop", "majority", "keep")
FILL_MODES = ("median", "mean", "zero")


@dataclass(frozen=True)
class CleanConfig:
    """What ``clean`` removes and fixes. Every removal and change is recorded, never silent.

    ``duplicates``: ``exact`` drops rows whose (fixed) text repeats an earlier row's, ``normalized``
    also those equal up to case, spacing, punctuation and HTML, ``none`` keeps them.
    ``conflicts``: the same text with different labels: ``drop`` every such row, keep the
    ``majority`` label (a tie drops them all), or ``keep`` them. ``fill``: missing values of numeric
    columns become the column's ``median``, ``mean``, ``zero`` or a number; labels are never filled.
    """

    enabled: bool = True
    duplicates: str = "exact"
    conflicts: str = "drop"
    fill: str | None = None
    html: bool = True
    mojibake: bool = True
    unicode: bool = True
    control: bool = True
    whitespace: bool = True
    labels: bool = True
    label_map: Mapping[str, str] = field(default_factory=dict)
    find_label_issues: bool = False
    drop_label_issues: bool = False
    label_issue_folds: int = 5
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        _check_choice("clean.duplicates", self.duplicates, DUPLICATE_MODES)
        _check_choice("clean.conflicts", self.conflicts, CONFLICT_MODES)
        if self.fill is not None and self.fill not in FILL_MODES:
            try:
                float(self.fill)
            except ValueError:
                raise ConfigError(
                    f"clean.fill must be one of {', '.join(FILL_MODES)} or a number, "
                    f"got {self.fill!r}"
                ) from None
        if self.label_issue_folds < 2:
            raise ConfigError(f"clean.label_issue_folds must be >= 2, got {self.label_issue_folds}")
        for key, value in self.label_map.items():
            if not isinstance(value, str) or not str(key).strip() or not value.strip():
                raise ConfigError(
                    f"clean.label_map must map labels to labels, got {key!r} = {value!r}"
                )

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any]) -> CleanConfig:
        """The config of ``modelcycle clean``'s flags (the fields' names, ``folds``, ``label_map``
        as ``'pos=positive,neg=negative'``); ``drop_label_issues`` implies ``find_label_issues``."""
        pairs = [item.split("=", 1) for item in (flags["label_map"] or "").split(",") if item]
        same = {f.name for f in dataclasses.fields(cls)} - {"label_map", "find_label_issues"}
        return cls(
            **{name: flags[name] for name in same if name in flags},
            label_map={key.strip(): value.strip() for key, value in pairs},
            find_label_issues=flags["find_label_issues"] or flags["drop_label_issues"],
            label_issue_folds=flags["folds"],
        )


@dataclass(frozen=True)
class SplitConfig:
    """Shares of the test and validation sets; stratified by label and seeded.

    ``group`` names a column whose rows stay on one side (a product, a user, a movie); ``time``
    names a column to order by (train on the earliest rows, test on the latest). The leakage guard
    keeps rows whose normalized texts are equal on one side.
    """

    test: float = 0.2
    val: float = 0.1
    seed: int = DEFAULT_SEED
    stratify: bool = True
    group: str | None = None
    time: str | None = None
    leakage_guard: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.test < 1.0:
            raise ConfigError(f"split.test must be between 0 and 1, got {self.test}")
        if not 0.0 <= self.val < 1.0:
            raise ConfigError(f"split.val must be between 0 and 1, got {self.val}")
        if self.test + self.val >= 1.0:
            raise ConfigError(
                f"split.test + split.val must leave rows to train on, got {self.test + self.val}"
            )


@dataclass(frozen=True)
class TrainConfig:
    """Which model family to train (by name), its parameters, and where it runs."""

    model: str = "logreg"
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = DEFAULT_SEED
    device: str = "auto"  # auto, cpu or cuda (gradient-trained families)
    threads: int | None = None  # CPU threads for PyTorch; None: its default
    stream: bool | None = None  # read the data as a stream; None: when it is larger than 1 GiB
    shuffle_buffer: int | None = None  # rows in a streamed shuffle window; None: 50,000
    checkpoint_every: int | None = None  # steps between checkpoints within an epoch

    def __post_init__(self) -> None:
        for name in ("threads", "shuffle_buffer", "checkpoint_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"train.{name} must be >= 1 (or unset), got {value}")

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any]) -> TrainConfig:
        """The config of ``modelcycle train``'s flags: those of :data:`TRAIN_FLAGS` that are set,
        ``param`` (``KEY=VALUE`` strings) and ``features`` (comma-separated) become ``params``."""
        params = {key: flags[key] for key in TRAIN_FLAGS if flags.get(key) is not None}
        params |= parse_assignments(flags.get("param") or [])
        if flags.get("features"):
            names = [name.strip() for name in flags["features"].split(",") if name.strip()]
            params["features"] = names
        return cls(
            model=flags["model"],
            params=params,
            seed=flags["seed"],
            device=flags["device"],
            threads=flags["threads"],
            stream=flags.get("stream"),
            shuffle_buffer=flags.get("shuffle_buffer"),
            checkpoint_every=flags.get("checkpoint_every"),
        )


# The training flags of ``modelcycle train`` that are model parameters under the same name.
TRAIN_FLAGS = (
    "optimizer",
    "lr",
    "epochs",
    "batch_size",
    "weight_decay",
    "momentum",
    "schedule",
    "warmup",
    "patience",
    "clip_grad",
    "class_weight",
    "backbone",
    "freeze",
)


@dataclass(frozen=True)
class SelectConfig:
    """Model selection: the candidate families, the search's budget and storage, how candidates
    are scored, and the user's constraints.

    ``budget``: wall-clock seconds for everything (search, refit of the pick, report);
    ``trials``: at most this many trials (None: until the budget ends). ``cv``: None chooses by
    the data's size (k-fold below a few thousand rows, else a held-out ``val`` share); 0 forces
    the held-out share, k >= 2 forces k folds. ``alpha``: level of the paired test. ``storage``:
    an Optuna RDB URL (default: SQLite in the output directory); ``resume`` continues its study.
    ``params``: fixed settings per family, never searched.
    """

    models: tuple[str, ...] = ("logreg", "svm", "nb", "fasttext", "mlp", "transformer")
    budget: float = 600.0
    trials: int | None = None
    val: float = 0.2  # share held out for scoring when no validation data is given
    cv: int | None = None
    max_latency_ms: float | None = None
    max_size_mb: float | None = None
    min_accuracy: float | None = None
    alpha: float = 0.05
    quantize: bool = False
    storage: str | None = None
    resume: bool = False
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # per family
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if not self.models:
            raise ConfigError("select.models is empty; name at least one model family")
        if self.cv is not None and (self.cv == 1 or self.cv < 0):
            raise ConfigError(
                f"select.cv must be 0 (one held-out part) or >= 2 folds, got {self.cv}"
            )
        if not 0.0 < self.val < 1.0:
            raise ConfigError(f"select.val must be between 0 and 1, got {self.val}")
        if self.budget <= 0:
            raise ConfigError(f"select.budget must be > 0 seconds, got {self.budget}")
        if self.trials is not None and self.trials < 1:
            raise ConfigError(f"select.trials must be >= 1 (or unset), got {self.trials}")
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError(f"select.alpha must be between 0 and 1, got {self.alpha}")

    @staticmethod
    def parse_budget(text: str) -> float:
        """Seconds of a budget written ``90``, ``90s``, ``10m`` or ``1.5h``."""
        units = {"s": 1.0, "m": 60.0, "h": 3600.0}
        text = text.strip().lower()
        scale = units.get(text[-1:], 1.0)
        number = text[:-1] if text[-1:] in units else text
        try:
            seconds = float(number) * scale
        except ValueError:
            raise ConfigError(
                f"--budget must be a duration such as 90s, 10m or 1h, got {text!r}"
            ) from None
        if seconds <= 0:
            raise ConfigError(f"--budget must be positive, got {text!r}")
        return seconds


@dataclass(frozen=True)
class EvalConfig:
    """Settings of the evaluation: bootstrap resamples, calibration bins, error analysis.

    ``examples``: how many most-confident mistakes (and least-confident correct answers) to show;
    ``length_buckets``: text-length groups (by words, equal counts) for accuracy by length;
    ``slices``: columns of the data to break accuracy down by.
    """

    bootstrap: int = 1000
    calibration_bins: int = 10
    examples: int = 10
    length_buckets: int = 5
    slices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.bootstrap < 0:
            raise ConfigError(f"evaluate.bootstrap must be >= 0, got {self.bootstrap}")
        if self.calibration_bins < 1:
            raise ConfigError(
                f"evaluate.calibration_bins must be >= 1, got {self.calibration_bins}"
            )
        if self.examples < 0:
            raise ConfigError(f"evaluate.examples must be >= 0, got {self.examples}")
        if self.length_buckets < 1:
            raise ConfigError(f"evaluate.length_buckets must be >= 1, got {self.length_buckets}")


QUANTIZE_PRECISIONS = ("fp32", "fp16", "int8", "int8-static", "pruned", "pq")


@dataclass(frozen=True)
class QuantizeConfig:
    """Which variants ``quantize`` makes and how it measures them.

    ``precisions`` empty means every one that applies (``int8-static`` when ``calibrate`` > 0,
    ``pq`` for fasttext, ``pruned`` with ``prune_vocab``); fp32, the reference, is always made.
    ``calibrate``: texts for static INT8. ``prune_vocab``: fasttext rows (words and n-gram
    buckets) to keep, by norm. ``max_accuracy_drop`` (points): pick the smallest variant within
    it. INT8 must agree with FP32 on ``min_agreement`` of ``guardrail_texts`` texts, with weights
    at most ``max_weight_ratio`` of FP32's, or the guardrail tries the next scheme.
    """

    enabled: bool = False  # the pipeline's quantize stage (``[quantize] enabled = true``)
    precisions: tuple[str, ...] = ()
    calibrate: int = 0
    max_accuracy_drop: float | None = None
    prune_vocab: int | None = None
    threads: int = 2
    batch_size: int = 32
    latency_texts: int = 200
    throughput_texts: int = 2048
    guardrail_texts: int = 500
    min_agreement: float = 0.99
    max_weight_ratio: float = 0.30
    text_input: bool = False  # also write each variant as text.onnx: strings in, labels out
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        for precision in self.precisions:
            _check_choice("quantize.precisions", precision, QUANTIZE_PRECISIONS)
        positive = {
            "threads": self.threads,
            "batch_size": self.batch_size,
            "latency_texts": self.latency_texts,
            "throughput_texts": self.throughput_texts,
            "guardrail_texts": self.guardrail_texts,
        }
        for key, value in positive.items():
            if value < 1:
                raise ConfigError(f"quantize.{key} must be >= 1, got {value}")
        if self.calibrate < 0:
            raise ConfigError(f"quantize.calibrate must be >= 0, got {self.calibrate}")
        if self.prune_vocab is not None and self.prune_vocab < 1:
            raise ConfigError(f"quantize.prune_vocab must be >= 1, got {self.prune_vocab}")
        if self.max_accuracy_drop is not None and self.max_accuracy_drop < 0:
            raise ConfigError(
                f"quantize.max_accuracy_drop must be >= 0 points, got {self.max_accuracy_drop}"
            )
        if not 0.0 < self.min_agreement <= 1.0:
            raise ConfigError(f"quantize.min_agreement must be in (0, 1], got {self.min_agreement}")
        if not 0.0 < self.max_weight_ratio <= 1.0:
            raise ConfigError(
                f"quantize.max_weight_ratio must be in (0, 1], got {self.max_weight_ratio}"
            )


@dataclass(frozen=True)
class PipelineConfig:
    """Every stage of ``modelcycle run``. A top-level ``seed`` seeds every stage; ``train.model =
    "auto"`` adds a ``select`` stage that searches ``select.models`` and trains the pick."""

    data: DataConfig = field(default_factory=DataConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvalConfig = field(default_factory=EvalConfig)
    quantize: QuantizeConfig = field(default_factory=QuantizeConfig)
    select: SelectConfig = field(default_factory=SelectConfig)  # used when train.model = "auto"
    seed: int = DEFAULT_SEED

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready data (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, base_dir: Path | None = None) -> PipelineConfig:
        """Build and validate a config; relative ``data.path`` is resolved against ``base_dir``."""
        raw = dict(raw)
        seed = raw.get("seed", DEFAULT_SEED)
        for stage in ("clean", "split", "train", "quantize", "select"):
            section = raw.get(stage, {})
            if isinstance(section, Mapping) and "seed" not in section:
                raw[stage] = {**section, "seed": seed}
        config = _build(cls, raw, "")
        if base_dir is not None and config.data.path and not Path(config.data.path).is_absolute():
            data = dataclasses.replace(config.data, path=str(base_dir / config.data.path))
            config = dataclasses.replace(config, data=data)
        return config


def _check_choice(key: str, value: str, valid: Sequence[str]) -> None:
    if value not in valid:
        raise ConfigError(f"{key} must be one of {', '.join(valid)}, got {value!r}")


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> PipelineConfig:
    """Read a pipeline config from TOML (or JSON), apply ``key=value`` overrides, validate."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from exc
    try:
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix.lstrip('.').upper()}: {exc}") from exc
    raw = apply_overrides(raw, overrides)
    try:
        return PipelineConfig.from_dict(raw, base_dir=path.parent.resolve())
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with each ``dotted.key=value`` set; values are read as TOML."""
    result: dict[str, Any] = json.loads(json.dumps(raw))
    for key, value in parse_assignments(overrides).items():
        *parents, leaf = key.split(".")
        node = result
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {key!r}: {part!r} is not a table")
            node = child
        node[leaf] = value
    return result


def parse_assignments(items: Sequence[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings; values are read as TOML (``4``, ``true``, ``[1, 2]``), and a
    value that is not TOML is a plain string (``model=svm``)."""
    result: dict[str, Any] = {}
    for item in items:
        key, sep, value_text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{item!r} is not key=value (e.g. train.params.C=4)")
        try:
            result[key.strip()] = tomllib.loads(f"v = {value_text}")["v"]
        except tomllib.TOMLDecodeError:
            result[key.strip()] = value_text
    return result


_T = TypeVar("_T")


def _build(cls: type[_T], raw: Any, where: str) -> _T:
    """Construct dataclass ``cls`` from a mapping, checking keys and value types."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where or 'config'} must be a table, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key {where}{unknown[0]!r}; valid keys are: {', '.join(sorted(fields))}"
        )
    values = {name: _coerce(hints[name], value, f"{where}{name}") for name, value in raw.items()}
    return cls(**values)


def _coerce(hint: Any, value: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``hint``; convert lists to tuples, ints to floats."""
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, f"{key}.")  # type: ignore[arg-type]
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        return _coerce(next(o for o in options if o is not type(None)), value, key)
    if origin is tuple and isinstance(value, list | tuple):
        (item,) = typing.get_args(hint)[:1]
        return tuple(_coerce(item, v, key) for v in value)
    if origin in (Mapping, dict) and isinstance(value, Mapping):
        return dict(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and type(value) is hint:
        return value
    expected = getattr(hint, "__name__", str(hint))
    raise ConfigError(f"{key} must be {expected}, got {value!r}")
