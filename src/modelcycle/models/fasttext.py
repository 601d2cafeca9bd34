"""The ``fasttext`` family: fastText's model class (Joulin et al. 2016) trained by our loop.

A text is the bag of its word ids and hashed word n-grams; their embeddings are averaged
(``EmbeddingBag``, sparse gradients) and a linear softmax layer (optionally hidden layers first)
scores the classes. Featurisation is vectorised (:class:`~modelcycle.features.HashedBagFeaturizer`)
and the embedding table is updated lazily by whichever of the four optimisers is chosen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any, ClassVar, Self

import numpy as np
import torch
from sklearn.utils._param_validation import Interval
from torch import nn
from torch.nn import functional as F

from modelcycle.data import DEFAULT_SHUFFLE_BUFFER, TextStream
from modelcycle.engine.loop import RunOptions, run_loop
from modelcycle.engine.optimizers import (
    DEFAULT_LR,
    OPTIMIZERS,
    TRAINING_CONSTRAINTS,
    OptimizerSettings,
)
from modelcycle.features import HashedBagFeaturizer
from modelcycle.models._base import (
    ExtraInputs,
    ModelState,
    TextClassifier,
    json_params,
    tuple_params,
)
from modelcycle.models._stream import (
    FirstPass,
    WindowStream,
    first_pass,
    row_chunks,
    stream_val,
)
from modelcycle.models._token_cache import TokenRows
from modelcycle.models._torch import (
    FeedForward,
    accuracy_validator,
    load_module_arrays,
    loop_settings,
    module_arrays,
    predict_in_batches,
    run_options,
)

SGD_BATCHES_PER_EPOCH = 1000
"""SGD's default batch makes about this many steps an epoch (the power of two at or below
texts / 1000), between ``SGD_SMALLEST_BATCH`` and ``BASE_BATCH_SIZE`` texts."""
SGD_SMALLEST_BATCH = 32
BASE_BATCH_SIZE = 256
"""SGD's largest default batch and the adaptive optimisers' smallest."""
IDS_PER_BATCH = 40_000
LONG_TEXTS_BATCH_SIZE = 512
MIN_BATCHES_PER_EPOCH = 32
"""The adaptive optimisers' default batch holds about ``IDS_PER_BATCH`` ids, or
``LONG_TEXTS_BATCH_SIZE`` texts when that is more; at most 1/``MIN_BATCHES_PER_EPOCH`` of the
texts and at least ``BASE_BATCH_SIZE`` (a power of two). A step costs about the same whatever
its size, so short texts batch many (SST-2: 2,048 sentences, the same accuracy as 256 in under
half the time, mean of 3 seeds); IMDB batches 512 reviews (0.906, as 256 with the scaled rate,
and 10% faster)."""


def default_batch_size(optimizer: str, n_texts: int, n_ids: int) -> int:
    """The batch size when none is given (see ``SGD_BATCHES_PER_EPOCH`` and
    ``MIN_BATCHES_PER_EPOCH``)."""
    if optimizer == "sgd":
        batch = 1 << int(max(n_texts / SGD_BATCHES_PER_EPOCH, 1)).bit_length() - 1
        return min(max(batch, SGD_SMALLEST_BATCH), BASE_BATCH_SIZE)
    fits = min(
        max(IDS_PER_BATCH * n_texts / max(n_ids, 1), LONG_TEXTS_BATCH_SIZE),
        n_texts / MIN_BATCHES_PER_EPOCH,
    )
    return max(BASE_BATCH_SIZE, 1 << int(max(fits, 1)).bit_length() - 1)


def default_lr(optimizer: str, batch_size: int, ids_per_text: float) -> float:
    """The optimiser's default rate for batches of ``batch_size`` texts: SGD's is fixed; the
    adaptive optimisers' registry rates hold for batches of up to ``IDS_PER_BATCH`` ids, and
    larger batches (long texts) scale them by the square root of their size in ids: IMDB,
    batches of 512 reviews (240,000 ids), adagrad 0.9057 against 0.8987 unscaled, rmsprop
    0.9046 against 0.8823, adam 0.9046 against 0.8843."""
    base = DEFAULT_LR["fasttext"][optimizer]
    if optimizer == "sgd":
        return base
    return base * max(1.0, math.sqrt(batch_size * ids_per_text / IDS_PER_BATCH))


class FastTextModule(nn.Module):
    """Mean of the bag's embeddings (and any engineered features) → (hidden layers) → scores."""

    def __init__(
        self,
        n_ids: int,
        dim: int,
        hidden: tuple[int, ...],
        n_classes: int,
        dropout: float,
        n_extra: int = 0,
    ) -> None:
        super().__init__()
        weight = torch.empty(n_ids, dim).uniform_(-1.0 / dim, 1.0 / dim)
        self.embedding = nn.EmbeddingBag(n_ids, dim, mode="mean", sparse=True, _weight=weight)
        self.head = FeedForward(dim + n_extra, hidden, n_classes, dropout, sparse=False)
        if not hidden:  # fastText starts its output layer at zero
            assert isinstance(self.head.first, nn.Linear)
            nn.init.zeros_(self.head.first.weight)

    def forward(
        self, ids: torch.Tensor, offsets: torch.Tensor, *extra: torch.Tensor
    ) -> torch.Tensor:
        if self.training and self.embedding.sparse:
            bag = _BagMean.apply(ids, offsets, self.embedding.weight)
        else:  # inference, or dense gradients (data-parallel on GPUs)
            bag = self.embedding(ids, offsets)  # (texts, dim)
        return self.head(torch.cat([bag, *extra], dim=1) if extra else bag)


class _BagMean(torch.autograd.Function):
    """The mean embedding of each bag, as ``EmbeddingBag(mode="mean")`` computes it, with a
    gradient that is already coalesced: one row per distinct id, summed by a second
    ``embedding_bag`` over the ids' positions sorted by id. So the optimiser needs no
    ``unique`` of its own, and nothing goes through ``index_add_``, which scatters element by
    element (measured, a batch of 256 SST-2 sentences: 17 us against 216 us for the summing)."""

    @staticmethod
    def forward(
        ctx: Any, ids: torch.Tensor, offsets: torch.Tensor, weight: torch.Tensor
    ) -> torch.Tensor:
        ctx.save_for_backward(ids, offsets)
        ctx.table_shape = weight.shape
        return F.embedding_bag(ids, weight, offsets, mode="mean")

    @staticmethod
    def backward(ctx: Any, grad_bags: torch.Tensor) -> tuple[None, None, torch.Tensor]:
        ids, offsets = ctx.saved_tensors
        lengths = torch.diff(offsets, append=offsets.new_tensor([len(ids)]))
        per_bag = grad_bags / lengths.clamp(min=1).unsqueeze(1).to(grad_bags.dtype)
        bag_of_position = torch.repeat_interleave(
            torch.arange(len(offsets), device=ids.device), lengths
        )
        sorted_ids, positions = torch.sort(ids, stable=True)  # stable: the same sums every run
        distinct, counts = torch.unique_consecutive(sorted_ids, return_counts=True)
        rows = F.embedding_bag(
            bag_of_position[positions], per_bag, torch.cumsum(counts, 0) - counts, mode="sum"
        )
        grad = torch.sparse_coo_tensor(
            distinct.unsqueeze(0), rows, ctx.table_shape, check_invariants=False
        )
        return None, None, grad


class BagData:
    """Bags of ids (``ids[offsets[i]:offsets[i] + lengths[i]]`` is text i) and any engineered
    features (a row per text), batched."""

    def __init__(
        self, ids: np.ndarray, offsets: np.ndarray, targets: np.ndarray, extra: np.ndarray | None
    ) -> None:
        # int32 where the ids fit: half the memory traffic of each batch's gather, bag and sort
        # (IMDB, 5 epochs: the loop takes 3.3-3.6 s, against 3.5-5.0 s with int64)
        narrow = len(ids) == 0 or int(ids.max()) <= np.iinfo(np.int32).max
        self.ids = torch.from_numpy(ids.astype(np.int32, copy=False) if narrow else ids)
        self.offsets = offsets
        self.lengths = np.diff(np.append(offsets, len(ids)))
        self.targets = targets
        self.extra = None if extra is None else torch.from_numpy(extra.astype(np.float32))

    def __len__(self) -> int:
        return len(self.offsets)

    def batch(self, rows: np.ndarray, device: torch.device) -> tuple[torch.Tensor, ...]:
        lengths = self.lengths[rows]
        starts = np.zeros(len(rows), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        # position k of the batch's bag i reads ids[offsets[rows[i]] + k]
        gather = np.arange(int(lengths.sum())) + np.repeat(self.offsets[rows] - starts, lengths)
        ids = self.ids[torch.from_numpy(gather)].to(device)
        bags = (ids, torch.from_numpy(starts).to(device=device, dtype=ids.dtype))
        if self.extra is None:
            return bags
        return (*bags, self.extra[torch.from_numpy(rows)].to(device))


class FastTextClassifier(TextClassifier):
    """``fasttext``: averaged embeddings of words and hashed word n-grams, softmax on top.

    Example::

        model = FastTextClassifier(dim=10, ngrams=2, epochs=5).fit(texts, labels)

    ``batch_size=None`` sizes the batches by the data (:func:`default_batch_size`); the fitted
    ``batch_size_`` is the size used.
    """

    family = "fasttext"
    streams = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "ngrams": [Interval(Integral, 1, 5, closed="both")],
        "buckets": [Interval(Integral, 1, None, closed="left")],
        "min_count": [Interval(Integral, 1, None, closed="left")],
        "dim": [Interval(Integral, 1, None, closed="left")],
        "hidden": [tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        **TRAINING_CONSTRAINTS,
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "features": [tuple, list],
    }

    def __init__(
        self,
        *,
        ngrams: int = 2,
        buckets: int = 2_000_000,
        min_count: int = 1,
        dim: int = 10,
        hidden: tuple[int, ...] = (),
        dropout: float = 0.0,
        optimizer: str = "adagrad",
        lr: float | None = None,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        schedule: str = "linear",
        warmup: float = 0.0,
        epochs: int = 5,
        batch_size: int | None = None,
        patience: int | None = None,
        clip_grad: float | None = None,
        class_weight: str | Mapping[Any, float] | None = None,
        random_state: int | None = None,
        features: tuple[str, ...] = (),
    ) -> None:
        self.ngrams = ngrams
        self.buckets = buckets
        self.min_count = min_count
        self.dim = dim
        self.hidden = hidden
        self.dropout = dropout
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.schedule = schedule
        self.warmup = warmup
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.clip_grad = clip_grad
        self.class_weight = class_weight
        self.random_state = random_state
        self.features = features

    def _module(self, n_ids: int, n_classes: int, n_extra: int) -> FastTextModule:
        hidden = tuple(self.hidden)
        return FastTextModule(n_ids, self.dim, hidden, n_classes, self.dropout, n_extra)

    def _fit(self, texts: list[str], targets: np.ndarray, val: Any, run: Any) -> None:
        featurizer = HashedBagFeaturizer(self.ngrams, self.buckets, self.min_count)
        self.featurizer_, ids, offsets = featurizer.fit_encode(texts)
        self.extra_, extra = ExtraInputs.fit(self.features, texts)
        self.batch_size_ = self.batch_size or default_batch_size(
            self.optimizer, len(texts), len(ids)
        )
        ids_per_text = len(ids) / max(len(texts), 1)
        data = BagData(ids, offsets, targets, extra)
        self._train(data, ids_per_text, val, run, {"rows": len(texts), "ids": len(ids)})

    def fit_stream(
        self,
        stream: TextStream,
        *,
        shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
        val: tuple[list[str], Any] | None = None,
        run: RunOptions | None = None,
    ) -> Self:
        """Learn from labeled text too large for memory, read from ``stream``: a first pass
        counts the words (one count per distinct word, never the texts) and the labels and
        keeps each text's words as ids in a temporary folder (a
        :class:`~modelcycle.models._token_cache.TokenCache`), then each epoch reads those in
        seeded shuffle windows of ``shuffle_buffer`` rows. With a
        single file of at most ``shuffle_buffer`` rows the model is the one ``fit`` learns from
        the same rows (the same vocabulary, order, batches and weights). Under torchrun every
        process makes the first pass (so all count the same words), then each reads its own
        part (see :class:`~modelcycle.data.TextStream`). ``val``: texts and labels in memory."""
        self._check_constraints()
        run = run_options(run)
        with first_pass(
            stream, run, shuffle_buffer=shuffle_buffer, features=self.features, ngrams=self.ngrams
        ) as first:
            self._fit_first(stream, first, shuffle_buffer, val, run)
        return self

    def _fit_first(
        self,
        stream: TextStream,
        first: FirstPass,
        shuffle_buffer: int,
        val: tuple[list[str], Any] | None,
        run: RunOptions,
    ) -> None:
        """:meth:`fit_stream` after its first pass, training on the words it cached."""
        words = first.words
        self.classes_, self.postprocess_ = first.classes, None
        self.featurizer_ = HashedBagFeaturizer(self.ngrams, self.buckets, self.min_count)
        self.featurizer_ = self.featurizer_.fit_frequencies(words)
        self.extra_ = ExtraInputs(None)
        texts, ngram_count = words.texts, words.ngram_count
        self.batch_size_ = self.batch_size or default_batch_size(self.optimizer, texts, ngram_count)
        assert self.featurizer_.vocabulary is not None
        word_ids = words.word_ids(self.featurizer_.vocabulary)
        data = WindowStream(
            lambda rows: self._encode_rows(rows, word_ids, first.targets),
            first,
            batch_size=max(1, self.batch_size_ // first.part[1]),  # each process's share
            window=shuffle_buffer,
            seed=self.random_state if isinstance(self.random_state, int) else 0,
        )
        self.stream_rows_ = first.summary.rows
        fingerprint = {"rows": first.summary.rows, "shards": [str(p) for p in stream.shards]}
        val_data = stream_val(val, self.classes_)
        self._train(data, ngram_count / max(texts, 1), val_data, run, fingerprint)

    def _encode_rows(self, rows: TokenRows, word_ids: np.ndarray, targets: np.ndarray) -> BagData:
        """A streamed window's bags, from its texts' cached words (``word_ids``: their ids in
        the vocabulary; ``targets``: each label code's class), a chunk of texts at a time
        (bounded memory)."""
        narrow = np.int32 if self.featurizer_.size <= np.iinfo(np.int32).max else np.int64
        parts = []
        for chunk in row_chunks(rows):
            ids, offsets = self.featurizer_.encode_ids(chunk.lengths, word_ids[chunk.ids])
            parts.append((ids.astype(narrow), offsets))  # as BagData keeps them: a third the bytes
        starts = np.cumsum([0] + [len(ids) for ids, _ in parts[:-1]])
        ids = np.concatenate([ids for ids, _ in parts])
        offsets = np.concatenate([o + start for (_, o), start in zip(parts, starts, strict=True)])
        return BagData(ids, offsets, targets[rows.labels], None)

    def _train(
        self,
        data: BagData | WindowStream,
        ids_per_text: float,
        val: tuple[list[str], Any] | None,
        run: RunOptions | None,
        fingerprint: dict[str, Any],
    ) -> None:
        """Run the loop on ``data`` (in memory or streamed) with the fitted featurizer."""
        rates = {name: default_lr(name, self.batch_size_, ids_per_text) for name in OPTIMIZERS}
        optimizer = OptimizerSettings.from_params(self.get_params(), rates=rates)
        settings = loop_settings(self, optimizer, batch_size=self.batch_size_)
        torch.manual_seed(settings.seed)
        self.module_ = self._module(self.featurizer_.size, len(self.classes_), self.extra_.width)
        validate = None
        if val is not None:
            val_bags = self.featurizer_.encode(val[0])
            val_extra = self.extra_.transform(val[0])
            validate = accuracy_validator(
                lambda module: _bag_proba(module, *val_bags, val_extra), val[1]
            )
        self.history_ = run_loop(
            self.module_,
            data,
            settings,
            run_options(run),
            n_classes=len(self.classes_),
            validate=validate,
            fingerprint={**fingerprint, "classes": self.classes_.tolist()},
        )
        self.module_.cpu()

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        ids, offsets = self.featurizer_.encode(texts)
        proba = _bag_proba(self.module_, ids, offsets, self.extra_.transform(texts))
        return proba.reshape(len(texts), len(self.classes_))

    def get_state(self) -> ModelState:
        self._check_fitted()
        settings, words = self.featurizer_.to_state()
        extra_settings, extra_tensors = self.extra_.state()
        return ModelState(
            params=json_params(self.get_params()),
            classes=self.classes_.tolist(),
            preprocessing={**settings, **extra_settings},
            tensors={**module_arrays(self.module_), **extra_tensors},
            documents={"vocabulary": words, "history": self.history_},
        )

    @classmethod
    def from_state(cls, state: ModelState) -> Self:
        model = cls(**tuple_params(state.params))
        model.featurizer_ = HashedBagFeaturizer.from_state(
            state.preprocessing, state.documents["vocabulary"]
        )
        model.extra_ = ExtraInputs.from_state(state.preprocessing, state.tensors)
        module = model._module(model.featurizer_.size, len(state.classes), model.extra_.width)
        extra_names = model.extra_.tensor_names()
        weights = {k: v for k, v in state.tensors.items() if k not in extra_names}
        model.module_ = load_module_arrays(module, weights)
        model.classes_ = np.asarray(state.classes)
        model.history_ = state.documents.get("history", [])
        return model


def _bag_proba(
    module: nn.Module, ids: np.ndarray, offsets: np.ndarray, extra: np.ndarray | None
) -> np.ndarray:
    """Probabilities for whole bags, computed in blocks of texts."""
    device = next(module.parameters()).device
    ends = np.append(offsets[1:], len(ids))

    def inputs(rows: slice) -> tuple[torch.Tensor, ...]:
        block = offsets[rows]
        first, last = int(block[0]), int(ends[rows][-1])
        bags = (
            torch.from_numpy(ids[first:last]).to(device),
            torch.from_numpy(block - first).to(device),
        )
        if extra is None:
            return bags
        return (*bags, torch.from_numpy(extra[rows].astype(np.float32)).to(device))

    return predict_in_batches(module, len(offsets), inputs)
