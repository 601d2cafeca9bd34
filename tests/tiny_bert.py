"""A tiny randomly initialised BERT-shaped backbone, written as a Hugging Face model directory
(config.json, model.safetensors, tokenizer.json) so that tests never download anything."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import NEGATIVE, POSITIVE

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def make_tiny_backbone(
    directory: Path, *, seed: int = 0, dropout: float = 0.1, letters: bool = False
) -> Path:
    """Hidden 32, 2 layers, 2 heads; a WordPiece vocabulary of the test corpus' words (with
    ``letters``, also every ASCII letter and digit as a ``##`` piece, so that any such word is
    tokenizable, as with a real BERT vocabulary)."""
    import re

    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel

    words = sorted({w for text in POSITIVE + NEGATIVE for w in re.findall(r"\w+", text.lower())})
    pieces = ["##s", "##ed", "##ing", "##ly", ",", "!", ".", "-", "a", "e", "i", "o", "u"]
    if letters:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        pieces += [*alphabet, *(f"##{c}" for c in alphabet), "'", "?", "<", ">", "/"]
    tokens = SPECIAL + list(dict.fromkeys(words + pieces))
    vocab = {token: i for i, token in enumerate(tokens)}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=0,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(directory, safe_serialization=True)
    return directory
