"""Streamed training: the same model as in memory, resumed mid-epoch, which path ran."""

import json
from pathlib import Path

import polars as pl
import pytest
import torch
from typer.testing import CliRunner

from modelcycle.cli import app
from modelcycle.config import TrainConfig
from modelcycle.data import TextStream, load_dataset
from modelcycle.engine import checkpoints, loop
from modelcycle.engine.distributed import DistributedContext
from modelcycle.engine.loop import RunOptions
from modelcycle.exceptions import ConfigError
from modelcycle.models import make_model
from modelcycle.training import open_training_data, train
from tests.conftest import NEGATIVE, POSITIVE

PARAMS = {"buckets": 500, "epochs": 3, "dim": 8, "hidden": (6,), "dropout": 0.2}


@pytest.fixture
def data_csv(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    texts = [f"{t} {i}" for i in range(3) for t in POSITIVE + NEGATIVE]
    labels = (["pos"] * 12 + ["neg"] * 12) * 3
    pl.DataFrame({"text": texts, "label": labels}).write_csv(path)
    return path


def _weights(model: object) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.module_.state_dict().items()}  # type: ignore[attr-defined]


def _assert_same(one: dict[str, torch.Tensor], two: dict[str, torch.Tensor]) -> None:
    assert one.keys() == two.keys()
    for name in one:
        assert torch.equal(one[name], two[name]), name


@pytest.mark.parametrize("params", [{}, {"batch_size": 5, "optimizer": "adam", "ngrams": 3}])
def test_streaming_with_a_buffer_as_large_as_the_data_learns_the_in_memory_model(
    data_csv: Path, params: dict[str, object]
) -> None:
    dataset = load_dataset(data_csv)
    memory = make_model("fasttext", {**PARAMS, **params}, seed=3)
    memory.fit(dataset.texts, dataset.labels, run=RunOptions(device="cpu"))
    streamed = make_model("fasttext", {**PARAMS, **params}, seed=3)
    streamed.fit_stream(  # type: ignore[attr-defined]
        TextStream.open(data_csv), shuffle_buffer=len(dataset), run=RunOptions(device="cpu")
    )
    assert streamed.featurizer_.vocabulary == memory.featurizer_.vocabulary  # type: ignore[attr-defined]
    assert streamed.batch_size_ == memory.batch_size_  # type: ignore[attr-defined]
    assert streamed.classes_.tolist() == memory.classes_.tolist() == ["neg", "pos"]
    _assert_same(_weights(streamed), _weights(memory))


def test_a_smaller_buffer_still_learns(data_csv: Path) -> None:
    model = make_model("fasttext", {**PARAMS, "epochs": 10, "batch_size": 4}, seed=0)
    model.fit_stream(TextStream.open(data_csv), shuffle_buffer=8)  # type: ignore[attr-defined]
    assert model.predict(["a wonderful great film", "an awful boring film"]).tolist() == [
        "pos",
        "neg",
    ]


def test_a_run_killed_mid_epoch_resumes_bit_identical(
    data_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = TrainConfig(
        model="fasttext",
        params={**PARAMS, "batch_size": 4, "optimizer": "adam"},
        seed=1,
        device="cpu",
        shuffle_buffer=10,  # windows of 12 rows (3 batches), 18 batches an epoch
        checkpoint_every=4,
    )
    whole = train(TextStream.open(data_csv), config, checkpoint_dir=tmp_path / "whole")
    saved: list[str] = []
    save = checkpoints.save_checkpoint

    def killed_after_the_fifth(directory: Path, *args: object) -> None:
        save(directory, *args)  # type: ignore[arg-type]
        saved.append(max(p.name for p in directory.iterdir()))
        if len(saved) == 5:
            raise KeyboardInterrupt  # the process dies here

    monkeypatch.setattr(loop, "save_checkpoint", killed_after_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        train(TextStream.open(data_csv), config, checkpoint_dir=tmp_path / "run")
    # epoch 1: steps 4, 8, 12, 16, its end; epoch 2: step 4 (in the second window), ...
    assert saved == [
        "epoch-0000-step-00000004",
        "epoch-0000-step-00000008",
        "epoch-0000-step-00000012",
        "epoch-0000-step-00000016",
        "epoch-0001",
    ]
    monkeypatch.undo()
    saved.clear()
    monkeypatch.setattr(loop, "save_checkpoint", killed_after_the_fifth)
    saved.extend(["x"] * 1)  # kill later this time: after epoch 2's step 8
    with pytest.raises(KeyboardInterrupt):
        train(TextStream.open(data_csv), config, checkpoint_dir=tmp_path / "run", resume=True)
    assert saved[-1] == "epoch-0001-step-00000016"
    monkeypatch.undo()
    resumed = train(TextStream.open(data_csv), config, checkpoint_dir=tmp_path / "run", resume=True)
    _assert_same(_weights(resumed.model), _weights(whole.model))
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in whole.history]


def test_the_path_is_chosen_by_size_or_asked_for(data_csv: Path, tmp_path: Path) -> None:
    fasttext = TrainConfig(model="fasttext")
    data, _ = open_training_data(data_csv, fasttext)
    assert type(data).__name__ == "Dataset"  # small: in memory
    data, val = open_training_data(
        data_csv, TrainConfig(model="fasttext", stream=True), val=data_csv
    )
    assert isinstance(data, TextStream)
    assert val is not None
    assert len(val) == 72
    data, _ = open_training_data(data_csv.parent / "*.csv", fasttext)
    assert isinstance(data, TextStream)  # shards always stream
    with pytest.raises(
        ConfigError, match="model 'nb' does not train on streamed data; the families that do: "
    ):
        open_training_data(data_csv, TrainConfig(model="nb", stream=True))


def test_the_cli_says_which_path_ran(data_csv: Path, tmp_path: Path, runner: CliRunner) -> None:
    args = ["train", str(data_csv), "--model", "fasttext", "-p", "buckets=500", "-q"]
    val = tmp_path / "val.csv"  # a label training never saw: left out of early stopping
    val.write_text("text,label\nwonderful great film,pos\nawful boring film,neg\nfine,meh\n")
    streamed = runner.invoke(
        app,
        [*args, "--stream", "--shuffle-buffer", "16", "--val", str(val), "-o", str(tmp_path / "s")],
    )
    assert streamed.exit_code == 0, streamed.stderr
    assert "(fasttext, 72 rows streamed, " in streamed.stdout
    # 'meh' counts as wrong in the report, and is left out of the epochs' validation
    assert streamed.stdout.strip().endswith("; validation accuracy 0.6667")
    history = json.loads((tmp_path / "s" / "history.json").read_text())
    assert history[-1]["val_accuracy"] == 1.0
    memory = runner.invoke(app, [*args, "-o", str(tmp_path / "m")])
    assert "(fasttext, 72 rows in memory, " in memory.stdout
    refused = runner.invoke(app, [*args, "--shuffle-buffer", "0", "-o", str(tmp_path / "x")])
    assert refused.exit_code == 1
    assert refused.stderr.strip() == "error: train.shuffle_buffer must be >= 1 (or unset), got 0"
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\ngood,pos\nbad,neg\nugly,\n")
    missing = runner.invoke(
        app, ["train", str(bad), "--model", "fasttext", "--stream", "-o", str(tmp_path / "y")]
    )
    assert missing.exit_code == 1
    assert f"error: {bad}, row 3, column 'label': missing label;" in missing.stderr
    one_class = tmp_path / "one.csv"
    one_class.write_text("text,label\ngood,pos\nfine,pos\n")
    result = runner.invoke(
        app, ["train", str(one_class), "--model", "fasttext", "--stream", "-o", str(tmp_path / "z")]
    )
    assert result.exit_code == 1
    assert "training needs at least 2 classes, found 1 ('pos')" in result.stderr


def test_in_memory_training_resumes_mid_epoch_too(
    data_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = TrainConfig(
        model="fasttext",
        params={**PARAMS, "batch_size": 8},
        seed=2,
        device="cpu",
        checkpoint_every=2,
    )
    dataset = load_dataset(data_csv)
    whole = train(dataset, config, checkpoint_dir=tmp_path / "whole")
    save = checkpoints.save_checkpoint

    def killed_at_step_4(directory: Path, *args: object) -> None:
        save(directory, *args)  # type: ignore[arg-type]
        if any(p.name == "epoch-0001-step-00000004" for p in directory.iterdir()):
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", killed_at_step_4)
    with pytest.raises(KeyboardInterrupt):
        train(dataset, config, checkpoint_dir=tmp_path / "run")
    monkeypatch.undo()
    resumed = train(dataset, config, checkpoint_dir=tmp_path / "run", resume=True)
    _assert_same(_weights(resumed.model), _weights(whole.model))


MLP = {"hidden": (6,), "epochs": 3, "batch_size": 8, "min_df": 1}


@pytest.mark.parametrize("params", [{}, {"optimizer": "adam", "ngram_range": (1, 3)}])
def test_mlp_streamed_with_a_buffer_as_large_as_the_data_learns_the_in_memory_model(
    data_csv: Path, params: dict[str, object]
) -> None:
    dataset = load_dataset(data_csv)
    memory = make_model("mlp", {**MLP, **params}, seed=4)
    memory.fit(dataset.texts, dataset.labels, run=RunOptions(device="cpu"))
    streamed = make_model("mlp", {**MLP, **params}, seed=4)
    streamed.fit_stream(  # type: ignore[attr-defined]
        TextStream.open(data_csv), shuffle_buffer=len(dataset), run=RunOptions(device="cpu")
    )
    one, two = streamed.featurizer_, memory.featurizer_  # type: ignore[attr-defined]
    assert one.vocabulary == two.vocabulary
    assert one.keys.tolist() == two.keys.tolist()
    assert one.idf.tolist() == two.idf.tolist()
    _assert_same(
        {k: v.clone() for k, v in streamed.head_.module_.state_dict().items()},  # type: ignore[attr-defined]
        {k: v.clone() for k, v in memory.head_.module_.state_dict().items()},  # type: ignore[attr-defined]
    )
    assert streamed.predict(dataset.texts).tolist() == memory.predict(dataset.texts).tolist()


@pytest.mark.parametrize("family", ["logreg", "svm"])
def test_a_linear_family_streamed_by_gradient_steps_learns_the_in_memory_one(
    data_csv: Path, family: str
) -> None:
    dataset = load_dataset(data_csv)
    params = {"optimizer": "adam", "epochs": 3, "batch_size": 8, "min_df": 1}
    memory = make_model(family, params, seed=5)
    memory.fit(dataset.texts, dataset.labels, run=RunOptions(device="cpu"))
    streamed = make_model(family, params, seed=5)
    streamed.fit_stream(  # type: ignore[attr-defined]
        TextStream.open(data_csv), shuffle_buffer=len(dataset), run=RunOptions(device="cpu")
    )
    assert streamed.training_path_ == "gradient steps (adam)"  # type: ignore[attr-defined]
    assert streamed.coef_.tolist() == memory.coef_.tolist()  # type: ignore[attr-defined]
    assert streamed.intercept_.tolist() == memory.intercept_.tolist()  # type: ignore[attr-defined]


def test_the_cli_says_a_linear_family_streamed_by_gradient_steps(
    data_csv: Path, tmp_path: Path, runner: CliRunner
) -> None:
    out = tmp_path / "model"
    args = ["train", str(data_csv), "--stream", "--shuffle-buffer", "10", "-q", "-o", str(out)]
    result = runner.invoke(app, [*args, "-p", "min_df=1"])
    assert result.exit_code == 0, result.stderr
    assert "(logreg, 72 rows streamed by gradient steps (sgd), " in result.stdout
    training = json.loads((out / "model.json").read_text())["training"]
    assert (training["streamed"], training["path"]) == (True, "gradient steps (sgd)")
    predicted = runner.invoke(app, ["predict", str(out), "--text", "a wonderful great film"])
    assert predicted.exit_code == 0, predicted.stderr
    refused = runner.invoke(app, [*args[:-2], "--model", "nb", "-o", str(tmp_path / "nb")])
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: model 'nb' does not train on streamed data; the ")


def test_a_process_without_rows_is_refused_before_training(data_csv: Path) -> None:
    # one small file is one block: the second of two processes would read nothing
    second = DistributedContext(rank=1, local_rank=1, world_size=2)
    model = make_model("fasttext", PARAMS, seed=0)
    with pytest.raises(ConfigError, match=r"^process 1 of 2 has no rows to read: the data's 1 "):
        model.fit_stream(  # type: ignore[attr-defined]
            TextStream.open(data_csv), run=RunOptions(device="cpu", distributed=second)
        )
