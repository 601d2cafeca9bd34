"""The whole lifecycle in one call: eda → clean → split → train → evaluate → predict →
quantize, in one run directory, each stage skipped while its inputs and config are unchanged.

A run directory holds::

    run.json               what ran: rows, timings per stage, headline metrics, how to serve
    config.json            the resolved config (re-run it with `modelcycle run config.json`)
    stages/<stage>.json    each stage's record: SHA-256 of its inputs and outputs, its config
    eda/                   eda.json and eda.html: the data report of the loaded data
    clean/                 clean_report.json, removed.csv, changed.csv and the cleaned data
    data/                  train.csv, val.csv, test.csv and split.json (rows per label per part)
    model/                 the trained model directory
    evaluation/            metrics.json and evaluation.html on the test part
    predictions.csv        the test part with predicted label and per-class scores
    quantized/             with [quantize] enabled: the variants and quantization.md
    index.html             the run page: every stage's headline, linking its full report
    manifest.json          every file with its SHA-256, the config, package versions, machine

:func:`verify_run` checks a run against its manifest; :func:`list_runs` and
:func:`compare_runs` put runs side by side.
"""

from modelcycle.pipeline._demo import demo_config
from modelcycle.pipeline._manifest import RunCheck, verify_run
from modelcycle.pipeline._run import LEFT_OUT, RUNNING, UNCHANGED, RunResult, run
from modelcycle.pipeline._runs import RunsComparison, compare_runs, list_runs, runs_table
from modelcycle.pipeline._summary import smallest_variant

__all__ = [
    "LEFT_OUT",
    "RUNNING",
    "UNCHANGED",
    "RunCheck",
    "RunResult",
    "RunsComparison",
    "compare_runs",
    "demo_config",
    "list_runs",
    "run",
    "runs_table",
    "smallest_variant",
    "verify_run",
]
