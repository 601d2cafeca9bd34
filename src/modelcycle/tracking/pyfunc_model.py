"""The MLflow ``pyfunc`` wrapper of a modelcycle model directory (MLflow "models from code").

MLflow copies this file next to the model directory when it logs the model, and runs it when
the model is loaded; ``load_context`` then reads the directory with modelcycle's strict loader.
The wrapper carries code only: no model state, and no pickle of anything.

``predict`` takes a DataFrame whose ``text`` column (else its first column) holds the texts, a
Series or a list of strings, and returns a DataFrame: ``label`` and one ``score_<label>`` per
label, as ``modelcycle predict`` writes them.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd  # type: ignore[import-untyped]
from mlflow.pyfunc import PythonModel, PythonModelContext

from modelcycle.models import TextClassifier, load_model
from modelcycle.prediction import predict

MODEL_DIR = "model_dir"  # the artifact's key


class ModelcyclePyfunc(PythonModel):
    """A modelcycle text classifier behind MLflow's ``pyfunc`` interface."""

    def load_context(self, context: PythonModelContext) -> None:
        """Load and verify the model directory that MLflow stored beside this file."""
        self.model_: TextClassifier = load_model(context.artifacts[MODEL_DIR])

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Labels and per-label scores of the input's texts."""
        if isinstance(model_input, pd.DataFrame):
            column = "text" if "text" in model_input.columns else model_input.columns[0]
            texts = model_input[column]
        else:
            texts = pd.Series(model_input)
        predictions = predict(self.model_, [str(t) for t in texts])
        return pd.DataFrame({"label": list(predictions.labels), **predictions.score_columns()})


mlflow.models.set_model(ModelcyclePyfunc())
