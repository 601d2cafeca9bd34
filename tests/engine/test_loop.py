from pathlib import Path

import numpy as np
import pytest
import torch

from modelcycle.data import load_dataset
from modelcycle.engine.loop import LoopSettings, RunOptions, resolve_device, run_loop
from modelcycle.engine.optimizers import OptimizerSettings
from modelcycle.exceptions import ArtifactError, ConfigError
from modelcycle.models import make_model
from modelcycle.models._torch import FeedForward, MatrixData

PARAMS = {"epochs": 4, "batch_size": 4, "buckets": 500, "dropout": 0.2, "hidden": (8,)}


def weights(model: object) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.module_.state_dict().items()}  # type: ignore[attr-defined]


def fit(reviews_csv: Path, run: RunOptions | None = None, **extra: object) -> object:
    data = load_dataset(reviews_csv)
    model = make_model("fasttext", {**PARAMS, **extra}, seed=1)
    return model.fit(data.texts, data.labels, val=(data.texts[:8], data.labels[:8]), run=run)


def test_the_same_seed_gives_the_same_weights(reviews_csv: Path) -> None:
    first, second = weights(fit(reviews_csv)), weights(fit(reviews_csv))
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


def without_timing(history: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in h.items() if k not in ("seconds", "examples_per_s")} for h in history]


class Killed(Exception):
    """Stands in for the process being killed right after a checkpoint is written."""


def test_a_killed_run_resumes_to_the_same_weights_and_metrics(
    tmp_path: Path, reviews_csv: Path
) -> None:
    uninterrupted = fit(reviews_csv, optimizer="adam")

    def kill_after_first_epoch(record: dict[str, object]) -> None:
        if record["epoch"] == 1:
            raise Killed

    checkpoints = tmp_path / "ckpt"
    with pytest.raises(Killed):
        fit(
            reviews_csv,
            RunOptions(checkpoint_dir=checkpoints, on_epoch_end=kill_after_first_epoch),
            optimizer="adam",
        )
    assert [p.name for p in checkpoints.iterdir()] == ["epoch-0001"]
    resumed = fit(
        reviews_csv, RunOptions(checkpoint_dir=checkpoints, resume=True), optimizer="adam"
    )
    for name, value in weights(uninterrupted).items():
        np.testing.assert_array_equal(weights(resumed)[name], value)
    assert without_timing(resumed.history_) == without_timing(uninterrupted.history_)  # type: ignore[attr-defined]
    assert [p.name for p in checkpoints.iterdir()] == ["epoch-0004"]


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path: Path, reviews_csv: Path) -> None:
    fit(reviews_csv, RunOptions(checkpoint_dir=tmp_path / "ckpt"))
    with pytest.raises(ArtifactError, match="belongs to a run with other data or settings"):
        fit(reviews_csv, RunOptions(checkpoint_dir=tmp_path / "ckpt", resume=True), lr=0.5)
    with pytest.raises(ArtifactError, match="no checkpoint to resume from"):
        fit(reviews_csv, RunOptions(checkpoint_dir=tmp_path / "empty", resume=True))


def test_early_stopping_restores_the_best_epoch(reviews_csv: Path) -> None:
    # A huge learning rate makes validation accuracy fall after it peaks.
    model = fit(reviews_csv, epochs=12, patience=2, lr=5.0, optimizer="adam", hidden=())
    history = model.history_  # type: ignore[attr-defined]
    scores = [h["val_accuracy"] for h in history]
    best = int(np.argmax(scores))
    assert history[-1]["best_epoch"] == best + 1
    assert len(history) <= best + 1 + 2  # stopped within patience of the best
    data = load_dataset(reviews_csv)
    restored = (model.predict(data.texts[:8]) == data.labels[:8]).mean()  # type: ignore[attr-defined]
    assert restored == pytest.approx(scores[best])


def test_history_records_what_the_progress_bar_shows(reviews_csv: Path) -> None:
    history = fit(reviews_csv).history_  # type: ignore[attr-defined]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert {"loss", "val_accuracy", "lr", "seconds", "examples_per_s", "best_epoch"} <= set(
        history[0]
    )
    assert history[-1]["lr"] < history[0]["lr"]  # the linear schedule decays


def test_class_weight_and_clipping_change_the_result(reviews_csv: Path) -> None:
    plain = weights(fit(reviews_csv))
    clipped = weights(fit(reviews_csv, clip_grad=0.01))
    balanced = weights(fit(reviews_csv, class_weight="balanced"))
    name = "embedding.weight"
    assert not np.array_equal(plain[name], clipped[name])
    # the corpus is balanced, so balanced class weights change nothing
    np.testing.assert_allclose(plain[name], balanced[name], atol=1e-6)


def test_early_stopping_follows_the_metric_it_is_told() -> None:
    X = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    targets = (X[:, 0] > 0).astype(np.int64)
    settings = LoopSettings(OptimizerSettings(name="sgd", lr=0.5), epochs=3, batch_size=4)
    scores = iter([0.5, 0.9, 0.7])

    def validate(module: torch.nn.Module) -> dict[str, float]:
        return {"val_loss_rank": 1.0, "val_f1": next(scores)}  # the first key is not the one

    history = run_loop(
        FeedForward(3, (), 2, 0.0, sparse=False),
        MatrixData(X, targets),
        settings,
        RunOptions(),
        n_classes=2,
        validate=validate,
        monitor="val_f1",
    )
    assert [h["best_epoch"] for h in history] == [1, 2, 2]
    with pytest.raises(
        ConfigError,
        match=r"^early stopping monitors 'val_accuracy', which validation did not return; "
        r"it returned: val_loss_rank, val_f1$",
    ):
        run_loop(
            FeedForward(3, (), 2, 0.0, sparse=False),
            MatrixData(X, targets),
            settings,
            RunOptions(),
            n_classes=2,
            validate=lambda module: {"val_loss_rank": 1.0, "val_f1": 0.5},
        )


def test_loop_settings_and_devices_are_validated() -> None:
    with pytest.raises(ConfigError, match="epochs, batch_size and accumulate must be >= 1"):
        LoopSettings(OptimizerSettings(), epochs=0)
    with pytest.raises(ConfigError, match="got 5, 64, 0"):
        LoopSettings(OptimizerSettings(), accumulate=0)
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="PyTorch sees no CUDA GPU; use --device cpu"):
            resolve_device("cuda")
    assert resolve_device("cpu").type == "cpu"


def train_linear(batch_size: int, accumulate: int = 1, data: object = None) -> np.ndarray:
    X = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    targets = (X[:, 0] > 0).astype(np.int64)
    module = FeedForward(3, (), 2, 0.0, sparse=False)
    torch.manual_seed(0)
    torch.nn.init.normal_(module.first.weight)
    settings = LoopSettings(
        OptimizerSettings(name="sgd", lr=0.5),
        epochs=2,
        batch_size=batch_size,
        accumulate=accumulate,
    )
    run_loop(module, data or MatrixData(X, targets), settings, RunOptions(), n_classes=2)
    return module.first.weight.detach().numpy().copy()


def test_accumulated_mini_batches_make_the_step_of_one_larger_batch() -> None:
    whole = train_linear(batch_size=4)
    np.testing.assert_allclose(train_linear(batch_size=2, accumulate=2), whole, atol=1e-6)
    assert not np.allclose(train_linear(batch_size=2), whole, atol=1e-3)


class ReversedBatches(MatrixData):
    """Data that proposes its own batches: the shuffled order cut from the end."""

    def __init__(self, X: np.ndarray, targets: np.ndarray) -> None:
        super().__init__(X, targets)
        self.proposed: list[list[int]] = []

    def batches(self, order: np.ndarray, batch_size: int) -> list[np.ndarray]:
        cut = [order[::-1][i : i + batch_size] for i in range(0, len(order), batch_size)]
        self.proposed.extend(b.tolist() for b in cut)
        return cut


def test_data_may_propose_its_batches() -> None:
    X = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    data = ReversedBatches(X, (X[:, 0] > 0).astype(np.int64))
    train_linear(batch_size=4, data=data)
    assert len(data.proposed) == 8  # 4 batches per epoch, 2 epochs
    assert sorted(row for batch in data.proposed[:4] for row in batch) == list(range(16))


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clipping_scales_dense_and_sparse_gradients_by_one_global_norm(max_norm: float) -> None:
    from torch import nn

    from modelcycle.engine.loop import _clip_gradients

    torch.manual_seed(0)
    module = nn.ModuleDict(
        {"bag": nn.EmbeddingBag(50, 4, mode="mean", sparse=True), "head": nn.Linear(4, 3)}
    )
    ids, offsets = torch.tensor([1, 7, 7, 30, 1]), torch.tensor([0, 2])
    module["head"](module["bag"](ids, offsets)).pow(2).sum().backward()
    dense = {n: p.grad.clone() for n, p in module.named_parameters() if not p.grad.is_sparse}
    rows = module["bag"].weight.grad.coalesce()
    norm = torch.sqrt(sum(g.pow(2).sum() for g in dense.values()) + rows.values().pow(2).sum())
    _clip_gradients(module, max_norm)
    scale = min(1.0, max_norm / (float(norm) + 1e-6))
    for name, param in module.named_parameters():
        if name in dense:
            torch.testing.assert_close(param.grad, dense[name] * scale)
    clipped = module["bag"].weight.grad.coalesce()
    torch.testing.assert_close(clipped.values(), rows.values() * scale)
    assert scale < 1.0 if max_norm == 0.5 else scale == 1.0


class OneRowBatches(MatrixData):
    """Data that proposes batches of a single row each, whatever the batch size."""

    def batches(self, order: np.ndarray, batch_size: int) -> list[np.ndarray]:
        return [order[i : i + 1] for i in range(len(order))]


def train_as_one_of_two_processes(
    monkeypatch: pytest.MonkeyPatch, data: MatrixData, batch_size: int
) -> None:
    """Rank 0 of two, without the process group: every share and skip as under torchrun."""
    from contextlib import nullcontext

    from modelcycle.engine import loop
    from modelcycle.engine.distributed import DistributedContext

    monkeypatch.setattr(loop, "process_group", lambda *_: nullcontext())
    monkeypatch.setattr(loop, "replicate", lambda module, *_: module)
    settings = LoopSettings(OptimizerSettings(name="sgd", lr=0.5), epochs=1, batch_size=batch_size)
    options = RunOptions(device="cpu", distributed=DistributedContext(0, 0, 2))
    run_loop(FeedForward(3, (), 2, 0.0, sparse=False), data, settings, options, n_classes=2)


def test_batches_too_small_to_share_among_the_processes_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X = np.zeros((16, 3), dtype=np.float32)
    targets = np.arange(16) % 2
    with pytest.raises(
        ConfigError,
        match=r"^a mini-batch of 1 rows \(batch size 1, 16 rows\) cannot be shared among 2 "
        r"processes, so no step would train; use --batch-size 2 or more, or fewer processes$",
    ):
        train_as_one_of_two_processes(monkeypatch, MatrixData(X, targets), batch_size=1)
    with pytest.raises(ConfigError, match=r"^a mini-batch of 1 rows \(batch size 8, 1 rows\)"):
        train_as_one_of_two_processes(monkeypatch, MatrixData(X[:1], targets[:1]), batch_size=8)
    with pytest.raises(
        ConfigError,
        match=r"^epoch 1 trained on no rows: every mini-batch had fewer rows than there are "
        r"processes; use fewer processes or a larger --batch-size$",
    ):
        train_as_one_of_two_processes(monkeypatch, OneRowBatches(X, targets), batch_size=4)
