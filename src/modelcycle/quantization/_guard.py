"""The INT8 guardrail: each candidate graph scored against FP32 on a sample of texts (labels
unused), the schemes tried in order, and the one kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelcycle.config import QuantizeConfig
from modelcycle.export import OnnxVariant
from modelcycle.quantization._ort import weight_bytes
from modelcycle.runtime import OnnxClassifier

__all__ = ["Built", "Guard", "Trials"]


@dataclass(frozen=True)
class Built:
    """A variant before it is measured: the model files, how it was made and computes."""

    name: str
    variant: OnnxVariant
    method: str
    compute: str
    attempts: tuple[dict[str, Any], ...] = ()


class Guard:
    """Scores a candidate INT8 graph against FP32 on the guardrail texts."""

    def __init__(
        self, fp32: OnnxClassifier, texts: list[str], config: QuantizeConfig, source: OnnxVariant
    ) -> None:
        self.fp32 = fp32
        self.source = source
        self.texts = texts
        self.config = config
        self.reference = fp32.predict_proba(texts) if texts else np.zeros((0, 0))
        self.fp32_weights = weight_bytes(fp32.graph)

    def candidate(self, graph: bytes) -> OnnxClassifier:
        """FP32's classifier with ``graph`` instead, on one thread (as the guardrail scores)."""
        return self.fp32.with_graph(graph, threads=1)

    def score(self, graph: bytes) -> tuple[float, float]:
        """``(agreement, max_abs_diff)`` of ``graph`` with FP32 on the texts."""
        if not self.texts:
            return 1.0, 0.0
        proba = self.candidate(graph).predict_proba(self.texts)
        same = np.argmax(proba, axis=1) == np.argmax(self.reference, axis=1)
        return float(same.mean()), float(np.abs(proba - self.reference).max())

    def attempt(self, method: str, graph: bytes, **info: Any) -> dict[str, Any]:
        """The record of one scheme: its agreement, difference, weight ratio and verdict."""
        agreement, diff = self.score(graph)
        ratio = weight_bytes(graph) / self.fp32_weights
        passed = agreement >= self.config.min_agreement and ratio <= self.config.max_weight_ratio
        return {
            "method": method,
            "agreement": round(agreement, 4),
            "max_abs_diff": round(diff, 6),
            "weight_ratio": round(ratio, 4),
            "passed": passed,
            **info,
        }

    def summary(self, built: list[Built]) -> dict[str, Any]:
        """``quantization.json``'s ``guardrail``: the rule and every variant's attempts."""
        tried = {b.name: list(b.attempts) for b in built if b.attempts}
        lines = []
        for name, attempts in tried.items():
            kept = next((a for a in attempts if a.get("kept")), attempts[-1])
            steps = " → ".join(
                f"{a['method']} ({a['agreement']:.2%} agreement, {a['weight_ratio']:.0%} size)"
                for a in attempts
            )
            verdict = "met" if kept["passed"] else "MISSED"
            lines.append(f"{name}: {steps}; kept {kept['method']} (guardrail {verdict})")
        rule = (
            f"INT8 guardrail: agreement with FP32 >= {self.config.min_agreement:.0%} on "
            f"{len(self.texts)} texts (labels unused) and weights <= "
            f"{self.config.max_weight_ratio:.0%} of FP32's"
        )
        return {
            "min_agreement": self.config.min_agreement,
            "max_weight_ratio": self.config.max_weight_ratio,
            "texts": len(self.texts),
            "attempts": tried,
            "summary": rule + (". " + "; ".join(lines) if lines else ""),
        }


class Trials:
    """The schemes tried for one INT8 variant, in order, and the one kept."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.attempts: list[dict[str, Any]] = []
        self.graphs: list[bytes] = []

    def attempt(self, method: str, graph: bytes, **info: Any) -> bool:
        """Score ``graph`` and record it; whether it passed the guardrail."""
        self.attempts.append(self.guard.attempt(method, graph, **info))
        self.graphs.append(graph)
        return bool(self.attempts[-1]["passed"])

    def keep(self) -> tuple[bytes, dict[str, Any], str]:
        """The first scheme that passed, else the closest within the weight budget (marked
        ``kept``): its graph, its record and how it was made."""
        passing = [i for i, a in enumerate(self.attempts) if a["passed"]]
        index = passing[0] if passing else self._best_within()
        chosen = self.attempts[index]
        chosen["kept"] = True
        verdict = "" if chosen["passed"] else " (guardrail missed: the closest scheme kept)"
        return self.graphs[index], chosen, chosen["method"] + verdict

    def _best_within(self) -> int:
        attempts, max_ratio = self.attempts, self.guard.config.max_weight_ratio
        within = [i for i, a in enumerate(attempts) if a["weight_ratio"] <= max_ratio]
        candidates = within or list(range(len(attempts)))
        return max(candidates, key=lambda i: attempts[i]["agreement"])
