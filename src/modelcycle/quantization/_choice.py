"""The one rule that names a variant (``--max-accuracy-drop``): the smallest, then fastest,
within the accuracy budget. The table's ``choice``, the pipeline's run page and ``modelcycle
run`` all name their variant by it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["choose", "pick_variant", "rule_text", "size_text"]


def pick_variant(rows: Sequence[Mapping[str, Any]], max_drop: float | None) -> Mapping[str, Any]:
    """The smallest (then fastest) of ``rows`` within ``max_drop`` points of FP32's accuracy
    (any row when None); a row needs ``size_bytes``, ``latency_ms_p50`` and ``accuracy_delta``.
    FP32 itself is always within."""
    within = [r for r in rows if max_drop is None or -100 * r["accuracy_delta"] <= max_drop + 1e-9]
    return min(within, key=lambda r: (r["size_bytes"], r["latency_ms_p50"]))


def rule_text(max_drop: float | None) -> str:
    """The rule in words: ``smallest variant within 0.5 accuracy points of FP32``."""
    if max_drop is None:
        return "smallest variant"
    return f"smallest variant within {max_drop:g} accuracy points of FP32"


def choose(rows: Sequence[Mapping[str, Any]], max_drop: float | None) -> dict[str, Any] | None:
    """The table's ``choice`` (precision, path and reason), or None when no budget was given."""
    if max_drop is None:
        return None
    best = pick_variant(rows, max_drop)
    reason = (
        f"{best['precision']} is the {rule_text(max_drop)}: "
        f"{size_text(best['size_bytes'])} ({best['size_ratio']:.0%} of FP32), "
        f"{best['speedup']:.2f}x the speed, accuracy {best['accuracy']:.4f} "
        f"({100 * best['accuracy_delta']:+.2f} points)"
    )
    return {"precision": best["precision"], "path": best["path"], "reason": reason}


def size_text(n: int) -> str:
    """Bytes as ``1.23 MB``, ``4.56 KB`` or ``789 B``."""
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"
