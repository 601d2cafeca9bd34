"""The runtime: an exported model's preprocessing, then its graph on ONNX Runtime.

A low room that the ``onnx`` model family, export, quantization and serving all stand on; it
imports only numpy, polars and regex (through ``features``), safetensors (through ``artifacts``)
and onnxruntime — neither PyTorch, scikit-learn nor scipy, nor any room above it. The
featurisation is the very code the model was trained with (:mod:`modelcycle.features`), rebuilt
from its saved state; the graph's inputs are described in :mod:`modelcycle.export`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelcycle.artifacts import ModelFiles, read_json, read_model_dir
from modelcycle.exceptions import ArtifactError, ConfigError
from modelcycle.features import EngineeredFeaturizer, HashedBagFeaturizer, NgramFeaturizer
from modelcycle.postprocess import Postprocess
from modelcycle.tokenizer import SubwordTokenizer, length_sorted_blocks

__all__ = [
    "PREPROCESSING_FORMAT",
    "OnnxClassifier",
    "bag_inputs",
    "onnx_session",
    "preprocessing_path",
    "tokenizer_path",
    "vocabulary_words",
]

PREPROCESSING_FORMAT = "modelcycle-onnx-preprocessing"
PREPROCESSING_SUFFIX = ".preprocessing.json"
TOKENIZER_SUFFIX = ".tokenizer.json"
TOKENIZER_BATCH = 64


def preprocessing_path(onnx_file: str | Path) -> Path:
    """Where the preprocessing JSON of ``model.onnx`` lives: ``model.preprocessing.json``."""
    onnx_file = Path(onnx_file)
    return onnx_file.with_name(onnx_file.name.removesuffix(".onnx") + PREPROCESSING_SUFFIX)


def tokenizer_path(onnx_file: str | Path) -> Path:
    """Where a transformer's ``model.onnx`` keeps its tokenizer: ``model.tokenizer.json``."""
    onnx_file = Path(onnx_file)
    return onnx_file.with_name(onnx_file.name.removesuffix(".onnx") + TOKENIZER_SUFFIX)


class OnnxClassifier:
    """Texts in, class probabilities out, through an ONNX graph on ONNX Runtime.

    Example::

        model = OnnxClassifier.load("runs/quantized/int8")   # or "model.onnx"
        model.predict(["I loved it"])                       # array(['positive'], ...)
    """

    def __init__(
        self,
        *,
        graph: bytes,
        classes: Sequence[str],
        preprocessing: Mapping[str, Any],
        tensors: Mapping[str, np.ndarray],
        vocabulary: Sequence[str],
        precision: str = "fp32",
        postprocess: Mapping[str, Any] | None = None,
        threads: int | None = None,
        tokenizer: Mapping[str, Any] | None = None,
    ) -> None:
        self.classes_ = np.asarray(list(classes))
        self.precision = precision
        # the model's temperature and threshold (modelcycle.postprocess, numpy only): like a
        # TextClassifier's, predict_proba and predict stay raw and the caller applies it
        self.postprocess = (
            None
            if postprocess is None
            else Postprocess.from_json(postprocess, self.classes_.tolist())
        )
        self.preprocessing = dict(preprocessing)
        self.graph = graph
        kind = self.preprocessing.get("kind")
        self._subwords: SubwordTokenizer | None = None
        self._ngrams: NgramFeaturizer | None = None
        self._bags: HashedBagFeaturizer | None = None
        if kind == "tokenizer":  # the transformer family: the backbone's own tokenizer
            if tokenizer is None:
                raise ValueError("a transformer graph needs its tokenizer.json")
            self._subwords = SubwordTokenizer(
                tokenizer,
                max_length=int(self.preprocessing["max_length"]),
                pad_id=int(self.preprocessing["pad_id"]),
            )
        elif kind == "ngrams":
            self._ngrams = NgramFeaturizer.from_state(self.preprocessing, vocabulary, tensors)
        elif kind == "hashed_bag":
            self._bags = HashedBagFeaturizer.from_state(self.preprocessing, vocabulary)
        elif kind != "text":  # text: a text-input graph, its preprocessing is in the graph
            raise ValueError(f"unknown preprocessing kind {kind!r}")
        self._outputs = ["probabilities"] if kind == "text" else None
        names = list(self.preprocessing.get("features", []))
        self._extra = EngineeredFeaturizer.from_tensors(names, tensors) if names else None
        self._row_of: np.ndarray | None = None
        if "kept_rows" in tensors:  # a pruned table: id -> its row, or -1 when pruned
            assert self._bags is not None
            kept = np.flatnonzero(np.unpackbits(tensors["kept_rows"])[: self._bags.size])
            self._row_of = np.full(self._bags.size, -1, dtype=np.int64)
            self._row_of[kept] = np.arange(len(kept))
        self._session = onnx_session(graph, spin=kind == "tokenizer", threads=threads)
        self.input_names = [i.name for i in self._session.get_inputs()]

    def with_graph(self, graph: bytes, *, threads: int | None = None) -> OnnxClassifier:
        """A new classifier with this one's preprocessing, labels and post-processing and
        another ``graph`` (one that takes the same inputs, e.g. a quantized one); ``self`` is
        left as it was."""
        clone = copy.copy(self)
        clone.graph = graph
        clone._session = onnx_session(graph, spin=self._subwords is not None, threads=threads)
        clone.input_names = [i.name for i in clone._session.get_inputs()]
        return clone

    @classmethod
    def load(cls, path: str | Path, *, threads: int | None = None) -> OnnxClassifier:
        """Load a model directory written by export/quantize, or ``model.onnx`` with its
        ``model.preprocessing.json`` beside it."""
        path = Path(path)
        if path.suffix == ".onnx":
            return cls._load_file(path, threads)
        return cls.from_files(read_model_dir(path), threads=threads)

    @classmethod
    def from_files(cls, files: ModelFiles, *, threads: int | None = None) -> OnnxClassifier:
        """The classifier of a model directory already read (and verified) by
        :func:`~modelcycle.artifacts.read_model_dir`; serving reads its ``model.json`` too."""
        path = files.path
        graph = files.graphs.get("model.onnx")
        if graph is None:
            raise ArtifactError(
                f"{path}: no model.onnx; export it first with `modelcycle export {path} -o DIR`"
            )
        try:
            return cls(
                graph=graph,
                classes=files.meta["labels"],
                preprocessing=files.meta["preprocessing"],
                tensors=files.tensors,
                vocabulary=vocabulary_words(files.documents.get("vocabulary", "")),
                precision=files.meta.get("precision", "fp32"),
                postprocess=files.meta.get("postprocess"),
                threads=threads,
                tokenizer=files.documents.get("tokenizer"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{path}: not a valid ONNX model directory ({exc})") from exc

    @classmethod
    def _load_file(cls, path: Path, threads: int | None) -> OnnxClassifier:
        side = preprocessing_path(path)
        try:
            graph = path.read_bytes()
            document = json.loads(side.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ArtifactError(f"{exc.filename}: missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"{side}: cannot read ({exc})") from exc
        if not isinstance(document, dict) or document.get("format") != PREPROCESSING_FORMAT:
            raise ArtifactError(f"{side}: not a modelcycle ONNX preprocessing file")
        tokenizer = None
        if "tokenizer" in document:
            tokenizer = read_json(path.with_name(str(document["tokenizer"])))
        try:
            tensors = {
                name: np.asarray(values, dtype=np.dtype(document["dtypes"][name]))
                for name, values in document["arrays"].items()
            }
            return cls(
                graph=graph,
                classes=document["labels"],
                preprocessing=document["preprocessing"],
                tensors=tensors,
                vocabulary=document["vocabulary"],
                precision=document.get("precision", "fp32"),
                postprocess=document.get("postprocess"),
                threads=threads,
                tokenizer=tokenizer,
            )
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise ArtifactError(f"{side}: not valid ({exc})") from exc

    def inputs(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The graph's inputs for ``texts`` (the featurisation the model was trained with)."""
        texts = ["" if text is None else str(text) for text in texts]
        if self._outputs is not None:
            return {"text": np.asarray(texts, dtype=object)}
        if self._subwords is not None:
            return self._subwords.inputs(texts)
        extra = None if self._extra is None else self._extra.transform(texts)
        if self._ngrams is not None:
            indptr, indices, values = self._ngrams.transform_arrays(texts)
            return bag_inputs(indices, indptr, values, extra, self._ngrams.n_features)
        assert self._bags is not None
        ids, offsets = self._bags.encode(texts)
        if self._row_of is not None:
            rows = self._row_of[ids]
            kept = rows >= 0
            owner = np.repeat(np.arange(len(offsets)), np.diff(np.append(offsets, len(ids))))
            lengths = np.bincount(owner[kept], minlength=len(offsets))
            ids = rows[kept]
            offsets = np.zeros(len(offsets), dtype=np.int64)
            np.cumsum(lengths[:-1], out=offsets[1:])
        feeds = {"indices": ids.astype(np.int64), "offsets": offsets.astype(np.int64)}
        if extra is not None:
            feeds["extra"] = extra.astype(np.float32)
        return feeds

    def run(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        """The graph's probabilities (float32) for prepared inputs."""
        output: np.ndarray = self._session.run(self._outputs, dict(feeds))[0]
        return output

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape ``(len(texts), n_classes)``, columns in ``classes_`` order."""
        if isinstance(texts, str):
            raise TypeError("expected a list of texts, got a single string; wrap it in a list")
        if len(texts) == 0:
            return np.zeros((0, len(self.classes_)))
        if self._subwords is not None:
            proba = self._subword_proba(list(texts)).astype(np.float64)
        else:
            proba = self.run(self.inputs(texts)).astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def blocks(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The rows of ``texts`` that ``predict_proba`` runs through the graph together (a
        dynamic INT8 graph's answers depend on the batch: its activations' scale is the
        batch's): length-sorted blocks for a transformer, else all of them at once."""
        if self._subwords is None:
            return [np.arange(len(texts))]
        return self._subword_blocks(self._subwords.encode(list(texts)))

    @staticmethod
    def _subword_blocks(sequences: Sequence[Any]) -> list[np.ndarray]:
        return list(length_sorted_blocks(np.asarray([len(s) for s in sequences]), TOKENIZER_BATCH))

    def _subword_proba(self, texts: list[str]) -> np.ndarray:
        """A transformer's probabilities in length-sorted blocks: attention costs grow with
        the square of the padded length, and memory with the block."""
        assert self._subwords is not None
        sequences = self._subwords.encode(texts)
        proba = np.empty((len(texts), len(self.classes_)), dtype=np.float32)
        for block in self._subword_blocks(sequences):
            proba[block] = self.run(self._subwords.pad([sequences[i] for i in block]))
        return proba

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """The most probable label of each text."""
        return self.classes_[np.argmax(self.predict_proba(texts), axis=1)]


def onnx_session(graph: bytes, *, spin: bool = False, threads: int | None = None) -> Any:
    """An ONNX Runtime session of ``graph`` on the CPU (``threads``: ONNX Runtime's default
    when None; one for a graph with ScatterND, see below)."""
    try:
        import onnxruntime  # deferred: `import modelcycle` and `modelcycle --help` stay instant
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "ONNX models need onnxruntime, which is not installed; install it with "
            "`pip install 'modelcycle[onnx]'` (make install does)"
        ) from exc
    options = onnxruntime.SessionOptions()
    if b"ai.onnx.contrib" in graph:  # a transformer's text-input graph: its tokenizer operator
        from onnxruntime_extensions import get_library_path

        options.register_custom_ops_library(get_library_path())
    # Worker threads busy-wait between a transformer's ~100 operators, as waking a sleeping
    # thread for each costs more than the operator (INT8 MiniLM, batch 1: 1.7 ms against
    # 2.4 ms), and stop at the end of each run, so that they do not take the cores from the
    # preprocessing or from other sessions. A bag graph's few operators gain nothing.
    options.add_session_config_entry("session.intra_op.allow_spinning", str(int(spin)))
    options.add_session_config_entry("session.force_spinning_stop", str(int(spin)))
    if b"ScatterND" in graph:
        # ONNX Runtime's CPU ScatterND with reduction="add" races between its threads when an
        # index repeats (microsoft/onnxruntime#18048, #23396): a bag graph's sums lost entries
        # on large batches (an mlp's probability off by 0.19 in 5 of 98 batches of 256 IMDB
        # reviews). A graph that sums bags with it runs on one thread, and is exact.
        threads = 1
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ValueError(f"ONNX Runtime cannot load the graph ({exc})") from exc


def vocabulary_words(document: str | Sequence[str]) -> list[str]:
    """The words of a vocabulary document: a JSON list, or one string with a word per line."""
    if isinstance(document, str):
        return document.split("\n") if document else []
    return list(document)


def bag_inputs(
    indices: np.ndarray,
    indptr: np.ndarray,
    values: np.ndarray,
    extra: np.ndarray | None,
    n_columns: int,
) -> dict[str, np.ndarray]:
    """Rows of a CSR matrix (plus ``extra`` dense columns after the first ``n_columns``) as the
    graph's ``indices``, ``offsets`` and ``weights``."""
    n = len(indptr) - 1
    if extra is None or extra.shape[1] == 0:
        return {
            "indices": indices.astype(np.int64),
            "offsets": indptr[:-1].astype(np.int64),
            "weights": values.astype(np.float32),
        }
    k = extra.shape[1]
    lengths = np.diff(indptr)
    owner = np.concatenate([np.repeat(np.arange(n), lengths), np.repeat(np.arange(n), k)])
    order = np.argsort(owner, kind="stable")  # each text's n-grams, then its extra columns
    all_indices = np.concatenate([indices, np.tile(n_columns + np.arange(k), n)])[order]
    all_values = np.concatenate([values, extra.reshape(-1)])[order]
    offsets = np.zeros(n, dtype=np.int64)
    np.cumsum((lengths + k)[:-1], out=offsets[1:])
    return {
        "indices": all_indices.astype(np.int64),
        "offsets": offsets,
        "weights": all_values.astype(np.float32),
    }
