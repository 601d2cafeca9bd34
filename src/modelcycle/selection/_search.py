"""The search: an Optuna study (TPE sampler, seeded) over the families and their settings, under
a wall-clock deadline, stored in an RDB storage (SQLite in the selection directory by default).
The sampler models each family's settings jointly (multivariate, grouped by family), as they
interact: on IMDB trigrams win with a high min_df and lose with a low one, which a sampler of
each setting alone never learnt.

Every trial keeps what it measured in its user attributes (the figures, and which validation
rows it got right, packed), so that the leaderboard is read back from the study: a resumed search,
or several processes sharing one ``--storage``, all see every trial. Gradient-trained trials
report their validation accuracy after each epoch to :class:`FamilyMedianPruner`. Before a trial
runs, its cost is estimated (the median of its family's trials; for the transformer, timed
probes on a few hundred texts) and a trial that would not fit the time left, with its refit
should it be the pick, is skipped, with the reason; a transformer trial is instead trained on the
largest sample of the rows that fits (``max_rows``), as it is the one family whose run on every
row can take hours. The time kept back is the refit of the current pick.
"""

from __future__ import annotations

import base64
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelcycle.config import SelectConfig, TrainConfig
from modelcycle.exceptions import ConfigError, DataError
from modelcycle.selection._measure import LATENCY_MIN_TEXTS, LATENCY_SECONDS, Scheme, measure
from modelcycle.selection._rule import constraints, recommend
from modelcycle.selection._space import GRADIENT_FAMILIES, starting_points, suggest
from modelcycle.training import train

try:
    import optuna
    from optuna.pruners import BasePruner
    from optuna.trial import FrozenTrial, TrialState
except ModuleNotFoundError as exc:  # pragma: no cover - the extra is installed by make install
    raise ConfigError(
        "modelcycle select needs optuna, which is not installed; "
        "install it with `pip install 'modelcycle[select]'` (make install does)"
    ) from exc

__all__ = [
    "STUDY_NAME",
    "FamilyMedianPruner",
    "Search",
    "importances",
    "open_study",
    "trial_rows",
]

STUDY_NAME = "modelcycle-select"
PROBE_MIN_SECONDS = 45.0  # time left below which the transformer is not even probed
PROBE_SIZES = {True: (8, 32, 128, 512), False: (64, 128, 384)}  # frozen, fine-tuned
# a transformer trial is not trained on a smaller sample: fine-tuned on fewer rows it lost to the
# linear families trained on all of them (SST-2: 1,200 rows 0.68, 4,000 0.82, 18,900 0.875
# against 0.84; IMDB: 1,700 rows 0.73 against 0.92), and such a bet cost up to half the budget
MIN_SAMPLE_ROWS = 5000
SAMPLE_SHARE = 0.8  # of the time left, what a transformer trial and its refit may take
START_SHARE = 0.25  # the same for its first starting trial: a first look at the family


class FamilyMedianPruner(BasePruner):
    """Prune a trial whose validation accuracy after an epoch is below the median, after the
    same epoch, of the completed trials of its own family (once ``startup`` of them exist).
    Optuna's MedianPruner compares across all trials, which mixes families."""

    def __init__(self, startup: int = 3) -> None:
        self.startup = startup

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None:
            return False
        family = trial.params.get("family")
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        values = [
            t.intermediate_values[step]
            for t in done
            if t.params.get("family") == family and step in t.intermediate_values
        ]
        if len(values) < self.startup:
            return False
        return trial.intermediate_values[step] < float(np.median(values))


def open_study(storage: str, config: SelectConfig, scheme: Scheme, *, where: str) -> optuna.Study:
    """The study in ``storage`` (called ``where`` in messages): a new one, or with
    ``config.resume`` the stored one (which must have been scored on the same validation rows,
    with the same families)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        names = optuna.get_all_study_names(storage)
    except Exception as exc:  # SQLAlchemy's errors: a bad URL, a database that is not there
        raise ConfigError(f"cannot open the study storage {storage!r}: {exc}") from exc
    exists = STUDY_NAME in names
    if exists and not config.resume:
        raise ConfigError(
            f"{where} already holds a selection study; pass --resume to continue it, "
            "or choose another output directory"
        )
    done = len(optuna.load_study(study_name=STUDY_NAME, storage=storage).trials) if exists else 0
    # reseeded by the trials so far, so that a resumed search does not repeat the first trials
    with warnings.catch_warnings():  # multivariate and group are marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=config.seed + done, multivariate=True, group=True)
    study = optuna.create_study(
        study_name=STUDY_NAME,
        storage=storage,
        sampler=sampler,
        pruner=FamilyMedianPruner(),
        direction="maximize",
        load_if_exists=True,
    )
    if not exists:
        study.set_user_attr("scheme", scheme.fingerprint)
        study.set_user_attr("models", list(config.models))
        # every family's first starting point, then the second ones (the transformer's)
        points = {f: len(starting_points(f, config.params.get(f, {}))) for f in config.models}
        for point in range(max(points.values())):
            for family in (f for f in config.models if point < points[f]):
                attrs = {"start": True, "start_point": point}
                study.enqueue_trial({"family": family}, user_attrs=attrs)
        return study
    if study.user_attrs.get("scheme") != scheme.fingerprint:
        raise ConfigError(
            f"the study in {where} was scored on other validation rows (other data, --seed, "
            "--val-share, --val or --cv); resume with the same ones, or choose another directory"
        )
    if study.user_attrs.get("models") != list(config.models):
        raise ConfigError(
            f"the study in {where} searches --models "
            f"{','.join(study.user_attrs.get('models', []))}; resume with the same families"
        )
    return study


class _OutOfTime(Exception):
    """The budget ran out during a trial's epochs."""


class _Unaffordable(Exception):
    """A trial that is not run: its reason."""


@dataclass
class Search:
    """Runs trials of ``study`` until ``deadline`` minus :meth:`reserve` (the time kept for
    what follows the search), or ``config.trials`` trials."""

    study: optuna.Study
    scheme: Scheme
    config: SelectConfig
    deadline: float
    kept: float  # seconds kept for the report (and quantized variants)
    say: Callable[[str], None]
    skipped: dict[str, str] = field(default_factory=dict)  # family: why its last trial was not run
    _probes: dict[bool, tuple[float, float]] = field(default_factory=dict)  # see _probe
    _probe_failed: str | None = None
    _reserved: tuple[int, float] = (-1, 0.0)  # completed trials, the pick's refit seconds

    def reserve(self) -> float:
        """``kept``, plus refitting on every row (with a margin) the model the rule picks from
        the trials so far. A trial that could become the pick starts only when its own refit
        fits too (:meth:`_fit_to_time`), so a slow model the rule would not pick does not hold
        back the search."""
        done = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(done) != self._reserved[0]:  # recomputed when a trial completes
            rows = [r for r in trial_rows(self.study, self.scheme.rows) if r["state"] == "complete"]
            pick = recommend(rows, constraints(self.config), alpha=self.config.alpha).pick
            refit = self.refit_seconds(pick["fit_seconds"], pick["params"]) if pick else 0.0
            self._reserved = (len(done), refit)
        return self.kept + self._reserved[1]

    def refit_seconds(self, fit_seconds: float, params: dict[str, Any] | None = None) -> float:
        """Seconds to refit on every row (or on a sample as large as the trial's, for a trial
        with ``max_rows``), with a margin, a trial that fitted in ``fit_seconds``."""
        cap = (params or {}).get("max_rows") or float("inf")
        trained = len(self.scheme.folds[0][0])
        every = trained + len(self.scheme.folds[0][1])
        return 1.2 * min(every, cap) / min(trained, cap) * fit_seconds

    def left(self) -> float:
        return self.deadline - time.monotonic() - self.reserve()

    def run(self) -> int:
        """Run trials; returns how many ran (skipped ones not counted)."""
        ran, skips = 0, 0
        families = list(self.config.models)
        while self.config.trials is None or ran < self.config.trials:
            left = self.left()
            # at least one trial, whatever the budget: there is always a recommendation
            if (left <= 0 and self._measured()) or skips >= 10 * len(families):
                break
            trial = self.study.ask()
            family = trial.suggest_categorical("family", families)
            params = suggest(trial, family, self.config.params.get(family, {}))
            try:
                first = trial.user_attrs.get("start") and not trial.user_attrs.get("start_point")
                params = self._fit_to_time(family, params, left, start=bool(first))
            except _Unaffordable as exc:
                trial.set_user_attr("params", _jsonable(params))
                self._skip(trial, family, str(exc))
                skips += 1
                continue
            trial.set_user_attr("params", _jsonable(params))
            skips = 0
            ran += 1
            self._run_trial(trial, family, params)
        tried = {t.params.get("family") for t in self.study.get_trials(deepcopy=False)}
        for family in families:
            if family not in tried and family not in self.skipped:
                self.skipped[family] = "the budget ran out before its first trial"
        return ran

    def _measured(self) -> bool:
        return any(
            "measured" in t.user_attrs
            for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        )

    def _skip(self, trial: optuna.Trial, family: str, note: str) -> None:
        trial.set_user_attr("skipped", note)
        self.study.tell(trial, state=TrialState.PRUNED)
        if self.skipped.get(family) != note:
            self.say(f"skipped {family}#{trial.number}: {note}")
        self.skipped[family] = note

    def _run_trial(self, trial: optuna.Trial, family: str, params: dict[str, Any]) -> None:
        start = time.monotonic()

        def on_epoch_end(fold: int, record: dict[str, Any]) -> None:
            accuracy, epoch = record.get("val_accuracy"), int(record["epoch"])
            if fold == 0 and accuracy is not None:  # the pruner compares the first folds
                trial.report(float(accuracy), epoch)
            if fold == 0 and accuracy is not None and trial.should_prune():
                raise optuna.TrialPruned(
                    f"validation accuracy {accuracy:.4f} after epoch {epoch} is below the median "
                    "of its family's trials"
                )
            if time.monotonic() > self.deadline - self.reserve() and self._measured():
                raise _OutOfTime(f"stopped after epoch {epoch}: the budget ran out")

        name = f"{family}#{trial.number}"
        try:
            row = measure(
                family,
                params,
                self.scheme,
                seed=self.config.seed,
                gradient=family in GRADIENT_FAMILIES,
                on_epoch_end=on_epoch_end,
            )
        except (optuna.TrialPruned, _OutOfTime) as exc:
            trial.set_user_attr("note", str(exc))
            trial.set_user_attr("seconds", round(time.monotonic() - start, 3))
            self.study.tell(trial, state=TrialState.PRUNED)
            self.say(f"{name}: pruned, {exc}")
            return
        except DataError as exc:  # settings the data cannot take (e.g. min_df above every count)
            trial.set_user_attr("note", str(exc))
            self.study.tell(trial, state=TrialState.FAIL)
            self.say(f"{name}: failed, {exc}")
            return
        correct = row.pop("correct")
        trial.set_user_attr("measured", row)
        trial.set_user_attr("correct", pack(correct))
        trial.set_user_attr("seconds", round(time.monotonic() - start, 3))
        self.study.tell(trial, row["accuracy"])
        self.say(
            f"{name}: accuracy {row['accuracy']:.4f}, {row['size_mb']:.3g} MB, "
            f"p50 {row['latency_ms_p50']:.3g} ms ({time.monotonic() - start:.1f} s)"
        )

    def _fit_to_time(
        self, family: str, params: dict[str, Any], left: float, *, start: bool = False
    ) -> dict[str, Any]:
        """``params``, when the trial's estimated seconds and its refit, should it be picked,
        fit ``left``. A transformer trial gets ``SAMPLE_SHARE`` of it (``START_SHARE`` for its
        family's first starting trial, ``start``), and where every row does not fit,
        ``max_rows``: the largest sample that does. Raise _Unaffordable when nothing fits."""
        if family == "transformer":
            return self._transformer_to_time(
                params, (START_SHARE if start else SAMPLE_SHARE) * left
            )
        estimate = self._estimate(family, params)
        if estimate is not None and estimate + self.refit_seconds(estimate, params) > left:
            raise _Unaffordable(
                f"an estimated {estimate:.0f} s run and its refit do not fit the {left:.0f} s left"
            )
        return params

    def _estimate(self, family: str, params: dict[str, Any]) -> float | None:
        """Seconds a trial of ``family`` (not the transformer) should take: the median of its
        family's trials (for a gradient family, their median seconds per epoch run times the
        epochs ``params`` asks for). None when unknown (it is tried)."""
        done = [
            t
            for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.params.get("family") == family and "seconds" in t.user_attrs
        ]
        if not done:
            return None
        if "epochs" in params:
            per_epoch = [t.user_attrs["seconds"] / max(1, len(t.intermediate_values)) for t in done]
            return float(np.median(per_epoch)) * int(params["epochs"])
        return float(np.median([t.user_attrs["seconds"] for t in done]))

    def _transformer_to_time(self, params: dict[str, Any], given: float) -> dict[str, Any]:
        """``params`` when the trial and its refit fit ``given`` seconds, else with the largest
        ``max_rows`` that does (see :meth:`_fit_to_time`)."""
        if self._probe_failed is not None:
            raise _Unaffordable(self._probe_failed)
        frozen = bool(params.get("freeze"))
        if given < PROBE_MIN_SECONDS and not {True, frozen} <= self._probes.keys():
            raise _Unaffordable(
                f"{given:.0f} s for it is too little to time a probe of the transformer"
            )
        if not frozen and False not in self._probes:
            # a fine-tuned text costs at least a forward and a backward pass, about three
            # forward ones: not worth a probe when the smallest sample cannot fit even that
            floor = (0.0, 3 * self._probe(frozen=True)[1])
            least = sum(self._transformer_seconds(params, MIN_SAMPLE_ROWS, tuning=floor))
            if least > given:
                raise _Unaffordable(
                    f"fine-tuning even a sample of {MIN_SAMPLE_ROWS:,} rows, with its refit, "
                    f"would take over {least:.0f} s, and {given:.0f} s is there for it"
                )
        trained = len(self.scheme.folds[0][0])
        rows = min(trained, params.get("max_rows") or trained)
        trial, refit = self._transformer_seconds(params, rows)
        if trial + refit <= given:
            return params
        zero = sum(self._transformer_seconds(params, 0))
        per_row = sum(self._transformer_seconds(params, 1)) - zero
        sample = int((given - zero) / per_row) // 100 * 100
        if sample < MIN_SAMPLE_ROWS:
            raise _Unaffordable(
                f"an estimated {trial:.0f} s run and its refit do not fit the {given:.0f} s "
                f"there is for it, nor do those of a sample of {MIN_SAMPLE_ROWS:,} rows"
            )
        return {**params, "max_rows": min(sample, rows)}

    def _transformer_seconds(
        self, params: dict[str, Any], rows: int, tuning: tuple[float, float] | None = None
    ) -> tuple[float, float]:
        """Estimated seconds of a transformer trial trained on ``rows`` rows of each fold, and of
        its refit on as many rows (from the probes; ``tuning`` in place of the fine-tuning
        probe)."""
        frozen = bool(params.get("freeze"))
        fixed, per_text = tuning or self._probe(frozen=frozen)
        trained, validation = len(self.scheme.folds[0][0]), len(self.scheme.folds[0][1])
        refitted = trained + validation if rows >= trained else rows  # every row, or a sample
        forward = self._probe(frozen=True)[1]
        if frozen:  # embeddings once (and the validation rows' for the epochs), then the head
            fold = fixed + forward * (rows + 2 * validation)
            refit = fixed + forward * refitted
        else:  # each epoch trains and scores the validation rows; then they are scored
            epochs = int(params.get("epochs", 3))
            fold = fixed + epochs * (per_text * rows + forward * validation) + forward * validation
            refit = fixed + epochs * per_text * refitted
        measuring = LATENCY_SECONDS + 4 * LATENCY_MIN_TEXTS * forward  # one text at a time
        return len(self.scheme.folds) * fold + measuring, 1.2 * refit

    def _probe(self, *, frozen: bool) -> tuple[float, float]:
        """Seconds to start a transformer fit and seconds per text: of a frozen fit (a forward
        pass) or of one fine-tuning epoch, from the fits on the last two of ``PROBE_SIZES``
        training texts (the first ones pay the imports, the backbone's first read and the first
        passes' allocations, 0.5 s that made 64 texts look as slow as 400). Each is timed once,
        when first needed."""
        if frozen not in self._probes:
            part = self.scheme.folds[0][0]
            order = classes_in_turn(part.labels, self.config.seed)
            sizes = PROBE_SIZES[frozen]
            timings = []
            for n in sizes:
                start = time.monotonic()
                try:
                    train(
                        part.take(order[: min(n, len(part))]),
                        TrainConfig(model="transformer", params={"freeze": frozen, "epochs": 1}),
                        progress=False,
                    )
                except (ConfigError, DataError) as exc:  # not installed; a sample of one class
                    self._probe_failed = f"the probe run failed: {exc}"
                    raise _Unaffordable(self._probe_failed) from exc
                timings.append(time.monotonic() - start)
            per_text = max((timings[-1] - timings[-2]) / (sizes[-1] - sizes[-2]), 1e-4)
            fixed = max(timings[-2] - sizes[-2] * per_text, 0.0)
            kind = "a frozen fit" if frozen else "a fine-tuning epoch"
            self.say(
                f"transformer probe, {kind}: {fixed:.1f} s to start, "
                f"{per_text * 1000:.1f} ms per text"
            )
            self._probes[frozen] = (fixed, per_text)
        return self._probes[frozen]


def classes_in_turn(labels: Sequence[Any] | np.ndarray, seed: int) -> np.ndarray:
    """A seeded permutation of the rows in which the classes take turns (the first of each
    class, then the second of each, ...): any first rows a probe takes hold every class it can
    (8 random rows of SST-2 were all positive, and a one-class probe cannot train)."""
    order = np.random.default_rng(seed).permutation(len(labels))
    _, classes = np.unique(np.asarray(labels)[order], return_inverse=True)
    turn = np.empty(len(order), dtype=np.int64)
    for k in range(classes.max() + 1 if len(order) else 0):
        members = np.flatnonzero(classes == k)
        turn[members] = np.arange(len(members))
    return order[np.lexsort((np.arange(len(order)), turn))]


def pack(correct: np.ndarray) -> str:
    """Which rows were right, as base64 of the packed bits (a trial's user attribute)."""
    return base64.b64encode(np.packbits(correct).tobytes()).decode("ascii")


def unpack(text: str, rows: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(base64.b64decode(text), dtype=np.uint8))
    return bits[:rows].astype(bool)


def trial_rows(study: optuna.Study, rows: int) -> list[dict[str, Any]]:
    """Every trial of ``study`` as a leaderboard row; completed ones with their figures and
    ``correct`` (``rows`` validation rows)."""
    out = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.WAITING:  # enqueued, not run yet
            continue
        family = trial.params.get("family", "?")
        state = "skipped" if "skipped" in trial.user_attrs else trial.state.name.lower()
        row: dict[str, Any] = {
            "name": f"{family}#{trial.number}",
            "trial": trial.number,
            "family": family,
            "variant": "trained",
            "state": state,
            "start": bool(trial.user_attrs.get("start")),
            "params": trial.user_attrs.get("params", {}),
            "seconds": trial.user_attrs.get("seconds"),
            "note": trial.user_attrs.get("skipped") or trial.user_attrs.get("note"),
            "epochs": {str(k): round(v, 4) for k, v in trial.intermediate_values.items()},
        }
        if trial.state == TrialState.COMPLETE and "measured" in trial.user_attrs:
            row.update(trial.user_attrs["measured"])
            row["correct"] = unpack(trial.user_attrs["correct"], rows)
        out.append(row)
    return out


def importances(study: optuna.Study, families: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per family, Optuna's parameter importances over its completed searched trials (families
    with too few trials, or settings that never varied, are left out)."""
    found: dict[str, dict[str, float]] = {}
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    for family in families:
        trials = [t for t in done if t.params.get("family") == family and len(t.params) > 1]
        if len(trials) < 3:
            continue
        sub = optuna.create_study(direction="maximize")
        for t in trials:
            params = {k: v for k, v in t.params.items() if k != "family"}
            dists = {k: v for k, v in t.distributions.items() if k in params}
            sub.add_trial(
                optuna.trial.create_trial(params=params, distributions=dists, value=t.value)
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                values = optuna.importance.get_param_importances(sub)
        except (ValueError, RuntimeError, ZeroDivisionError):
            continue
        found[family] = {k.split(".", 1)[1]: round(float(v), 4) for k, v in values.items()}
    return found


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
