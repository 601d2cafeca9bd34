"""The pipeline tests' small run, to log it."""

from tests.pipeline.conftest import made_run, run_copy

__all__ = ["made_run", "run_copy"]
