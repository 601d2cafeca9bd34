"""modelcycle: labeled text through every stage of a model's life.

The public API, imported lazily so that ``import modelcycle`` (and ``modelcycle --help``) stays
instant::

    import modelcycle as mc

    data = mc.load_dataset("reviews.csv", text="review_text", label="sentiment")
    mc.profile(data).write("eda/")            # eda.html and eda.json: what is in the data
    parts = mc.split_dataset(data, mc.SplitConfig(test=0.2, val=0.1, seed=42))
    result = mc.train(parts.train, mc.TrainConfig(model="logreg"), val=parts.val)
    result.save("model/")
    mc.evaluate(mc.load_model("model/"), parts.test).write("eval/")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from modelcycle._version import __version__

if TYPE_CHECKING:
    from modelcycle.cleaning import CleanReport, clean
    from modelcycle.config import (
        CleanConfig,
        DataConfig,
        EvalConfig,
        PipelineConfig,
        QuantizeConfig,
        SplitConfig,
        TrainConfig,
        load_config,
    )
    from modelcycle.data import Dataset, load_dataset
    from modelcycle.eda import EdaReport, profile
    from modelcycle.evaluation import CompareReport, EvalReport, calibrate_model, compare, evaluate
    from modelcycle.exceptions import (
        ArtifactError,
        ConfigError,
        DataError,
        ModelcycleError,
        NotFittedError,
        SchemaError,
    )
    from modelcycle.export import export_model
    from modelcycle.models import load_model, make_model, save_model
    from modelcycle.pipeline import RunResult, run
    from modelcycle.prediction import Predictions, predict, predict_file
    from modelcycle.quantization import QuantizationTable, quantize
    from modelcycle.runtime import OnnxClassifier
    from modelcycle.serving import ServeSettings, create_app
    from modelcycle.split import Splits, split_dataset
    from modelcycle.training import TrainResult, train

_EXPORTS = {
    "ArtifactError": "modelcycle.exceptions",
    "CleanConfig": "modelcycle.config",
    "CleanReport": "modelcycle.cleaning",
    "CompareReport": "modelcycle.evaluation",
    "ConfigError": "modelcycle.exceptions",
    "DataConfig": "modelcycle.config",
    "DataError": "modelcycle.exceptions",
    "Dataset": "modelcycle.data",
    "EdaReport": "modelcycle.eda",
    "EvalConfig": "modelcycle.config",
    "EvalReport": "modelcycle.evaluation",
    "ModelcycleError": "modelcycle.exceptions",
    "NotFittedError": "modelcycle.exceptions",
    "OnnxClassifier": "modelcycle.runtime",
    "PipelineConfig": "modelcycle.config",
    "Predictions": "modelcycle.prediction",
    "QuantizationTable": "modelcycle.quantization",
    "QuantizeConfig": "modelcycle.config",
    "RunResult": "modelcycle.pipeline",
    "SchemaError": "modelcycle.exceptions",
    "ServeSettings": "modelcycle.serving",
    "SplitConfig": "modelcycle.config",
    "Splits": "modelcycle.split",
    "TrainConfig": "modelcycle.config",
    "TrainResult": "modelcycle.training",
    "calibrate_model": "modelcycle.evaluation",
    "clean": "modelcycle.cleaning",
    "compare": "modelcycle.evaluation",
    "create_app": "modelcycle.serving",
    "evaluate": "modelcycle.evaluation",
    "export_model": "modelcycle.export",
    "load_config": "modelcycle.config",
    "load_dataset": "modelcycle.data",
    "load_model": "modelcycle.models",
    "make_model": "modelcycle.models",
    "predict": "modelcycle.prediction",
    "predict_file": "modelcycle.prediction",
    "profile": "modelcycle.eda",
    "quantize": "modelcycle.quantization",
    "run": "modelcycle.pipeline",
    "save_model": "modelcycle.models",
    "split_dataset": "modelcycle.split",
    "train": "modelcycle.training",
}

__all__ = [
    "ArtifactError",
    "CleanConfig",
    "CleanReport",
    "CompareReport",
    "ConfigError",
    "DataConfig",
    "DataError",
    "Dataset",
    "EdaReport",
    "EvalConfig",
    "EvalReport",
    "ModelcycleError",
    "NotFittedError",
    "OnnxClassifier",
    "PipelineConfig",
    "Predictions",
    "QuantizationTable",
    "QuantizeConfig",
    "RunResult",
    "SchemaError",
    "ServeSettings",
    "SplitConfig",
    "Splits",
    "TrainConfig",
    "TrainResult",
    "__version__",
    "calibrate_model",
    "clean",
    "compare",
    "create_app",
    "evaluate",
    "export_model",
    "load_config",
    "load_dataset",
    "load_model",
    "make_model",
    "predict",
    "predict_file",
    "profile",
    "quantize",
    "run",
    "save_model",
    "split_dataset",
    "train",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'modelcycle' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
