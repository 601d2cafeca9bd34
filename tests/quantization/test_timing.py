"""Timing: the variants take turns of several texts, then one batch each."""

import itertools
from typing import Any

import numpy as np

from modelcycle.config import QuantizeConfig
from modelcycle.quantization._timing import TURN_TEXTS, time_variants


def test_variants_are_timed_in_turns_of_several_texts() -> None:
    calls: list[str] = []

    class Recorder:  # a variant: logs each run of its graph, end to end or alone
        def __init__(self, name: str) -> None:
            self.name = name

        def inputs(self, texts: list[str]) -> list[str]:
            return texts

        def run(self, feed: Any) -> None:
            calls.append(self.name)

        def predict_proba(self, texts: list[str]) -> np.ndarray:
            calls.append(self.name)
            return np.zeros((len(texts), 2))

    texts = [f"text {i}" for i in range(2 * TURN_TEXTS + 5)]
    variants: Any = {"fp32": Recorder("fp32"), "int8": Recorder("int8")}
    timings = time_variants(variants, texts, texts, QuantizeConfig(batch_size=len(texts)))
    streaks = [(name, len(list(run))) for name, run in itertools.groupby(calls)]
    # a turn: one untimed run, then its texts end to end and graph alone; then one batch each
    turn, last = 1 + 2 * TURN_TEXTS, 1 + 2 * 5
    assert streaks == [
        ("fp32", turn), ("int8", turn), ("fp32", turn), ("int8", turn),
        ("fp32", last), ("int8", last), ("fp32", 1), ("int8", 1),
    ]  # fmt: skip
    assert set(timings) == {"fp32", "int8"}
