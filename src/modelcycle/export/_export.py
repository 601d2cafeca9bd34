"""Export a trained model to ONNX, with its preprocessing as data and a parity check.

A family plugs in with a function in :data:`NETWORKS` that turns its saved state into a network
(the bag-of-features families are a :class:`~modelcycle.export._graph.BagNet`, which builds its
ONNX graph with a codec per layer; the transformer is a
:class:`~modelcycle.export._transformer.TransformerNet`, traced by ``torch.onnx.export`` and fed
by its tokenizer). Preprocessing stays modelcycle's Python code and is saved beside the graph as
data (settings, vocabulary, n-gram keys, idf, feature scaling; or ``tokenizer.json``), so
serving needs only ONNX Runtime, :mod:`modelcycle.features` and :mod:`modelcycle.tokenizer`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelcycle._io import atomic_file, write_json
from modelcycle._version import __version__
from modelcycle.artifacts import write_model_dir
from modelcycle.exceptions import ExportError
from modelcycle.export._card import (
    Expected,
    card_path,
    check_text_parity,
    expected_outputs,
    model_card,
)
from modelcycle.export._graph import OUTPUT, BagNet, build_graph
from modelcycle.export._text import text_input_model
from modelcycle.export._transformer import TransformerNet, optimize_transformer
from modelcycle.models import ModelState, TextClassifier
from modelcycle.postprocess import Postprocess
from modelcycle.runtime import (
    PREPROCESSING_FORMAT,
    OnnxClassifier,
    preprocessing_path,
    tokenizer_path,
)
from modelcycle.tokenizer import SubwordTokenizer

__all__ = [
    "NETWORKS",
    "PARITY_TOLERANCE",
    "TEXT_GRAPH",
    "ExportResult",
    "Network",
    "OnnxVariant",
    "check_parity",
    "export_model",
    "fused_transformer",
    "network_of",
    "parity_texts",
    "parity_words",
    "variant_of",
]

PARITY_TOLERANCE = 1e-4
"""The largest difference in probability allowed between the model and its FP32 graph."""
TEXT_GRAPH = "text.onnx"
"""The text-input graph in a model directory written with ``text_input``."""
PREPROCESSING_TENSORS = ("ngram_keys", "idf", "feature_mean", "feature_scale")
NGRAM_HASH = {
    "tokens": "lower-case the text, replace tag_pattern matches by a space, find token_pattern",
    "word": "a word's id is its position in vocabulary; unknown words break n-grams",
    "ngram": "h = 0; for each word id w of the n-gram: h = h * 0x9E3779B97F4A7C15 + w + 1 "
    "(mod 2**64); key = (h & (2**61 - 1)) | (n << 61); a unigram's key is its word id",
    "ngrams kind": "column = position of the key in ngram_keys; tfidf: (1 + ln count) * idf, "
    "rows L2-normalised; binary: 1",
    "hashed_bag kind": "id = word id for words, len(vocabulary) + key % buckets for n-grams; "
    "with end_token, the word '</s>' (id 0) ends every text before n-grams are formed",
}
"""How texts become the graph's inputs, for readers of ``FILE.preprocessing.json``."""


@dataclass(frozen=True)
class OnnxVariant:
    """An ONNX graph and everything needed to feed it: one exported or quantized model."""

    graph: bytes
    source_family: str
    classes: list[str]
    preprocessing: dict[str, Any]
    tensors: dict[str, np.ndarray]
    vocabulary: list[str]
    precision: str
    source_params: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    postprocess: dict[str, Any] | None = None  # the model's temperature and threshold, if any
    tokenizer: dict[str, Any] | None = None  # tokenizer.json (transformer family)

    def classifier(self, *, threads: int | None = None) -> OnnxClassifier:
        """The variant, ready to predict."""
        return OnnxClassifier(
            graph=self.graph,
            classes=self.classes,
            preprocessing=self.preprocessing,
            tensors=self.tensors,
            vocabulary=self.vocabulary,
            precision=self.precision,
            threads=threads,
            tokenizer=self.tokenizer,
        )

    def text_graph(self) -> bytes:
        """This variant as one text-input graph: strings in, ``label`` and calibrated
        ``probabilities`` out (see :mod:`modelcycle.export._text`)."""
        model = text_input_model(
            self.graph,
            preprocessing=self.preprocessing,
            vocabulary=self.vocabulary,
            tensors=self.tensors,
            classes=self.classes,
            postprocess=self.postprocess,
            tokenizer=self.tokenizer,
            metadata={
                "modelcycle_version": __version__,
                "family": self.source_family,
                "labels": json.dumps(self.classes),
                "precision": self.precision,
            },
        )
        return bytes(model.SerializeToString())

    def text_files(
        self,
        name: str,
        texts: Sequence[str],
        expected: Expected,
        *,
        tolerance: float = PARITY_TOLERANCE,
        what: str = "the featurised graph",
        about: Mapping[str, Any] | None = None,
        blocks: Sequence[np.ndarray] | None = None,
    ) -> tuple[bytes, str, float]:
        """``(graph, model card, parity difference)`` of this variant as the text-input graph
        ``name``, checked against the ``expected`` outputs on ``texts`` (run in ``blocks``, as
        they were computed)."""
        graph = self.text_graph()
        diff = check_text_parity(
            graph, texts, expected, tolerance=tolerance, what=what, blocks=blocks
        )
        card = model_card(
            name=name,
            family=self.source_family,
            classes=[str(c) for c in self.classes],
            preprocessing=self.preprocessing,
            params=self.source_params,
            postprocess=self.postprocess,
            parity={"max_abs_diff": diff, "texts": len(texts)},
            about={**(about or {}), "metrics": {"precision": self.precision}},
        )
        return graph, card, diff

    def text_variant(self, graph: bytes) -> OnnxVariant:
        """This variant with its text-input ``graph`` (preprocessing kind ``text``) for a model
        directory: the temperature is in the graph, so only a threshold stays in
        ``model.json`` (applied to the graph's calibrated probabilities)."""
        threshold = (self.postprocess or {}).get("threshold")
        return OnnxVariant(
            graph=graph,
            source_family=self.source_family,
            classes=self.classes,
            preprocessing={"kind": "text"},
            tensors={},
            vocabulary=[],
            precision=self.precision,
            source_params=self.source_params,
            details={**self.details, "inputs": ["text"], "outputs": ["label", OUTPUT]},
            postprocess=None if threshold is None else {"threshold": threshold},
        )

    def write_dir(
        self,
        path: str | Path,
        *,
        metrics: Mapping[str, Any] | None = None,
        text_input: bool = False,
        extra_files: Mapping[str, bytes] | None = None,
    ) -> Path:
        """A model directory (``load_model``, ``evaluate``, ``predict`` and serving read it):
        ``model.onnx``, the preprocessing arrays in ``weights.safetensors``, ``vocabulary.json``,
        ``model.json`` and ``manifest.json``; with ``text_input``, also ``text.onnx`` (the
        variant from strings to label and probabilities, parity-checked against ``model.onnx``)
        and its ``text.model_card.md``; ``extra_files`` by name."""
        files = {"model.onnx": self.graph, **(extra_files or {})}
        if text_input:
            texts = parity_texts(parity_words(self))
            postprocess = Postprocess.from_json(self.postprocess, self.classes)
            featurised = self.classifier()
            expected = expected_outputs(featurised.predict_proba(texts), self.classes, postprocess)
            blocks = featurised.blocks(texts)
            graph, card, _ = self.text_files(TEXT_GRAPH, texts, expected, blocks=blocks)
            files |= {TEXT_GRAPH: graph, card_path(TEXT_GRAPH).name: card.encode("utf-8")}
        meta = {
            "family": "onnx",
            "labels": self.classes,
            "params": {"precision": self.precision, "source_family": self.source_family},
            "preprocessing": self.preprocessing,
            "precision": self.precision,
            "metrics": dict(metrics or {}),
            "source": {"family": self.source_family, "params": self.source_params},
            "onnx": {"output": OUTPUT, **self.details},
        }
        if self.postprocess is not None:
            meta["postprocess"] = self.postprocess
        # one string, a word per line (tokens never hold a newline): a third of the size
        # of a JSON list, which matters once the weights are quantized
        documents: dict[str, Any] = {"vocabulary": "\n".join(self.vocabulary)}
        if self.tokenizer is not None:
            documents = {"tokenizer": self.tokenizer}
        return write_model_dir(
            path,
            meta=meta,
            tensors=self.tensors,
            documents=documents,
            files=files,
        )

    def write_file(self, path: str | Path) -> Path:
        """``FILE.onnx`` and, beside it, ``FILE.preprocessing.json`` (labels, settings,
        vocabulary and arrays as JSON) and, for a transformer, ``FILE.tokenizer.json``; each
        written atomically."""
        path = Path(path)
        document = {
            "format": PREPROCESSING_FORMAT,
            "format_version": 1,
            "modelcycle_version": __version__,
            "family": self.source_family,
            "labels": self.classes,
            "precision": self.precision,
            "preprocessing": self.preprocessing,
            "vocabulary": self.vocabulary,
            "arrays": {name: array.tolist() for name, array in self.tensors.items()},
            "dtypes": {name: array.dtype.str for name, array in self.tensors.items()},
            "inputs": self.details.get("inputs", []),
            "output": OUTPUT,
            "ngram_hash": NGRAM_HASH,
            "postprocess": self.postprocess,
        }
        if self.tokenizer is not None:
            document["tokenizer"] = tokenizer_path(path).name
            document.pop("ngram_hash")
        with atomic_file(path) as tmp:
            tmp.write_bytes(self.graph)
            if self.tokenizer is not None:
                write_json(tokenizer_path(path), self.tokenizer)
            write_json(preprocessing_path(path), document)
        return path


@dataclass(frozen=True)
class ExportResult:
    """Where the export went, its size and the parity check's measured difference."""

    path: Path
    family: str
    size_bytes: int
    max_abs_diff: float
    parity_texts: int
    written: tuple[Path, ...] = ()

    def summary(self) -> str:
        """One line: what was written, the graph's size and the parity."""
        where = " and ".join(str(p) for p in self.written) or f"the model directory {self.path}"
        return (
            f"wrote {where} ({self.family}, graph {self.size_bytes:,} bytes); parity with "
            f"the model: max difference {self.max_abs_diff:.1e} on {self.parity_texts} texts"
        )


def _linear_net(state: ModelState) -> BagNet:
    coef = np.asarray(state.tensors["coef"], dtype=np.float64)
    table = coef.T.copy()  # [columns, score rows]
    if "nb_scale" in state.tensors:  # NB-SVM scales the n-gram columns: fold it into the weights
        scale = np.asarray(state.tensors["nb_scale"], dtype=np.float64)
        table[: len(scale)] *= scale[:, None]
    return BagNet(
        table=table,
        mode="sum",
        weighted=True,
        bag_bias=np.asarray(state.tensors["intercept"], dtype=np.float64),
        n_classes=len(state.classes),
    )


def _dense_layers(tensors: Mapping[str, np.ndarray], prefix: str) -> list[tuple[Any, Any]]:
    layers = []
    i = 0
    while f"{prefix}layers.{i}.weight" in tensors:
        weight = np.asarray(tensors[f"{prefix}layers.{i}.weight"]).T  # torch Linear is [out, in]
        layers.append((weight, np.asarray(tensors[f"{prefix}layers.{i}.bias"])))
        i += 1
    return layers


def _mlp_net(state: ModelState) -> BagNet:
    layers = _dense_layers(state.tensors, "head.")
    return BagNet(
        table=np.asarray(state.tensors["head.first.weight"]),  # EmbeddingBag: [columns, width]
        mode="sum",
        weighted=True,
        bag_bias=np.asarray(state.tensors["head.bias"]),
        dense=tuple(layers),
        relu_after_bag=bool(layers),
        n_classes=len(state.classes),
    )


def _fasttext_net(state: ModelState) -> BagNet:
    first = (
        np.asarray(state.tensors["head.first.weight"]).T,
        np.asarray(state.tensors["head.bias"]),
    )
    names = state.preprocessing.get("features", [])
    return BagNet(
        table=np.asarray(state.tensors["embedding.weight"]),
        mode="mean",
        weighted=False,
        extra_width=len(names),
        dense=(first, *_dense_layers(state.tensors, "head.")),
        n_classes=len(state.classes),
    )


Network = BagNet | TransformerNet

NETWORKS: dict[str, Callable[[ModelState], Network]] = {
    "logreg": _linear_net,
    "svm": _linear_net,
    "nb": _linear_net,
    "mlp": _mlp_net,
    "fasttext": _fasttext_net,
    "transformer": TransformerNet,
}
"""Each exportable family's network, built from its saved state."""


def network_of(model: TextClassifier) -> tuple[Network, ModelState]:
    """The network of a fitted model and the state it was read from."""
    family = model.family
    if family not in NETWORKS:
        hint = " (it is already an ONNX model)" if family == "onnx" else ""
        raise ExportError(
            f"model family {family!r} cannot be exported{hint}; "
            f"exportable families are: {', '.join(NETWORKS)}"
        )
    state = model.get_state()
    return NETWORKS[family](state), state


def variant_of(
    model: TextClassifier,
    net: Network,
    state: ModelState,
    *,
    codecs: Mapping[str, str] | None = None,
    precision: str = "fp32",
    graph: bytes | None = None,
    tensors: Mapping[str, np.ndarray] | None = None,
    details: Mapping[str, Any] | None = None,
) -> OnnxVariant:
    """The ONNX variant of ``model``: ``net`` built with ``codecs`` (or a ready ``graph``) and
    the model's preprocessing (plus any extra preprocessing ``tensors``)."""
    if graph is None:
        metadata = {
            "modelcycle_version": __version__,
            "family": model.family,
            "labels": json.dumps(state.classes),
            "precision": precision,
        }
        if isinstance(net, TransformerNet):
            graph = net.to_onnx(codecs, metadata=metadata).SerializeToString()
        else:
            graph = build_graph(net, codecs, metadata=metadata).SerializeToString()
    preprocessing_tensors = {
        name: np.asarray(state.tensors[name])
        for name in PREPROCESSING_TENSORS
        if name in state.tensors
    }
    return OnnxVariant(
        graph=graph,
        source_family=model.family,
        classes=list(state.classes),
        preprocessing=dict(state.preprocessing),
        tensors={**preprocessing_tensors, **(tensors or {})},
        vocabulary=list(state.documents.get("vocabulary", [])),
        precision=precision,
        source_params=dict(state.params),
        details={"inputs": net.input_names(), "codecs": dict(codecs or {}), **(details or {})},
        postprocess=(
            model.postprocess_.to_json()
            if model.postprocess_ is not None and not model.postprocess_.is_identity
            else None
        ),
        tokenizer=state.documents.get("tokenizer"),
    )


def parity_texts(vocabulary: Sequence[str], n: int = 200, *, seed: int = 0) -> list[str]:
    """Texts for the parity check: random runs of 1–30 vocabulary words (so that n-grams
    occur), an empty text and a text of unknown words."""
    rng = np.random.default_rng(seed)
    words = np.asarray(vocabulary, dtype=object)
    texts = ["", "zzqx unknownword"]
    if len(words):
        texts += [
            " ".join(words[rng.integers(0, len(words), size=int(rng.integers(1, 31)))])
            for _ in range(n)
        ]
    return texts


def parity_words(variant: OnnxVariant) -> list[str]:
    """The words parity texts are made of: the vocabulary, or the tokenizer's whole words."""
    if variant.tokenizer is None:
        return variant.vocabulary
    tokenizer = SubwordTokenizer(variant.tokenizer, max_length=8, pad_id=0)
    return tokenizer.words()


def fused_transformer(
    model: TextClassifier,
    variant: OnnxVariant,
    config: Mapping[str, Any],
    texts: Sequence[str],
    tolerance: float = PARITY_TOLERANCE,
) -> tuple[OnnxVariant, float] | None:
    """``variant`` with its graph fused by ONNX Runtime's transformer optimizer and the fused
    graph's parity difference, or None when it does not pass the parity check."""
    graph = optimize_transformer(variant.graph, config)
    fused = OnnxVariant(
        **{
            **variant.__dict__,
            "graph": graph,
            "details": {**variant.details, "fused": "onnxruntime.transformers optimizer (bert)"},
        }
    )
    try:
        return fused, check_parity(model, fused, texts, tolerance=tolerance)
    except ExportError:
        return None


def check_parity(
    model: TextClassifier,
    variant: OnnxVariant,
    texts: Sequence[str],
    *,
    tolerance: float = PARITY_TOLERANCE,
) -> float:
    """The largest probability difference between ``model`` and ``variant`` on ``texts``;
    an ExportError when it exceeds ``tolerance``."""
    expected = model.predict_proba(list(texts))
    measured = variant.classifier().predict_proba(list(texts))
    diff = float(np.abs(expected - measured).max()) if len(texts) else 0.0
    if not diff <= tolerance:
        raise ExportError(
            f"parity check failed: ONNX Runtime and the {model.family} model differ by up to "
            f"{diff:.2e} in probability on {len(texts)} texts (allowed {tolerance:.0e}); "
            "the graph does not compute what the model computes, so nothing was written"
        )
    return diff


def export_model(
    model: TextClassifier,
    out: str | Path,
    *,
    texts: Sequence[str] = (),
    tolerance: float = PARITY_TOLERANCE,
    seed: int = 0,
    text_input: bool = False,
    about: Mapping[str, Any] | None = None,
) -> ExportResult:
    """Export ``model`` to ``out``: ``FILE.onnx`` (+ ``FILE.preprocessing.json``), or a model
    directory when ``out`` does not end in ``.onnx``. The parity check runs first on
    ``texts`` and generated texts; a difference over ``tolerance`` writes nothing.

    With ``text_input``, ``FILE.onnx`` is one graph from strings to ``label`` and
    ``probabilities`` (see :mod:`modelcycle.export._text`), written with its model card
    ``FILE.model_card.md`` (``about``: the model directory's ``model.json``, for its training
    and metrics); a directory gets it as ``model.onnx`` (``load_model``, ``predict`` and
    ``serve`` read it) with ``model.model_card.md``.

    Example::

        export_model(load_model("model/"), "model.onnx").max_abs_diff   # e.g. 3e-08
    """
    out = Path(out)
    net, state = network_of(model)
    variant = variant_of(model, net, state)
    sample = [*texts, *parity_texts(parity_words(variant), seed=seed)]
    if text_input:
        expected = expected_outputs(
            model.predict_proba(sample), list(model.classes_), model.postprocess_
        )
        graph, card, diff = variant.text_files(
            out.name, sample, expected, tolerance=tolerance, what=f"the {model.family} model"
        )
        if out.suffix != ".onnx":
            card_file = {card_path("model.onnx").name: card.encode("utf-8")}
            variant.text_variant(graph).write_dir(out, extra_files=card_file)
            return ExportResult(out, model.family, len(graph), diff, len(sample))
        with atomic_file(out) as tmp:
            tmp.write_bytes(graph)
            with atomic_file(card_path(out)) as card_tmp:
                card_tmp.write_text(card, encoding="utf-8")
        return ExportResult(out, model.family, len(graph), diff, len(sample), (out, card_path(out)))
    diff = check_parity(model, variant, sample, tolerance=tolerance)
    if isinstance(net, TransformerNet):  # ONNX Runtime's fused graph, when it computes the same
        fused = fused_transformer(model, variant, net.config, sample, tolerance)
        if fused is not None:
            variant, diff = fused
    variant = OnnxVariant(
        **{
            **variant.__dict__,
            "details": {**variant.details, "parity": {"max_abs_diff": diff, "texts": len(sample)}},
        }
    )
    written: tuple[Path, ...] = ()
    if out.suffix == ".onnx":
        variant.write_file(out)
        written = (out, preprocessing_path(out))
        if variant.tokenizer is not None:
            written += (tokenizer_path(out),)
    else:
        variant.write_dir(out)
    return ExportResult(out, model.family, len(variant.graph), diff, len(sample), written)
