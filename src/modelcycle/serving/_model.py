"""The model a server answers with: an ONNX model directory, verified, loaded once and warmed up.

Only :mod:`modelcycle.artifacts` (the SHA-256 manifest), the ONNX predictor (whose preprocessing
is :mod:`modelcycle.features`, the code the model was trained with) and
:mod:`modelcycle.postprocess` are used, so that a serving image needs neither PyTorch nor
scikit-learn nor scipy.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelcycle._version import __version__
from modelcycle.artifacts import MANIFEST_FILE, read_model_dir
from modelcycle.exceptions import ArtifactError
from modelcycle.runtime import OnnxClassifier

__all__ = ["ServedModel"]

WARMUP_TEXTS = (
    "",
    "zzqx unknownword",
    "A wonderful film with a great cast, I loved it!",
    "A dull, tedious mess. I hated every minute of it... not recommended?",
)


class ServedModel:
    """An ONNX model directory ready to answer: ``predict`` returns one record per text.

    ``info`` is what answers carry (``name``, ``version``, ``precision``); ``version`` is the
    first 12 hex digits of the SHA-256 of the directory's manifest, so it names the exact files
    (weights, vocabulary, post-processing) that answered.

    Example::

        model = ServedModel.load("onnx_model/")
        model.predict(["I loved it"])   # [{'label': 'positive', 'scores': {...}}]
    """

    def __init__(
        self,
        classifier: OnnxClassifier,
        *,
        meta: dict[str, Any],
        name: str,
        version: str,
        path: Path | None = None,
    ) -> None:
        self.classifier = classifier
        self.meta = meta
        self.path = path
        self.classes: list[str] = [str(c) for c in classifier.classes_.tolist()]
        self._names = np.asarray(self.classes)
        self.info = {"name": name, "version": version, "precision": classifier.precision}

    @classmethod
    def load(cls, path: str | Path, *, threads: int = 1, name: str | None = None) -> ServedModel:
        """Verify (every file's SHA-256) and load an ONNX model directory, as written by
        ``modelcycle export MODEL -o DIR`` or ``modelcycle quantize``.

        A trained model's own directory is refused with the command that exports it: serving
        runs ONNX Runtime only, so that a serving image carries no training stack.
        """
        path = Path(path)
        if path.suffix == ".onnx" and path.is_file():
            raise ArtifactError(
                f"{path}: serving needs an ONNX model directory (verified by its manifest), "
                "not a bare .onnx file; write one with `modelcycle export MODEL -o DIR`"
            )
        files = read_model_dir(path)
        family = files.meta.get("family")
        if family != "onnx":
            raise ArtifactError(
                f"{path}: a {family!r} model directory; the server runs ONNX models only, so "
                f"that it needs no training stack: export it first with `modelcycle export "
                f"{path} -o {path.name}-onnx` and serve that directory"
            )
        classifier = OnnxClassifier.from_files(files, threads=threads)
        manifest = (path / MANIFEST_FILE).read_bytes()
        version = hashlib.sha256(manifest).hexdigest()[:12]
        return cls(
            classifier,
            meta=files.meta,
            name=name or path.resolve().name,
            version=version,
            path=path,
        )

    def predict(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """``{"label", "scores"}`` per text: the graph's probabilities, then the model's stored
        post-processing (temperature, threshold; :mod:`modelcycle.postprocess`), exactly as
        ``modelcycle predict`` applies it."""
        proba = self.classifier.predict_proba(list(texts))
        postprocess = self.classifier.postprocess
        if postprocess is not None:
            labels, scores = postprocess.apply(proba, self.classes)
        else:
            labels, scores = self._names[np.argmax(proba, axis=1)], proba
        classes = self.classes
        return [
            {"label": label, "scores": dict(zip(classes, row, strict=True))}
            for label, row in zip(labels.tolist(), scores.tolist(), strict=True)
        ]

    def warm_up(self, *, batch: int = 32, rounds: int = 20) -> float:
        """Run the model until its first-call costs are paid (ONNX Runtime's buffers and
        kernels, compiled regular expressions, polars' engine) for single texts, micro-batches
        of up to ``batch`` texts and large batches; returns the seconds it took."""
        start = time.perf_counter()
        texts = list(WARMUP_TEXTS)
        for _ in range(rounds):
            for text in texts:
                self.predict([text])
        for size in sorted({1, 2, 4, 8, 16, max(1, batch)}):
            self.predict((texts * (size // len(texts) + 1))[:size])
        self.predict((texts * 20)[:128])  # above 64 texts features tokenises with polars
        return time.perf_counter() - start

    def describe(self) -> dict[str, Any]:
        """What ``GET /v1/model`` answers: identity, labels, post-processing and provenance."""
        source = self.meta.get("source", {})
        return {
            **self.info,
            "family": "onnx",
            "source_family": source.get("family") if isinstance(source, dict) else None,
            "labels": self.classes,
            "postprocess": self.meta.get("postprocess"),
            "metrics": self.meta.get("metrics", {}),
            "created": self.meta.get("created"),
            "model_modelcycle_version": self.meta.get("modelcycle_version"),
            "server_modelcycle_version": __version__,
        }
