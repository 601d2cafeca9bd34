"""The table that measures the variants, and its report: ``quantization.json``, ``.md`` and
``.png``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelcycle._figures import new_figure, png_bytes
from modelcycle._io import write_json, write_text
from modelcycle.quantization._choice import size_text
from modelcycle.quantization._guard import Built
from modelcycle.quantization._ort import weight_bytes

__all__ = ["TABLE_FILE", "QuantizationTable", "measured_row"]

TABLE_FILE = "quantization.json"


@dataclass(frozen=True)
class QuantizationTable:
    """One row per variant, the machine it was measured on, and the pick under a budget."""

    rows: list[dict[str, Any]]
    device: str
    threads: int
    batch_size: int
    n: int
    choice: dict[str, Any] | None
    guardrail: dict[str, Any]
    source: dict[str, Any]

    def row(self, precision: str) -> dict[str, Any]:
        """The row of ``precision``."""
        return next(r for r in self.rows if r["precision"] == precision)

    def to_json(self) -> dict[str, Any]:
        """``quantization.json``'s content: every field, copied."""
        return asdict(self)

    def summary(self, out_dir: str | Path) -> str:
        """The table in Markdown without its plot, and what was written to ``out_dir``."""
        table = self.to_markdown().split("\n\n![")[0]
        written = f"{Path(out_dir) / TABLE_FILE}, quantization.md and a directory per variant"
        return f"{table}\n\nwrote {written}"

    def to_markdown(self) -> str:
        """The table as Markdown, with how each variant computes and the choice."""
        head = (
            "| precision | size | vs FP32 | weights vs FP32 | model dir | p50 ms | p95 ms | "
            f"texts/s (batch {self.batch_size}) | speed-up | graph p50 ms | graph speed-up | "
            "accuracy | Δ points | agreement |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        )
        lines = [
            f"| {r['precision']} | {size_text(r['size_bytes'])} | {r['size_ratio']:.1%} | "
            f"{r['weights_ratio']:.1%} | {size_text(r['dir_size_bytes'])} | "
            f"{r['latency_ms_p50']:.3f} | "
            f"{r['latency_ms_p95']:.3f} | {r['throughput_per_s']:,.0f} | {r['speedup']:.2f}x | "
            f"{r['model_latency_ms_p50']:.4f} | {r['model_speedup']:.2f}x | {r['accuracy']:.4f} | "
            f"{100 * r['accuracy_delta']:+.2f} | {r['agreement']:.2%} |"
            for r in self.rows
        ]
        how = "\n".join(
            f"- **{r['precision']}**: {r['method']}; {r['compute']}." for r in self.rows
        )
        choice = f"\n**Choice:** {self.choice['reason']}\n" if self.choice is not None else "\n"
        return (
            f"# Quantization of {self.source['family']} on {self.source['data']}\n\n"
            f"{self.n:,} test texts; {self.device}; {self.threads} threads. Latency: one text, "
            "text to probabilities (graph p50: the ONNX graph alone); throughput: batches of "
            f"{self.batch_size}; size: model.onnx (model dir: every file of the variant).\n\n"
            + head
            + "\n".join(lines)
            + "\n\n"
            + how
            + "\n"
            + choice
            + f"\n{self.guardrail['summary']}\n\n![accuracy against size and speed]"
            "(quantization.png)\n"
        )

    def write(self, out_dir: Path) -> None:
        """``quantization.json``, ``quantization.md`` and ``quantization.png`` in ``out_dir``."""
        write_json(out_dir / TABLE_FILE, self.to_json())
        write_text(out_dir / "quantization.md", self.to_markdown())
        (out_dir / "quantization.png").write_bytes(_plot(self))


def measured_row(
    item: Built,
    root: Path,
    fp32: Built,
    accuracy: dict[str, float],
    predictions: dict[str, np.ndarray],
    timings: dict[str, dict[str, float]],
    n: int,
) -> dict[str, Any]:
    """The table's row of ``item``, written under ``root``, against ``fp32``'s (speed-ups are
    filled in once every row is measured)."""
    size = (root / item.name / "model.onnx").stat().st_size
    base = (root / "fp32" / "model.onnx").stat().st_size
    weights = weight_bytes(item.variant.graph)
    base_weights = weight_bytes(fp32.variant.graph)
    directory = _dir_bytes(root / item.name)
    base_directory = _dir_bytes(root / "fp32")
    agreement = float((predictions[item.name] == predictions["fp32"]).mean()) if n else 1.0
    return {
        "precision": item.name,
        "size_bytes": size,
        "size_ratio": round(size / base, 4),
        "weights_bytes": weights,
        "weights_ratio": round(weights / base_weights, 4),
        "dir_size_bytes": directory,
        "dir_size_ratio": round(directory / base_directory, 4),
        **timings[item.name],
        "speedup": 1.0,
        "model_speedup": 1.0,
        "accuracy": accuracy[item.name],
        "accuracy_delta": round(accuracy[item.name] - accuracy[fp32.name], 6),
        "agreement": round(agreement, 6),
        "method": item.method,
        "compute": item.compute,
        "path": item.name,
    }


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _plot(table: QuantizationTable) -> bytes:
    figure = new_figure(10, 4, dpi=110)
    axes = figure.subplots(1, 2, sharey=True)
    for axis, key, label in (
        (axes[0], "size_bytes", "model.onnx size (bytes, log scale)"),
        (axes[1], "latency_ms_p50", "p50 latency for one text (ms)"),
    ):
        for row in table.rows:
            axis.scatter(row[key], row["accuracy"], s=60, color="#0969da", zorder=3)
            axis.annotate(
                row["precision"],
                (row[key], row["accuracy"]),
                textcoords="offset points",
                xytext=(6, 4),
            )
        axis.set_xlabel(label)
        axis.margins(x=0.15, y=0.1)  # room for the labels
        axis.grid(alpha=0.3)
    axes[0].set_xscale("log")
    axes[0].set_ylabel("test accuracy")
    figure.suptitle(f"Accuracy against size and speed ({table.source['family']})")
    figure.tight_layout()
    return png_bytes(figure)
