"""Subword tokenisation for the transformer family, shared by training and serving.

The Rust ``tokenizers`` library reads the backbone's ``tokenizer.json`` (normaliser, WordPiece or
BPE model, ``[CLS] … [SEP]`` template) and encodes batches in parallel; this module only
truncates to ``max_length`` and pads a batch to its longest text (dynamic padding). It imports
numpy and tokenizers only, so serving runs it without PyTorch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modelcycle.exceptions import ConfigError

__all__ = ["SubwordTokenizer", "length_sorted_blocks"]


class SubwordTokenizer:
    """Texts → token ids (truncated to ``max_length``) → padded ``input_ids``/``attention_mask``.

    Example::

        tokenizer = SubwordTokenizer(json_text, max_length=128, pad_id=0)
        tokenizer.inputs(["a good film", "bad"])["input_ids"].shape   # (2, 5)
    """

    def __init__(
        self, definition: str | Mapping[str, Any], *, max_length: int, pad_id: int
    ) -> None:
        try:
            from tokenizers import Tokenizer
        except ModuleNotFoundError as exc:
            raise ConfigError(
                "the transformer family needs tokenizers, which is not installed; install it "
                "with `pip install 'modelcycle[transformer]'` (make install does)"
            ) from exc
        text = definition if isinstance(definition, str) else json.dumps(definition)
        try:
            self._tokenizer = Tokenizer.from_str(text)
        except Exception as exc:  # tokenizers raises a bare Exception on a bad definition
            raise ConfigError(f"not a valid tokenizer.json ({exc})") from exc
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length)
        self.definition = json.loads(text)
        self.max_length = max_length
        self.pad_id = pad_id

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The token ids of each text (special tokens included, at most ``max_length``)."""
        encodings = self._tokenizer.encode_batch(["" if t is None else str(t) for t in texts])
        return [np.asarray(e.ids, dtype=np.int64) for e in encodings]

    def pad(self, sequences: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """``input_ids`` and ``attention_mask`` (int64, [n, longest]) of token-id sequences."""
        longest = max((len(s) for s in sequences), default=0)
        ids = np.full((len(sequences), longest), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(sequences), longest), dtype=np.int64)
        for row, sequence in enumerate(sequences):
            ids[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = 1
        return {"input_ids": ids, "attention_mask": mask}

    def inputs(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The encoder's inputs for ``texts``, padded to the longest."""
        return self.pad(self.encode(texts))

    def words(self) -> list[str]:
        """Whole-word tokens of the vocabulary (no ``##`` pieces, no ``[special]`` tokens)."""
        vocab = self._tokenizer.get_vocab()
        return sorted(w for w in vocab if w.isalpha() and not w.startswith("##"))


def length_sorted_blocks(lengths: np.ndarray, block: int) -> list[np.ndarray]:
    """Row indices in blocks of ``block`` with texts of similar length together (the longest
    first), so that padding is short; a caller puts results back with the indices."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + block] for i in range(0, len(order), block)]
