"""The transformer family's ONNX graph: the encoder traced by ``torch.onnx.export``.

Inputs ``input_ids`` and ``attention_mask`` (int64, [batch, sequence], both axes dynamic) come
from the backbone's tokenizer (:mod:`modelcycle.tokenizer`, saved beside the graph); the output
is ``probabilities`` float32 [batch, classes]. The traced graph is then fused by ONNX Runtime's
transformer optimizer (attention, LayerNorm, GELU, embeddings into single nodes), which makes
both FP32 and INT8 faster on the CPU; the fused graph is kept only when it passes the same
parity check as every export.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from modelcycle.export._graph import OUTPUT

if TYPE_CHECKING:
    import onnx

    from modelcycle.models import ModelState

__all__ = ["TRANSFORMER_INPUTS", "TransformerNet", "optimize_transformer", "quiet_onnx_tools"]

TRANSFORMER_INPUTS = ["input_ids", "attention_mask"]
OPSET = 17


@dataclass(frozen=True)
class TransformerNet:
    """A fitted transformer classifier's saved state, ready to be traced to ONNX."""

    state: ModelState

    @property
    def layer_names(self) -> list[str]:
        return ["encoder", "head"]

    @property
    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = self.state.documents["config"]
        return config

    def input_names(self) -> list[str]:
        return list(TRANSFORMER_INPUTS)

    def weight_bytes(self) -> int:
        return sum(int(np.asarray(a).size) * 4 for a in self.state.tensors.values())

    def to_onnx(
        self, codecs: Mapping[str, str] | None = None, *, metadata: Mapping[str, str] = {}
    ) -> onnx.ModelProto:
        """The FP32 graph (``codecs`` other than fp32 are quantization's to apply)."""
        import onnx
        import torch  # deferred, with the torch family below: only tracing needs torch

        from modelcycle.models.transformer import EncoderClassifier, Probabilities

        if any(codec != "fp32" for codec in (codecs or {}).values()):
            raise ValueError("transformer graphs are exported in fp32; quantize them after")
        module = EncoderClassifier.from_arrays(
            self.config, len(self.state.classes), dict(self.state.tensors), attention="eager"
        )
        wrapped = Probabilities(module).eval()
        # a padded example, so that the trace keeps the attention mask's path
        ids = torch.tensor([[2, 5, 6, 7, 3], [2, 5, 3, 0, 0]], dtype=torch.long)
        mask = (ids != 0).long()
        buffer = io.BytesIO()
        axes = {
            "input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
        }
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's advice about Python booleans
            torch.onnx.export(
                wrapped,
                (ids, mask),
                buffer,  # type: ignore[arg-type]  # a file object is accepted
                input_names=TRANSFORMER_INPUTS,
                output_names=[OUTPUT],
                dynamic_axes={**axes, OUTPUT: {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
        model = onnx.load_from_string(buffer.getvalue())
        for key, value in metadata.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        return model


@contextlib.contextmanager
def quiet_onnx_tools() -> Iterator[None]:
    """ONNX Runtime's and onnxconverter-common's tools log advice to the root logger and warn;
    silence both while they run."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def optimize_transformer(graph: bytes, config: Mapping[str, Any]) -> bytes:
    """ONNX Runtime's transformer optimizer (``model_type`` bert): fused attention, LayerNorm,
    GELU and embeddings. Returns ``graph`` unchanged for architectures it does not know."""
    import onnx
    from onnxruntime.transformers.optimizer import optimize_model

    if config.get("model_type") not in ("bert", "roberta", "distilbert", "xlm-roberta"):
        return graph
    model_type = "bert" if config["model_type"] != "distilbert" else "distilbert"
    with quiet_onnx_tools():
        optimized = optimize_model(
            onnx.load_from_string(graph),
            model_type=model_type,
            num_heads=int(config.get("num_attention_heads", 0)),
            hidden_size=int(config.get("hidden_size", 0)),
            opt_level=1,
        )
    return bytes(optimized.model.SerializeToString())
