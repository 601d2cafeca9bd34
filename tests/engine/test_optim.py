import pytest
import torch
from torch import nn

from modelcycle.engine.optim import TrainingOptimizer, lr_factor
from modelcycle.engine.optimizers import OptimizerSettings
from modelcycle.exceptions import ConfigError
from modelcycle.models import make_model


def assert_same_steps(mine: torch.Tensor, theirs: torch.Tensor) -> None:
    """Equal up to float32 rounding. Sums taken in another order (a sparse gradient's coalesced
    rows, a dense one's accumulation) differ in the last bits, and RMSprop's division by sqrt(v)
    grows that to about 3e-5 relative on some CPUs (seen on an Intel Xeon, not on an AMD EPYC);
    a wrong update is off by far more."""
    torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)


def test_lr_factor_schedules() -> None:
    assert [lr_factor(s, 10, "constant", 0.0) for s in (0, 9)] == [1.0, 1.0]
    assert [lr_factor(s, 10, "linear", 0.0) for s in (0, 5)] == [1.0, 0.5]
    assert lr_factor(0, 10, "cosine", 0.0) == 1.0
    assert lr_factor(5, 10, "cosine", 0.0) == pytest.approx(0.5)
    # warmup: 2 of 10 steps ramp up, then the schedule runs over the remaining 8
    assert [lr_factor(s, 10, "linear", 0.2) for s in (0, 1, 2, 6)] == [0.5, 1.0, 1.0, 0.5]


def test_settings_are_validated() -> None:
    with pytest.raises(
        ConfigError, match="unknown optimizer 'lbfgs'; valid optimizers are: sgd, adam"
    ):
        OptimizerSettings(name="lbfgs")
    with pytest.raises(ConfigError, match="unknown schedule 'step'"):
        OptimizerSettings(schedule="step")
    with pytest.raises(ConfigError, match=r"^lr must be a positive number, got 'fast'$"):
        OptimizerSettings(lr="fast")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^momentum must be a number in \[0, 1\), got 1.5$"):
        OptimizerSettings(name="sgd", momentum=1.5)
    with pytest.raises(ConfigError, match=r"^weight_decay must be a number >= 0, got -0.1$"):
        OptimizerSettings(weight_decay=-0.1)


def test_settings_from_params_take_the_family_rate_when_lr_is_none() -> None:
    params = {"optimizer": "sgd", "lr": None, "weight_decay": 0.0, "momentum": 0.9}
    params |= {"schedule": "linear", "warmup": 0.1}
    assert OptimizerSettings.from_params(params, rates={"sgd": 5.0}) == OptimizerSettings(
        name="sgd", lr=5.0, momentum=0.9, schedule="linear", warmup=0.1
    )
    assert OptimizerSettings.from_params({**params, "lr": 0.3}, rates={"sgd": 5.0}).lr == 0.3


@pytest.mark.parametrize(
    ("family", "params"),
    [
        ("logreg", {"optimizer": "sgd", "min_df": 1}),
        ("mlp", {"optimizer": "sgd", "min_df": 1}),
        ("fasttext", {"buckets": 100}),
    ],
)
def test_a_fit_checks_the_optimizer_settings_once(
    family: str, params: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = []
    check = OptimizerSettings.__post_init__
    monkeypatch.setattr(OptimizerSettings, "__post_init__", lambda s: checks.append(check(s)))
    texts, labels = ["good film", "bad film", "great plot", "awful plot"] * 3, ["p", "n"] * 6
    make_model(family, {**params, "epochs": 1}).fit(texts, labels)
    assert len(checks) == 1


def test_check_params_refuses_optimizer_settings_before_fitting() -> None:
    model = make_model("mlp", {"optimizer": "adagrad", "momentum": 0.5})
    with pytest.raises(ConfigError, match=r"^optimizer 'adagrad' takes no momentum"):
        model.check_params()


@pytest.mark.parametrize("name", ["adam", "adamw", "adagrad"])
def test_momentum_is_refused_where_the_optimizer_has_none(name: str) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"^optimizer '{name}' takes no momentum \(got 0.9\); momentum applies to: "
        r"sgd, rmsprop; drop it or choose one of those$",
    ):
        OptimizerSettings(name=name, momentum=0.9)


@pytest.mark.parametrize("family", ["fasttext", "mlp", "logreg"])
def test_every_family_refuses_momentum_for_adam(family: str) -> None:
    texts, labels = ["good film", "bad film", "great plot", "awful plot"] * 3, ["p", "n"] * 6
    model = make_model(family, {"optimizer": "adam", "momentum": 0.5, "epochs": 1})
    with pytest.raises(ConfigError, match="optimizer 'adam' takes no momentum"):
        model.fit(texts, labels)


def twin_bags(
    name: str, momentum: float = 0.0
) -> tuple[nn.EmbeddingBag, nn.EmbeddingBag, torch.optim.Optimizer, TrainingOptimizer]:
    torch.manual_seed(0)
    dense = nn.EmbeddingBag(6, 3, mode="sum", sparse=False)
    sparse = nn.EmbeddingBag(6, 3, mode="sum", sparse=True)
    sparse.load_state_dict(dense.state_dict())
    settings = OptimizerSettings(name=name, lr=0.1, momentum=momentum)
    reference = {
        "sgd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=momentum),
        "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.1),
        "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.1, momentum=momentum),
        "adam": lambda p: torch.optim.Adam(p, lr=0.1),
    }[name](dense.parameters())
    return dense, sparse, reference, TrainingOptimizer(sparse, settings, total_steps=10)


@pytest.mark.parametrize(
    ("name", "momentum"),
    [
        ("sgd", 0.0),
        ("sgd", 0.9),
        ("adagrad", 0.0),
        ("rmsprop", 0.0),
        ("rmsprop", 0.9),  # sparse RMSprop honours momentum, as dense RMSprop does
        ("adam", 0.0),
    ],
)
def test_lazy_sparse_step_equals_dense_optimizer_when_every_row_is_touched(
    name: str, momentum: float
) -> None:
    dense, sparse, reference, lazy = twin_bags(name, momentum)
    ids = torch.tensor([0, 1, 2, 3, 4, 5, 5, 1])  # every row, some twice
    offsets = torch.tensor([0, 3, 6])
    for _ in range(3):
        for module, optimizer in ((dense, reference), (sparse, lazy)):
            optimizer.zero_grad()
            (module(ids, offsets) ** 2).sum().backward()
            optimizer.step()
    assert_same_steps(sparse.weight, dense.weight)


@pytest.mark.parametrize("name", ["adagrad", "rmsprop", "adam"])
def test_lazy_sparse_leaves_untouched_rows_alone(name: str) -> None:
    _, sparse, _, lazy = twin_bags(name)
    before = sparse.weight.detach().clone()
    lazy.zero_grad()
    sparse(torch.tensor([1, 2]), torch.tensor([0])).sum().backward()
    lazy.step()
    changed = (sparse.weight != before).any(dim=1).tolist()
    assert changed == [False, True, True, False, False, False]


@pytest.mark.parametrize(
    ("name", "weight_decay"),
    [("sgd", 0.0), ("adagrad", 0.01), ("rmsprop", 0.0), ("adam", 0.01), ("adamw", 0.1)],
)
def test_dense_layers_beside_an_embedding_step_as_pytorch_would(
    name: str, weight_decay: float
) -> None:
    """With a sparse table in the module, its dense layers are stepped by our code too."""
    torch.manual_seed(0)
    reference = nn.Sequential(nn.EmbeddingBag(6, 3, sparse=False), nn.Linear(3, 2))
    ours = nn.Sequential(nn.EmbeddingBag(6, 3, sparse=True), nn.Linear(3, 2))
    ours.load_state_dict(reference.state_dict())
    torch_optimizer = {
        "sgd": torch.optim.SGD,
        "adagrad": torch.optim.Adagrad,
        "rmsprop": torch.optim.RMSprop,
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
    }[name](reference.parameters(), lr=0.1, weight_decay=weight_decay)
    settings = OptimizerSettings(name=name, lr=0.1, weight_decay=weight_decay)
    optimizer = TrainingOptimizer(ours, settings, total_steps=10)
    assert optimizer.dense is None  # no torch.optim at all
    ids, offsets = torch.tensor([0, 1, 2, 3, 4, 5, 5, 1]), torch.tensor([0, 3, 6])
    for _ in range(3):
        for module, step in ((reference, torch_optimizer), (ours, optimizer)):
            step.zero_grad()
            (module[1](module[0](ids, offsets)) ** 2).sum().backward()
            step.step()
    for theirs, mine in zip(reference.parameters(), ours.parameters(), strict=True):
        assert_same_steps(mine, theirs)


def test_optimizer_state_round_trips() -> None:
    torch.manual_seed(0)
    module = nn.Sequential(nn.EmbeddingBag(5, 2, sparse=True), nn.Linear(2, 2))
    optimizer = TrainingOptimizer(module, OptimizerSettings(name="adam", lr=0.1), total_steps=5)
    ids, offsets = torch.tensor([0, 1, 4]), torch.tensor([0, 2])
    optimizer.zero_grad()
    module[1](module[0](ids, offsets)).sum().backward()
    optimizer.step()
    tensors, meta = optimizer.state_tensors()
    fresh = TrainingOptimizer(module, OptimizerSettings(name="adam", lr=0.1), total_steps=5)
    fresh.load_state_tensors(tensors, meta)
    again, again_meta = fresh.state_tensors()
    assert again_meta == meta
    assert sorted(again) == sorted(tensors)
    for key in tensors:
        torch.testing.assert_close(again[key], tensors[key])


@pytest.mark.parametrize(("name", "scale"), [("sgd", 4.0), ("adam", 1.0)])
def test_sparse_grad_scale_multiplies_sgd_steps_of_sparse_rows_only(
    name: str, scale: float
) -> None:
    """SGD's sparse rows move ``scale`` times as far, its dense layer as far as without; the
    adaptive optimisers ignore the setting (their steps do not grow with the gradient)."""
    steps = []
    for grad_scale in (1.0, 4.0):
        torch.manual_seed(0)
        module = nn.Sequential(nn.EmbeddingBag(6, 3, sparse=True), nn.Linear(3, 2))
        before = [p.detach().clone() for p in module.parameters()]
        settings = OptimizerSettings(name=name, lr=0.1, sparse_grad_scale=grad_scale)
        optimizer = TrainingOptimizer(module, settings, total_steps=1)
        optimizer.zero_grad()
        module[1](module[0](torch.tensor([0, 1, 4]), torch.tensor([0, 2]))).sum().backward()
        optimizer.step()
        steps.append([p.detach() - b for p, b in zip(module.parameters(), before, strict=True)])
    (table, *dense), (scaled_table, *scaled_dense) = steps
    assert table.abs().sum() > 0
    torch.testing.assert_close(scaled_table, table * scale)
    for mine, theirs in zip(scaled_dense, dense, strict=True):
        torch.testing.assert_close(mine, theirs)
