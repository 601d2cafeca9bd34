"""Experiment tracking in MLflow (the ``tracking`` extra): what modelcycle wrote, logged where
teams keep their experiments.

- :func:`log_run`: a run directory as one parent MLflow run (the resolved config flattened as
  params, headline metrics, the run page and manifest, tags: data SHA-256, git commit) with a
  child run per stage (its config section, its metrics, per-epoch training history as steps,
  its reports as artifacts; the model as an MLflow ``pyfunc`` model).
- :func:`track`: what one command (``train``, ``evaluate``, ``select``) wrote, as one run.

The model is logged as MLflow "models from code" (:mod:`modelcycle.tracking.pyfunc_model`):
MLflow stores the code file and the model directory, and ``load_context`` reads the directory
with modelcycle's safe loader (safetensors, JSON, SHA-256 manifest). Nothing is pickled: not the
model, not even the wrapper, which holds no model state until ``load_context``.

MLflow is imported when a function here runs, so that the rest of modelcycle starts without it.
"""

from modelcycle.tracking._log import flatten, log_run, track

__all__ = ["flatten", "log_run", "track"]
