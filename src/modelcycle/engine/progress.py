"""A progress bar per epoch (rich): loss, validation metric, examples per second, time left.

Shown only on a terminal; quiet when output is redirected or when asked.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)


class EpochProgress:
    """Use as ``with EpochProgress(epochs, examples) as bar``, then ``bar.start(epoch)``,
    ``bar.advance(n, loss=..., speed=...)`` per batch and ``bar.finish(record)``."""

    def __init__(self, epochs: int, examples: int, *, enabled: bool | None = None) -> None:
        self.epochs = epochs
        self.examples = examples
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> EpochProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}"),
                TextColumn("{task.fields[val]}"),
                TextColumn("{task.fields[speed]:,.0f} ex/s"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(kind, value, traceback)

    def start(self, epoch: int) -> None:
        """Begin a bar for ``epoch`` (counted from 0)."""
        if self._progress is not None:
            self._task = self._progress.add_task(
                f"epoch {epoch + 1}/{self.epochs}", total=self.examples, loss=0.0, val="", speed=0.0
            )

    def advance(self, examples: int, **fields: Any) -> None:
        """Move the bar on by ``examples`` and update the shown ``loss``/``speed`` fields."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=examples, **fields)

    def finish(self, record: dict[str, Any]) -> None:
        """Show the epoch's final loss and validation metric."""
        if self._progress is not None and self._task is not None:
            val = {k: v for k, v in record.items() if k.startswith("val_") and v is not None}
            shown = "  ".join(f"{k} {v:.4f}" for k, v in val.items())
            self._progress.update(self._task, loss=record["loss"], val=shown)
