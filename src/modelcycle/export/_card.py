"""A text-input graph's parity check and its model card (``FILE.model_card.md``).

The card is what a user of the graph alone needs: its input and outputs, the labels in column
order, what the graph computes, how the model was trained, and what was measured (the parity
with modelcycle's own prediction, and any metrics stored with the model).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelcycle._version import __version__
from modelcycle.exceptions import ExportError
from modelcycle.postprocess import Postprocess
from modelcycle.runtime import onnx_session

__all__ = [
    "CARD_SUFFIX",
    "Expected",
    "card_path",
    "check_text_parity",
    "expected_outputs",
    "model_card",
    "run_text_graph",
]

CARD_SUFFIX = ".model_card.md"


def card_path(onnx_file: str | Path) -> Path:
    """Where ``model.onnx``'s card lives: ``model.model_card.md``."""
    onnx_file = Path(onnx_file)
    return onnx_file.with_name(onnx_file.name.removesuffix(".onnx") + CARD_SUFFIX)


def run_text_graph(
    graph: bytes, texts: Sequence[str], *, threads: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, probabilities)`` of a text-input graph on plain ONNX Runtime."""
    session = onnx_session(graph, threads=threads)
    labels, proba = session.run(None, {"text": np.asarray(list(texts), dtype=object)})
    return labels, proba


Expected = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Labels (strings), probabilities, and how far each text's decision is from changing."""


def expected_outputs(
    proba: np.ndarray, classes: Sequence[Any], postprocess: Postprocess | None
) -> Expected:
    """``(labels as strings, probabilities, margins)`` as ``modelcycle predict`` answers:
    ``proba`` after the stored temperature and threshold; a margin is the gap between the two
    most probable classes, or between the threshold and its label's probability."""
    rule = postprocess or Postprocess()
    names = [str(c) for c in classes]
    labels, calibrated = rule.apply(proba, names)
    if rule.threshold is not None:
        margins = np.abs(calibrated[:, names.index(rule.threshold.label)] - rule.threshold.value)
    elif calibrated.shape[1] > 1:
        top = np.sort(calibrated, axis=1)
        margins = top[:, -1] - top[:, -2]
    else:
        margins = np.full(len(calibrated), np.inf)
    return labels.astype(str), calibrated, margins


def check_text_parity(
    graph: bytes,
    texts: Sequence[str],
    expected: Expected,
    *,
    tolerance: float,
    what: str,
    blocks: Sequence[np.ndarray] | None = None,
) -> float:
    """The largest probability difference between the text-input ``graph`` and the
    ``expected`` outputs of ``what`` on ``texts``; an ExportError when it exceeds
    ``tolerance`` or a label differs (other than on a tie: a decision within ``tolerance``).
    ``blocks``: the rows ``what`` ran together, for the graph to run alike (a dynamic INT8
    network's answers depend on its batch); all of them at once by default."""
    labels, proba, margins = expected
    got_labels = np.empty(len(texts), dtype=object)
    got = np.empty_like(proba)
    session = onnx_session(graph)
    for block in [np.arange(len(texts))] if blocks is None else blocks:
        feed = np.asarray([texts[int(i)] for i in block], dtype=np.object_)
        got_labels[block], got[block] = session.run(None, {"text": feed})
    diff = float(np.abs(proba - got).max()) if len(texts) else 0.0
    wrong = np.flatnonzero((got_labels.astype(str) != labels) & (margins > tolerance))
    if not diff <= tolerance or len(wrong):
        where = f"; labels differ on {len(wrong)}, e.g. {texts[wrong[0]]!r}" if len(wrong) else ""
        raise ExportError(
            f"parity check failed: the text-input graph and {what} differ by up to {diff:.2e} "
            f"in probability on {len(texts)} texts (allowed {tolerance:.0e}){where}; "
            "nothing was written"
        )
    return diff


def model_card(
    *,
    name: str,
    family: str,
    classes: Sequence[str],
    preprocessing: Mapping[str, Any],
    params: Mapping[str, Any],
    postprocess: Mapping[str, Any] | None,
    parity: Mapping[str, Any],
    about: Mapping[str, Any] | None = None,
) -> str:
    """The Markdown card of a text-input graph ``name``."""
    about = about or {}
    labels = ", ".join(f"`{c}`" for c in classes)
    lines = [
        f"# {name}: a {family} text classifier",
        "",
        f"Exported by modelcycle {__version__}: one ONNX graph, texts in, labels and "
        "probabilities out; any ONNX Runtime (opset 20, with its `com.microsoft` and "
        "`ai.onnx.ml` operators) runs it without modelcycle.",
        "",
        "## Inputs and outputs",
        "",
        "| name | type | shape | meaning |",
        "|---|---|---|---|",
        "| `text` (input) | string | [n] | the texts, UTF-8 |",
        f"| `label` | string | [n] | the answer, one of {labels} |",
        f"| `probabilities` | float32 | [n, {len(classes)}] | one column per label, "
        f"in the order {labels} |",
        "",
        "## What the graph computes",
        "",
        *_steps(preprocessing, postprocess),
        "",
        "## How it was trained",
        "",
        f"- family: `{family}`",
        f"- parameters: `{json.dumps(dict(params), sort_keys=True, default=str)}`",
    ]
    for key, value in about.get("training", {}).items():
        lines.append(f"- {key}: `{json.dumps(value, default=str)}`")
    lines += ["", "## Measured", ""]
    lines.append(
        f"- parity with `modelcycle predict`: labels equal on all {parity['texts']} texts, "
        f"probabilities within {parity['max_abs_diff']:.1e}"
    )
    for key, value in about.get("metrics", {}).items():
        if isinstance(value, int | float | str):
            lines.append(f"- {key}: {value}")
    lines += ["", *_usage(name, extensions=preprocessing.get("kind") == "tokenizer")]
    return "\n".join(lines) + "\n"


def _steps(preprocessing: Mapping[str, Any], postprocess: Mapping[str, Any] | None) -> list[str]:
    kind = preprocessing.get("kind")
    tokens, tags = preprocessing.get("token_pattern"), preprocessing.get("tag_pattern")
    if kind == "tokenizer":
        return [
            "1. the backbone's WordPiece tokenizer (onnxruntime-extensions' `BertTokenizer`, "
            "domain `ai.onnx.contrib`: register `onnxruntime_extensions.get_library_path()` "
            f"in the session options), `[CLS] ... [SEP]`, at most {preprocessing['max_length']} "
            "tokens, padded to the longest text of the batch",
            "2. the encoder and its classification head, softmax",
            *_calibration(postprocess),
        ]
    steps = [
        "1. lower-case (`StringNormalizer`, locale C.UTF-8), find the tokens "
        f"`{tokens}` with HTML tags `{tags}` removed (`com.microsoft.Tokenizer`), map words to "
        "ids (`LabelEncoder`; unknown words break n-grams)",
    ]
    if kind == "ngrams":
        low, high = preprocessing["ngram_range"]
        steps.append(
            f"2. word {low}- to {high}-grams to columns, weighted `{preprocessing['weighting']}`"
            + (
                " (1 + ln tf) x idf, rows L2-normalised"
                if preprocessing["weighting"] == "tfidf"
                else ""
            )
        )
    else:
        steps.append(
            f"2. fastText bag: word ids and each 2- to {preprocessing['ngrams']}-gram hashed into "
            f"one of {preprocessing['buckets']:,} buckets (also n-grams training never saw, as "
            "modelcycle does)"
            + (", `</s>` ending every text" if preprocessing.get("end_token") else "")
        )
    steps.append("3. the network, then sigmoid or softmax")
    return [*steps, *_calibration(postprocess)]


def _calibration(postprocess: Mapping[str, Any] | None) -> list[str]:
    steps = []
    rule = postprocess or {}
    if rule.get("temperature", 1.0) != 1.0:
        steps.append(f"4. temperature {rule['temperature']} (calibration)")
    if rule.get("threshold"):
        threshold = rule["threshold"]
        steps.append(f"5. `{threshold['label']}` when its probability >= {threshold['value']}")
    return steps


def _usage(name: str, *, extensions: bool) -> list[str]:
    if extensions:
        return [
            "## Use",
            "",
            "Python (`pip install onnxruntime onnxruntime-extensions`):",
            "",
            "```python",
            "import numpy as np, onnxruntime as ort, onnxruntime_extensions",
            "options = ort.SessionOptions()",
            "options.register_custom_ops_library(onnxruntime_extensions.get_library_path())",
            f'session = ort.InferenceSession("{name}", options)',
            'labels, proba = session.run(None, {"text": np.array(["I loved it"], dtype=object)})',
            "```",
            "",
            "Any other runtime must register the onnxruntime-extensions library the same way.",
        ]
    return [
        "## Use",
        "",
        "Python (`pip install onnxruntime`):",
        "",
        "```python",
        "import numpy as np, onnxruntime as ort",
        "options = ort.SessionOptions()",
        "options.intra_op_num_threads = 1  # exact bag sums (see below)",
        f'session = ort.InferenceSession("{name}", options)',
        'labels, proba = session.run(None, {"text": np.array(["I loved it"], dtype=object)})',
        "```",
        "",
        "JavaScript (Node.js, `npm install onnxruntime-node`, in an ES module):",
        "",
        "```js",
        'import ort from "onnxruntime-node";',
        f'const session = await ort.InferenceSession.create("{name}", {{ intraOpNumThreads: 1 }});',
        'const text = new ort.Tensor("string", ["I loved it"], [1]);',
        "const { label, probabilities } = await session.run({ text });",
        "```",
        "",
        "One intra-op thread: the graph sums each text's bag with `ScatterND` "
        '(`reduction="add"`), which ONNX Runtime\'s CPU kernel runs racily on several threads '
        "when an index repeats (microsoft/onnxruntime#18048): sums can lose entries.",
    ]
