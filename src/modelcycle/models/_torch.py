"""What the gradient-trained families share: their training parameters, the feed-forward module,
batches of a feature matrix, and moving weights between PyTorch and plain arrays."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.metrics import accuracy_score
from torch import nn

from modelcycle.engine.loop import LoopSettings, RunOptions, StreamedData, TrainingData, run_loop
from modelcycle.engine.optimizers import OptimizerSettings
from modelcycle.models._base import class_weights


def loop_settings(
    estimator: Any,
    optimizer: OptimizerSettings,
    *,
    loss: str = "cross_entropy",
    batch_size: int | None = None,
) -> LoopSettings:
    """The loop settings from a fitting estimator's parameters (its ``classes_`` are set) and
    its ``optimizer``; ``batch_size`` (when given) replaces the estimator's."""
    seed = estimator.random_state if isinstance(estimator.random_state, int) else 0
    return LoopSettings(
        optimizer=optimizer,
        epochs=estimator.epochs,
        batch_size=batch_size or estimator.batch_size,
        patience=estimator.patience,
        clip_grad=estimator.clip_grad,
        class_weight=class_weights(estimator.class_weight, estimator.classes_),
        loss=loss,
        seed=seed,
        accumulate=getattr(estimator, "accumulate", 1),
    )


class FeedForward(nn.Module):
    """Input → (hidden layers: ReLU, dropout) → class scores.

    A sparse input (a CSR matrix's rows as indices, offsets and values) goes through an
    ``EmbeddingBag`` in sum mode, which *is* a sparse matrix product with a sparse gradient, so a
    batch only updates the weights of the features it holds.
    """

    def __init__(
        self, n_features: int, hidden: tuple[int, ...], n_classes: int, dropout: float, sparse: bool
    ) -> None:
        super().__init__()
        widths = [*hidden, n_classes]
        self.sparse_input = sparse
        if sparse:
            self.first: nn.Module = nn.EmbeddingBag(n_features, widths[0], mode="sum", sparse=True)
            nn.init.normal_(self.first.weight, std=0.1 if hidden else 0.0)
        else:
            self.first = nn.Linear(n_features, widths[0], bias=False)
        self.bias = nn.Parameter(torch.zeros(widths[0]))
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))
        self.dropout = nn.Dropout(dropout)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self.sparse_input:
            indices, offsets, weights = inputs
            hidden = self.first(indices, offsets, per_sample_weights=weights) + self.bias
        else:
            hidden = self.first(inputs[0]) + self.bias
        for layer in self.layers:
            hidden = layer(self.dropout(torch.relu(hidden)))
        return hidden


class MatrixData:
    """Rows of a dense array or a CSR matrix, batched for :class:`FeedForward`."""

    def __init__(self, X: np.ndarray | sp.csr_matrix, targets: np.ndarray) -> None:
        self.X = X
        self.targets = targets

    def __len__(self) -> int:
        return self.X.shape[0]

    def batch(self, rows: np.ndarray, device: torch.device) -> tuple[torch.Tensor, ...]:
        return matrix_inputs(self.X[rows], device)


def fit_feedforward(
    X: np.ndarray | sp.csr_matrix,
    targets: np.ndarray,
    settings: LoopSettings,
    run: RunOptions | None,
    *,
    hidden: tuple[int, ...],
    dropout: float,
    n_classes: int,
    val: tuple[np.ndarray | sp.csr_matrix, np.ndarray] | None = None,
) -> tuple[FeedForward, list[dict[str, Any]]]:
    """Train a :class:`FeedForward` on rows ``X`` (targets: class indices) with ``settings``
    (whose optimiser settings were checked when made); ``val`` (rows, class indices) drives
    early stopping. Returns the module, on the CPU, and the loop's history."""
    return fit_feedforward_data(
        MatrixData(X, targets),
        FeedForwardShape(X.shape[1], hidden, n_classes, dropout, sp.issparse(X)),
        settings,
        run,
        val=val,
        fingerprint={"rows": X.shape[0], "features": X.shape[1]},
    )


@dataclass(frozen=True)
class FeedForwardShape:
    """The arguments of a :class:`FeedForward`."""

    n_features: int
    hidden: tuple[int, ...]
    n_classes: int
    dropout: float
    sparse: bool


def fit_feedforward_data(
    data: TrainingData | StreamedData,
    shape: FeedForwardShape,
    settings: LoopSettings,
    run: RunOptions | None,
    *,
    val: tuple[np.ndarray | sp.csr_matrix, np.ndarray] | None,
    fingerprint: Mapping[str, Any],
) -> tuple[FeedForward, list[dict[str, Any]]]:
    """:func:`fit_feedforward` on the loop's ``data``: rows in memory or a stream of them."""
    torch.manual_seed(settings.seed)
    module = FeedForward(
        shape.n_features, shape.hidden, shape.n_classes, shape.dropout, shape.sparse
    )
    validate = None
    if val is not None:
        X_val, val_targets = val
        validate = accuracy_validator(
            lambda m: matrix_proba(m, X_val, shape.n_classes), val_targets
        )
    history = run_loop(
        module,
        data,
        settings,
        run_options(run),
        n_classes=shape.n_classes,
        validate=validate,
        fingerprint=fingerprint,
    )
    return module.cpu(), history


def matrix_proba(module: nn.Module, X: np.ndarray | sp.csr_matrix, n_classes: int) -> np.ndarray:
    """Softmax probabilities of a :class:`FeedForward` over the rows of ``X``."""
    device = next(module.parameters()).device
    proba = predict_in_batches(module, X.shape[0], lambda rows: matrix_inputs(X[rows], device))
    return proba.reshape(X.shape[0], n_classes)


def matrix_inputs(X: np.ndarray | sp.csr_matrix, device: torch.device) -> tuple[torch.Tensor, ...]:
    """The module inputs for a block of rows."""
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        return (
            torch.as_tensor(X.indices, dtype=torch.long, device=device),
            torch.as_tensor(X.indptr[:-1], dtype=torch.long, device=device),
            torch.as_tensor(X.data, dtype=torch.float32, device=device),
        )
    return (torch.as_tensor(np.asarray(X, dtype=np.float32), device=device),)


def predict_in_batches(
    module: nn.Module,
    n_rows: int,
    inputs_of: Callable[[slice], tuple[torch.Tensor, ...]],
    batch_size: int = 8192,
) -> np.ndarray:
    """Softmax probabilities of ``module`` over ``n_rows``, computed block by block."""
    module.eval()
    blocks = []
    with torch.no_grad():
        for start in range(0, n_rows, batch_size):
            logits = module(*inputs_of(slice(start, min(n_rows, start + batch_size))))
            blocks.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    if not blocks:
        return np.zeros((0, 0))
    proba = np.concatenate(blocks).astype(np.float64)
    return proba / proba.sum(axis=1, keepdims=True)  # exact sums after float32 softmax


def accuracy_validator(
    val_inputs: Callable[[nn.Module], np.ndarray], val_targets: np.ndarray
) -> Callable[[nn.Module], dict[str, float]]:
    """A ``validate`` callback for the loop: the validation accuracy of the module."""

    def validate(module: nn.Module) -> dict[str, float]:
        predicted = np.argmax(val_inputs(module), axis=1)
        return {"val_accuracy": float(accuracy_score(val_targets, predicted))}

    return validate


def module_arrays(module: nn.Module) -> dict[str, np.ndarray]:
    """A module's weights as float32 arrays, for safetensors."""
    return {k: v.detach().cpu().float().numpy() for k, v in module.state_dict().items()}


ModuleT = TypeVar("ModuleT", bound=nn.Module)


def load_module_arrays(module: ModuleT, arrays: Mapping[str, np.ndarray]) -> ModuleT:
    """Load arrays saved by :func:`module_arrays` into ``module`` (strict: names must match)."""
    module.load_state_dict(
        {k: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()}, strict=True
    )
    return module.eval()


def run_options(run: RunOptions | None) -> RunOptions:
    """The run options to use (defaults when None)."""
    return run if run is not None else RunOptions()
