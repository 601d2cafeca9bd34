"""The search: the budget, resuming the stored study, the seed, the pruner, skipped families."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState, create_trial

from modelcycle.config import SelectConfig
from modelcycle.data import Dataset
from modelcycle.exceptions import ConfigError
from modelcycle.models import load_model
from modelcycle.selection import STUDY_FILE, select
from modelcycle.selection._measure import scheme_for
from modelcycle.selection._search import (
    MIN_SAMPLE_ROWS,
    SAMPLE_SHARE,
    START_SHARE,
    STUDY_NAME,
    FamilyMedianPruner,
    Search,
    classes_in_turn,
    open_study,
    pack,
)
from modelcycle.selection._space import suggest

FAST = {"fasttext": {"buckets": 1000, "epochs": 3, "dim": 8}}


def trial_order(board_dir: Path) -> list[tuple[str, str]]:
    rows = json.loads((board_dir / "leaderboard.json").read_text())["rows"]
    return [(r["family"], json.dumps(r["params"], sort_keys=True)) for r in rows]


def test_a_tiny_budget_stops_and_still_recommends(tmp_path: Path, corpus: Dataset) -> None:
    config = SelectConfig(models=("logreg", "nb", "svm"), budget=0.01)
    board = select(corpus, config, out_dir=tmp_path / "sel")
    assert [r["name"] for r in board.rows] == ["logreg#0"]  # the one trial always run
    assert board.recommendation == "logreg#0"
    assert board.skipped == {
        "nb": "the budget ran out before its first trial",
        "svm": "the budget ran out before its first trial",
    }
    model = load_model(tmp_path / "sel" / "model")
    assert model.family == "logreg"
    assert len(model.predict(corpus.texts[:3])) == 3
    assert "skipped nb: the budget ran out before its first trial" in board.summary("x")


def test_resume_continues_the_stored_study(tmp_path: Path, corpus: Dataset) -> None:
    out = tmp_path / "sel"
    first = select(corpus, SelectConfig(models=("logreg", "nb"), trials=3, seed=1), out_dir=out)
    assert [r["trial"] for r in first.rows] == [0, 1, 2]
    assert (out / STUDY_FILE).is_file()
    with pytest.raises(ConfigError, match=r"already holds a selection study; pass --resume"):
        select(corpus, SelectConfig(models=("logreg", "nb"), trials=1, seed=1), out_dir=out)
    again = SelectConfig(models=("logreg", "nb"), trials=2, seed=1, resume=True)
    second = select(corpus, again, out_dir=out)
    assert [r["trial"] for r in second.rows] == [0, 1, 2, 3, 4]
    assert [r["params"] for r in second.rows[:3]] == [r["params"] for r in first.rows]
    study = optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{out / STUDY_FILE}")
    assert len(study.trials) == 5
    assert second.study["trials"] == 5
    with pytest.raises(ConfigError, match=r"searches --models logreg,nb; resume with the same"):
        select(corpus, SelectConfig(models=("logreg",), trials=1, seed=1, resume=True), out_dir=out)
    with pytest.raises(ConfigError, match=r"was scored on other validation rows"):
        select(corpus, SelectConfig(models=("logreg", "nb"), seed=2, resume=True), out_dir=out)


def test_the_seed_fixes_the_trial_order(tmp_path: Path, corpus: Dataset) -> None:
    def run(seed: int, name: str) -> list[tuple[str, str]]:
        config = SelectConfig(models=("logreg", "nb", "svm"), trials=7, seed=seed)
        select(corpus, config, out_dir=tmp_path / name)
        return trial_order(tmp_path / name)

    first = run(5, "a")
    assert first[:3] == [("logreg", "{}"), ("nb", "{}"), ("svm", "{}")]  # the defaults first
    assert run(5, "b") == first
    assert run(6, "c")[3:] != first[3:]


def test_the_sampler_learns_a_familys_settings_together(tmp_path: Path, corpus: Dataset) -> None:
    # on IMDB, naive Bayes' trigrams win only with a high min_df and bigrams with a low one: a
    # sampler of each setting alone did not propose trigrams with min_df 4 or 5, and its pick
    # scored 0.3 points lower on IMDB's test set (bench select)
    config = SelectConfig(models=("logreg", "nb"), seed=0)
    scheme = scheme_for(corpus, config, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the sampler's experimental options are not announced
        study = open_study(f"sqlite:///{tmp_path / 'study.db'}", config, scheme, where="x")
    distributions = {
        "family": optuna.distributions.CategoricalDistribution(config.models),
        "nb.ngram_max": optuna.distributions.IntDistribution(1, 3),
        "nb.min_df": optuna.distributions.IntDistribution(1, 5),
        "logreg.C": optuna.distributions.FloatDistribution(0.1, 100.0, log=True),
    }
    rng = np.random.default_rng(0)
    for _ in range(12):
        if rng.random() < 0.5:
            top, min_df = (int(n) for n in rng.integers(1, [4, 6]))
            params = {"family": "nb", "nb.ngram_max": top, "nb.min_df": min_df}
        else:
            params = {"family": "logreg", "logreg.C": float(rng.uniform(0.1, 100.0))}
        dists = {k: distributions[k] for k in params}
        study.add_trial(create_trial(params=params, distributions=dists, value=rng.random()))
    asked = study.ask()  # an enqueued starting trial: the space is the same for any trial
    space = study.sampler.infer_relative_search_space(study, study.trials[asked.number])
    assert {"nb.ngram_max", "nb.min_df"} <= space.keys()  # proposed together, not one by one


def test_every_family_starts_with_its_defaults_and_the_transformer_also_fine_tuned(
    tmp_path: Path, corpus: Dataset
) -> None:
    def starts(models: tuple[str, ...], **fixed: dict[str, object]) -> list[tuple[str, dict]]:
        config = SelectConfig(models=models, params=fixed)
        scheme = scheme_for(corpus, config, None)
        storage = f"sqlite:///{tmp_path / f'{len(list(tmp_path.iterdir()))}.db'}"
        study = open_study(storage, config, scheme, where="x")
        out = []
        for _ in study.get_trials(states=(TrialState.WAITING,)):
            trial = study.ask()
            family = trial.suggest_categorical("family", models)
            out.append((family, suggest(trial, family, config.params.get(family, {}))))
        return out

    # the first look at each family before the transformer is fine-tuned
    assert starts(("transformer", "logreg")) == [
        ("transformer", {"freeze": True}),
        ("logreg", {}),
        ("transformer", {"freeze": False, "epochs": 1}),
    ]
    # a setting the user fixed holds in every start; starts it makes the same are run once
    assert starts(("transformer",), transformer={"epochs": 2}) == [
        ("transformer", {"freeze": True, "epochs": 2}),
        ("transformer", {"freeze": False, "epochs": 2}),
    ]
    fixed = {"freeze": True, "epochs": 1}
    assert starts(("transformer",), transformer=fixed) == [("transformer", fixed)]
    # a stored second start that settings given on resuming made the same as the first: sampled
    study = optuna.create_study()
    study.enqueue_trial({"family": "transformer"}, user_attrs={"start": True, "start_point": 1})
    trial = study.ask()
    trial.suggest_categorical("family", ["transformer"])
    sampled = suggest(trial, "transformer", fixed)
    assert sampled["freeze"] is True
    assert "transformer.freeze" in trial.params


def test_gradient_trials_report_every_epoch(tmp_path: Path, corpus: Dataset) -> None:
    config = SelectConfig(models=("fasttext",), trials=1, params=FAST, cv=0)
    board = select(corpus, config, out_dir=tmp_path / "sel")
    (row,) = board.rows
    assert row["state"] == "complete"
    assert sorted(row["epochs"]) == ["1", "2", "3"]
    assert row["params"] == {"buckets": 1000, "epochs": 3, "dim": 8}
    assert board.scoring == "a held-out 20% of the data (32 rows)"


def test_the_pruner_compares_a_trial_with_its_own_family() -> None:
    study = optuna.create_study(direction="maximize")
    family = optuna.distributions.CategoricalDistribution(["fasttext", "mlp"])
    for value in (0.80, 0.82, 0.84):
        study.add_trial(
            create_trial(
                params={"family": "fasttext"},
                distributions={"family": family},
                value=value,
                intermediate_values={1: value - 0.1},
            )
        )

    def trial(name: str, after_one: float) -> optuna.trial.FrozenTrial:
        return create_trial(
            params={"family": name},
            distributions={"family": family},
            state=TrialState.PRUNED,
            intermediate_values={1: after_one},
        )

    pruner = FamilyMedianPruner(startup=3)
    assert pruner.prune(study, trial("fasttext", 0.70))  # median after epoch 1: 0.72
    assert not pruner.prune(study, trial("fasttext", 0.73))
    assert not pruner.prune(study, trial("mlp", 0.10))  # no mlp trials to compare with
    assert not FamilyMedianPruner(startup=4).prune(study, trial("fasttext", 0.10))


def test_the_transformer_is_skipped_when_the_budget_cannot_hold_it(
    tmp_path: Path, corpus: Dataset
) -> None:
    config = SelectConfig(models=("logreg", "transformer"), budget=12.0, trials=2)
    board = select(corpus, config, out_dir=tmp_path / "sel")
    assert board.recommendation is not None
    assert board.recommendation.startswith("logreg#")
    assert board.skipped["transformer"].endswith(
        "s for it is too little to time a probe of the transformer"
    )
    skipped = board.row("transformer#1")
    assert skipped["state"] == "skipped"
    assert skipped["params"] == {"freeze": True}
    assert "skipped transformer: " in board.summary(tmp_path)


def test_the_time_kept_back_is_the_refit_of_the_pick_not_of_the_slowest_trial(
    corpus: Dataset,
) -> None:
    """A slow, clearly less accurate trial is no candidate: its refit is not reserved, but a
    new trial of its family starts only if that trial and its refit fit the time left."""
    config = SelectConfig(models=("logreg", "mlp"))
    scheme = scheme_for(corpus, config, None)
    study = optuna.create_study(direction="maximize")
    families = optuna.distributions.CategoricalDistribution(["logreg", "mlp"])
    every = np.ones(scheme.rows, dtype=bool)
    half = every.copy()
    half[: scheme.rows // 2] = False
    for family, correct, seconds, size in (("logreg", every, 1.0, 1.0), ("mlp", half, 100.0, 30.0)):
        measured = {
            "accuracy": float(correct.mean()),
            "accuracy_ci95": [0.0, 1.0],
            "size_mb": size,
            "latency_ms_p50": 0.1,
            "fit_seconds": seconds,
        }
        study.add_trial(
            create_trial(
                params={"family": family},
                distributions={"family": families},
                value=float(correct.mean()),
                user_attrs={"measured": measured, "correct": pack(correct), "seconds": seconds},
            )
        )
    search = Search(study, scheme, config, time.monotonic() + 600, kept=5.0, say=print)
    assert search.reserve() == pytest.approx(5.0 + 1.2 * scheme.refit_factor * 1.0)
    refit = search.refit_seconds(100.0)
    search._fit_to_time("mlp", {}, left=100.0 + refit)
    with pytest.raises(Exception, match=r"an estimated 100 s run and its refit do not fit"):
        search._fit_to_time("mlp", {}, left=100.0 + refit - 1.0)


def test_a_gradient_trial_is_estimated_by_the_epochs_it_asks_for(corpus: Dataset) -> None:
    """fastText's 5-epoch start took 50 s: 15 epochs are estimated at 150 s, not 50."""
    config = SelectConfig(models=("fasttext",))
    study = optuna.create_study(direction="maximize")
    families = optuna.distributions.CategoricalDistribution(["fasttext"])
    study.add_trial(
        create_trial(
            params={"family": "fasttext"},
            distributions={"family": families},
            value=0.8,
            intermediate_values=dict.fromkeys(range(1, 6), 0.8),
            user_attrs={"seconds": 50.0},
        )
    )
    search = Search(study, scheme_for(corpus, config, None), config, 0.0, kept=0.0, say=print)
    refit = search.refit_seconds(150.0)
    search._fit_to_time("fasttext", {"epochs": 15}, left=150.0 + refit)
    with pytest.raises(Exception, match=r"an estimated 150 s run and its refit do not fit"):
        search._fit_to_time("fasttext", {"epochs": 15}, left=150.0 + refit - 1.0)
    search._fit_to_time("fasttext", {}, left=50.0 + search.refit_seconds(50.0))


def test_a_transformer_trial_too_slow_for_the_time_left_trains_on_a_sample_that_fits(
    corpus: Dataset,
) -> None:
    large = Dataset.from_records(
        [f"{text} {copy}" for copy in range(160) for text in corpus.texts],
        corpus.labels.tolist() * 160,
    )
    config = SelectConfig(models=("transformer",))
    scheme = scheme_for(large, config, None)  # 20,480 rows trained, 5,120 scored
    study = optuna.create_study(direction="maximize")
    search = Search(study, scheme, config, 0.0, kept=0.0, say=print)
    # as timed: 1 s to start and 10 ms a text forward; 2 s and 100 ms a text to fine-tune
    search._probes = {True: (1.0, 0.01), False: (2.0, 0.1)}
    trained = len(scheme.folds[0][0])
    tune = {"freeze": False, "epochs": 1}
    whole = sum(search._transformer_seconds(tune, trained))
    assert search._fit_to_time("transformer", tune, left=whole / SAMPLE_SHARE) == tune
    left = whole / 2
    sampled = search._fit_to_time("transformer", tune, left=left)
    rows = sampled["max_rows"]
    assert sampled == {**tune, "max_rows": rows}
    assert sum(search._transformer_seconds(tune, rows)) <= SAMPLE_SHARE * left
    assert sum(search._transformer_seconds(tune, rows + 100)) > SAMPLE_SHARE * left
    # the family's first trial, a first look, gets a smaller share of the time left
    start = search._fit_to_time("transformer", tune, left=2 * whole, start=True)
    given = START_SHARE * 2 * whole
    assert sum(search._transformer_seconds(tune, start["max_rows"])) <= given
    assert sum(search._transformer_seconds(tune, start["max_rows"] + 100)) > given
    # a sample is refitted on as many rows: no more than the trial's fit, with the margin
    assert search.refit_seconds(10.0, sampled) == pytest.approx(12.0)
    assert search.refit_seconds(10.0, tune) == pytest.approx(12.0 * scheme.refit_factor)
    few = sum(search._transformer_seconds(tune, MIN_SAMPLE_ROWS)) / SAMPLE_SHARE
    with pytest.raises(Exception, match=f"nor do those of a sample of {MIN_SAMPLE_ROWS:,} rows"):
        search._fit_to_time("transformer", tune, left=few - 1.0)


def test_fine_tuning_is_not_probed_when_even_its_least_cost_cannot_fit(corpus: Dataset) -> None:
    config = SelectConfig(models=("transformer",))
    search = Search(
        optuna.create_study(), scheme_for(corpus, config, None), config, 0.0, 0.0, print
    )
    search._probes = {True: (1.0, 0.5)}  # slow texts: 0.5 s each forward, so >= 1.5 s tuned
    tune = {"freeze": False, "epochs": 1}
    with pytest.raises(Exception, match=f"fine-tuning even a sample of {MIN_SAMPLE_ROWS:,} rows"):
        search._fit_to_time("transformer", tune, left=1000.0)
    assert False not in search._probes  # no probe was run


def test_a_probe_sample_takes_the_classes_in_turn() -> None:
    labels = ["pos"] * 90 + ["neg"] * 10
    order = classes_in_turn(labels, seed=0)
    assert sorted(order.tolist()) == list(range(100))  # a permutation
    first = [labels[i] for i in order[:8]]
    assert first.count("neg") == 4  # both classes from the first rows, as long as each lasts
    assert [labels[i] for i in order[20:]] == ["pos"] * 80
    assert classes_in_turn(labels, seed=0).tolist() == order.tolist()  # seeded


def test_quantized_variants_are_candidates(tmp_path: Path, corpus: Dataset) -> None:
    train, val = corpus.take(range(120)), corpus.take(range(120, 160))
    config = SelectConfig(models=("logreg",), trials=1, quantize=True)
    board = select(train, config, val=val, out_dir=tmp_path / "sel")
    names = [r["name"] for r in board.rows]
    assert names == ["logreg#0", "logreg#0-int8"]
    variant = board.row("logreg#0-int8")
    assert variant["state"] == "complete"
    assert variant["variant"] == "int8"
    assert variant["p_value"] is not None
    assert board.scoring == "the given validation data (40 rows)"
    assert board.recommendation is not None
    picked = load_model(tmp_path / "sel" / "model")  # a variant pick is its ONNX model directory
    expected = "logreg" if board.row(board.recommendation)["variant"] == "trained" else "onnx"
    assert picked.family == expected
    assert len(picked.predict(val.texts)) == 40


def test_select_config_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"select\.cv must be 0"):
        SelectConfig(cv=1)
    with pytest.raises(ConfigError, match=r"select\.models is empty"):
        SelectConfig(models=())
    with pytest.raises(ConfigError, match=r"select\.budget must be > 0 seconds, got 0"):
        SelectConfig(budget=0)
    with pytest.raises(ConfigError, match=r"select\.alpha must be between 0 and 1, got 1"):
        SelectConfig(alpha=1)
    assert [SelectConfig.parse_budget(t) for t in ("90", "90s", "10m", "1.5h")] == [
        90.0,
        90.0,
        600.0,
        5400.0,
    ]
    with pytest.raises(ConfigError, match=r"--budget must be a duration such as 90s, 10m"):
        SelectConfig.parse_budget("soon")


def test_unknown_family_is_refused_before_anything_is_written(
    tmp_path: Path, corpus: Dataset
) -> None:
    with pytest.raises(ConfigError, match=r"unknown model 'forest'; valid models are: logreg"):
        select(corpus, SelectConfig(models=("logreg", "forest")), out_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_storage_lets_two_searches_share_one_study(tmp_path: Path, corpus: Dataset) -> None:
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    first = SelectConfig(models=("logreg", "nb"), trials=2, storage=storage)
    select(corpus, first, out_dir=tmp_path / "one")
    second = SelectConfig(models=("logreg", "nb"), trials=2, storage=storage, resume=True)
    board = select(corpus, second, out_dir=tmp_path / "two")
    assert [r["trial"] for r in board.rows] == [0, 1, 2, 3]
    assert board.study == {"name": STUDY_NAME, "storage": storage, "trials": 4}
    assert not (tmp_path / "one" / STUDY_FILE).exists()
    assert not (tmp_path / "two" / STUDY_FILE).exists()
