"""Quantization: FP32 → FP16 → INT8 variants of a model, and the table that measures them.

The blog's table (precision, size, speed, accuracy) *measured* on the user's model and test set.
Every variant is an ONNX model directory (``load_model``, ``evaluate``, ``predict`` and serving
read it), and each row says how it was made and how it computes:

- ``fp32``: the exported graph (parity with the model checked to 1e-4).
- ``fp16``: weights in float16. ONNX Runtime's CPU kernels mostly compute float16 by converting,
  so both ways are built and timed — float16 compute (onnxconverter-common) and float16 storage
  with float32 compute — and float16 compute is kept only when at least 10% faster; the row says
  which and by how much.
- ``int8``: ONNX Runtime dynamic INT8 behind an automatic guardrail (below); ``int8-static``
  the same with static calibration on ``calibrate`` texts.
- ``pruned`` and ``pq`` (fasttext): keep the ``prune_vocab`` rows of largest norm (through the
  layer that reads them), then product quantisation of the embedding table (FastText.zip,
  Joulin et al. 2016).

The INT8 guardrail tries, in order, ONNX Runtime's naive per-tensor quantization, per-channel
scales (tables per column, MatMul weights per output channel), per-row scales for tables, and a
sensitivity scan that keeps the most sensitive layers in FP32; the first scheme whose predictions
agree with FP32 on ``min_agreement`` of a sample of texts (no labels used) with weights at most
``max_weight_ratio`` of FP32's is kept. Every attempt is recorded in ``quantization.json``.

One module per concern: ``_quantize`` (the run), ``_table`` (the table and its report),
``_choice`` (the ``--max-accuracy-drop`` rule that names a variant), ``_guard`` (the INT8
guardrail), ``_bag`` and ``_transformer`` (each family's variants), ``_ort`` (the ONNX Runtime
calls), ``_pq`` (pruning and product quantisation) and ``_timing``.
"""

from modelcycle.quantization._choice import pick_variant, rule_text
from modelcycle.quantization._ort import weight_bytes
from modelcycle.quantization._pq import product_quantize, prune_rows
from modelcycle.quantization._quantize import quantize
from modelcycle.quantization._table import QuantizationTable

__all__ = [
    "QuantizationTable",
    "pick_variant",
    "product_quantize",
    "prune_rows",
    "quantize",
    "rule_text",
    "weight_bytes",
]
