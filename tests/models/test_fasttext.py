"""The fasttext family's own parts: its bag mean's gradient and its default batch size."""

import numpy as np
import pytest
import torch
from torch import nn

from modelcycle.models import make_model
from modelcycle.models.fasttext import BagData, FastTextModule, default_batch_size, default_lr


def _gradients(module: FastTextModule, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    module.zero_grad()
    scores = module(ids, offsets)
    (scores * torch.arange(1.0, scores.shape[1] + 1)).sum().backward()
    grad = module.embedding.weight.grad
    assert grad is not None
    return grad.to_dense()


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32])  # BagData's batches are int32
def test_training_bag_mean_matches_embedding_bag(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    module = FastTextModule(n_ids=12, dim=4, hidden=(), n_classes=3, dropout=0.0)
    nn.init.normal_(module.head.first.weight)  # fastText's zero start would hide the gradient
    # repeated ids, within and across bags; the second bag is empty
    ids = torch.tensor([3, 1, 3, 7, 11, 1, 3, 0], dtype=dtype)
    offsets = torch.tensor([0, 3, 3, 6], dtype=dtype)
    module.train()
    trained = module(ids, offsets)
    grad = _gradients(module, ids, offsets)
    module.eval()  # inference takes PyTorch's EmbeddingBag, the reference
    with torch.no_grad():
        inferred = module(ids, offsets)
    torch.testing.assert_close(trained, inferred)
    reference = nn.EmbeddingBag(12, 4, mode="mean", sparse=True)
    reference.weight.data.copy_(module.embedding.weight.data)
    scores = module.head(reference(ids, offsets))
    (scores * torch.arange(1.0, scores.shape[1] + 1)).sum().backward()
    assert reference.weight.grad is not None
    torch.testing.assert_close(grad, reference.weight.grad.to_dense())
    assert grad[[2, 4, 5, 6, 8, 9, 10]].abs().sum() == 0  # ids no bag holds


def test_training_gradient_has_one_row_per_id() -> None:
    module = FastTextModule(n_ids=20, dim=3, hidden=(), n_classes=2, dropout=0.0).train()
    ids = torch.tensor([5, 2, 5, 5, 9, 2])
    module(ids, torch.tensor([0, 2])).sum().backward()
    grad = module.embedding.weight.grad
    assert grad is not None
    assert grad._indices()[0].tolist() == [2, 5, 9]


@pytest.mark.parametrize(
    ("optimizer", "texts", "ids", "expected"),
    [
        ("adagrad", 67_349, 1_261_000, 2048),  # SST-2: short sentences batch many
        ("rmsprop", 25_000, 11_784_000, 512),  # IMDB: long reviews batch few
        ("adagrad", 9_596, 373_500, 256),  # too few texts for 32 batches of more
        ("adam", 1_000_000, 2_000_000, 16_384),  # 2 ids a text: 20,000 texts, a power of two
        ("sgd", 67_349, 1_261_000, 64),  # SGD: about 1,000 steps an epoch
        ("sgd", 9_596, 373_500, 32),  # ... but never fewer than 32 texts a batch
        ("sgd", 1_000_000, 2_000_000, 256),  # ... nor more than 256
        ("adagrad", 10, 0, 256),
    ],
)
def test_default_batch_size(optimizer: str, texts: int, ids: int, expected: int) -> None:
    assert default_batch_size(optimizer, texts, ids) == expected


def test_default_lr_grows_with_batches_of_long_texts() -> None:
    assert default_lr("sgd", 32, 500.0) == default_lr("sgd", 256, 10.0)  # SGD: one rate
    assert default_lr("adagrad", 2048, 18.7) == pytest.approx(0.1)  # SST-2: 38,000 ids
    assert default_lr("adagrad", 256, 10.0) == pytest.approx(0.1)  # never below the base
    assert default_lr("adagrad", 512, 471.4) == pytest.approx(0.1 * (512 * 471.4 / 40_000) ** 0.5)
    assert default_lr("adam", 512, 471.4) == pytest.approx(
        2 * default_lr("adagrad", 512, 471.4) / 20
    )


def test_fit_records_the_batch_size_it_used() -> None:
    texts = ["good film", "bad film", "great plot", "awful plot"] * 5
    labels = ["pos", "neg", "pos", "neg"] * 5
    assert make_model("fasttext", {"epochs": 1}).fit(texts, labels).batch_size_ == 256
    given = make_model("fasttext", {"epochs": 1, "batch_size": 3}).fit(texts, labels)
    assert given.batch_size_ == 3


def test_dense_embedding_gradients_when_asked() -> None:
    # data-parallel training on GPUs turns sparse gradients off (NCCL cannot reduce them)
    module = FastTextModule(n_ids=20, dim=3, hidden=(), n_classes=2, dropout=0.0).train()
    module.embedding.sparse = False
    module(torch.tensor([5, 2, 5]), torch.tensor([0, 1])).sum().backward()
    grad = module.embedding.weight.grad
    assert grad is not None
    assert not grad.is_sparse


def test_batches_hold_the_rows_bags_in_int32_where_ids_fit() -> None:
    ids = np.array([5, 6, 7, 8, 9, 10], dtype=np.int64)
    offsets = np.array([0, 2, 2, 5])  # bags [5, 6], [], [7, 8, 9], [10]
    batch_ids, starts = BagData(ids, offsets, np.zeros(4), None).batch(
        np.array([2, 0, 1]), torch.device("cpu")
    )
    assert batch_ids.tolist() == [7, 8, 9, 5, 6]
    assert starts.tolist() == [0, 3, 5]
    assert batch_ids.dtype == starts.dtype == torch.int32
    wide = BagData(ids + 2**31, offsets, np.zeros(4), None)
    wide_ids, wide_starts = wide.batch(np.array([3]), torch.device("cpu"))
    assert wide_ids.tolist() == [10 + 2**31]
    assert wide_ids.dtype == wide_starts.dtype == torch.int64
