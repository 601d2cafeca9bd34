"""``modelcycle train``: fit a model on labeled data and write a model directory."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from modelcycle.cli._common import (
    DataPath,
    LabeledData,
    Seed,
    Track,
    data_command,
    say,
)
from modelcycle.tracking import track as log_to_mlflow  # light: MLflow loads when used

Training = "Training (gradient-trained models)"

ModelOut = Annotated[Path, typer.Option("-o", "--out", help="Model directory to write.")]
Family = Annotated[
    str, typer.Option("--model", help="Model family: logreg, svm, nb, fasttext, mlp, transformer.")
]
Backbone = Annotated[
    str | None,
    typer.Option(
        help="transformer: a local Hugging Face model directory or a hub name "
        "(default: the packaged all-MiniLM-L6-v2)."
    ),
]
Freeze = Annotated[
    bool | None,
    typer.Option(
        "--freeze/--fine-tune",
        help="transformer: train the head on the frozen encoder's cached embeddings, "
        "or fine-tune it all (the default).",
    ),
]
Optimizer = Annotated[
    str | None,
    typer.Option(
        help="sgd, adam, rmsprop, adagrad (or adamw); for logreg/svm/nb, trains the "
        "linear model by gradient instead of its closed-form solver (which takes no training "
        "flags: --lr, --epochs, ... need --optimizer).",
        rich_help_panel=Training,
    ),
]
LearningRate = Annotated[
    float | None,
    typer.Option(help="Learning rate (default: the optimizer's).", rich_help_panel=Training),
]
OptionalInt = Annotated[int | None, typer.Option(rich_help_panel=Training)]
OptionalFloat = Annotated[float | None, typer.Option(rich_help_panel=Training)]
Schedule = Annotated[
    str | None,
    typer.Option(
        help="Learning-rate schedule: constant, linear, cosine.", rich_help_panel=Training
    ),
]
Warmup = Annotated[
    float | None,
    typer.Option(help="Share of the steps spent warming up.", rich_help_panel=Training),
]
Patience = Annotated[
    int | None,
    typer.Option(
        help="Early stopping: epochs without improvement on --val.", rich_help_panel=Training
    ),
]
ClipGrad = Annotated[
    float | None, typer.Option(help="Clip the gradient norm.", rich_help_panel=Training)
]
ClassWeight = Annotated[
    str | None,
    typer.Option(help="'balanced' weighs classes by inverse frequency.", rich_help_panel=Training),
]
Params = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="Any model parameter KEY=VALUE (repeatable), e.g. C=10."),
]
ValPath = Annotated[
    Path | None,
    typer.Option(help="Validation data: metrics, early stopping, the best epoch."),
]
Features = Annotated[
    str | None,
    typer.Option(
        help="Engineered features to add to the model's inputs, e.g. length,negations "
        "(see `modelcycle features`)."
    ),
]
Resume = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue a killed run from its newest checkpoint.",
        rich_help_panel=Training,
    ),
]
CheckpointDir = Annotated[
    Path | None,
    typer.Option(help="Where checkpoints go (default: OUT.checkpoints).", rich_help_panel=Training),
]
KeepCheckpoints = Annotated[
    bool,
    typer.Option(
        "--keep-checkpoints", help="Keep checkpoints after saving.", rich_help_panel=Training
    ),
]
CompareOptimizers = Annotated[
    bool,
    typer.Option(
        "--compare-optimizers",
        help="Train with sgd, adam, rmsprop and adagrad; write a model each and a comparison.",
        rich_help_panel=Training,
    ),
]
Device = Annotated[str, typer.Option(help="auto, cpu or cuda.", rich_help_panel=Training)]
Threads = Annotated[
    int | None, typer.Option(help="CPU threads for PyTorch.", rich_help_panel=Training)
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
Streaming = "Data larger than memory, several processes"
Stream = Annotated[
    bool | None,
    typer.Option(
        "--stream/--in-memory",
        help="Read DATA as a stream, block by block, or load it (default: stream a folder or glob "
        "of shards, or a file over 1 GiB, for fasttext).",
        show_default=False,
        rich_help_panel=Streaming,
    ),
]
ShuffleBuffer = Annotated[
    int | None,
    typer.Option(
        help="Streamed: rows shuffled together (default 50,000).", rich_help_panel=Streaming
    ),
]
CheckpointEvery = Annotated[
    int | None,
    typer.Option(
        help="Checkpoint every N steps within an epoch (streamed default: 1000).",
        rich_help_panel=Streaming,
    ),
]
Nproc = Annotated[
    int | None,
    typer.Option(
        help="Train data-parallel in N processes on this machine (launches torchrun).",
        rich_help_panel=Streaming,
    ),
]


@data_command
def train(
    ctx: typer.Context,
    data: DataPath,
    out: ModelOut,
    source: LabeledData,
    model: Family = "logreg",
    backbone: Backbone = None,
    freeze: Freeze = None,
    optimizer: Optimizer = None,
    lr: LearningRate = None,
    epochs: OptionalInt = None,
    batch_size: OptionalInt = None,
    weight_decay: OptionalFloat = None,
    momentum: OptionalFloat = None,
    schedule: Schedule = None,
    warmup: Warmup = None,
    patience: Patience = None,
    clip_grad: ClipGrad = None,
    class_weight: ClassWeight = None,
    param: Params = None,
    val: ValPath = None,
    features: Features = None,
    resume: Resume = False,
    checkpoint_dir: CheckpointDir = None,
    keep_checkpoints: KeepCheckpoints = False,
    compare_all: CompareOptimizers = False,
    device: Device = "auto",
    threads: Threads = None,
    stream: Stream = None,
    shuffle_buffer: ShuffleBuffer = None,
    checkpoint_every: CheckpointEvery = None,
    nproc: Nproc = None,
    quiet: Quiet = False,
    seed: Seed = 42,
    track: Track = None,
) -> None:
    """Train a model on labeled text and save it as a model directory. DATA may be a folder or
    glob of shards, streamed. Runs data-parallel on several processes, GPUs or machines under
    torchrun (torchrun ... -m modelcycle train ..., or --nproc N on one machine).

    Example: modelcycle train reviews.csv --text review_text --label sentiment -o model/

    Example: modelcycle train 'shards/*.parquet' --model fasttext --nproc 2 -o model/
    """
    from modelcycle.config import TrainConfig  # deferred, as every library import: fast --help
    from modelcycle.training import compare_optimizers, launch, open_training_data, train_and_save

    if nproc is not None:  # this very command in N processes, under torchrun
        launch(sys.argv[1:], nproc)
        return
    config = TrainConfig.from_flags(ctx.params)  # the model, seed, device and training flags
    dataset, val_set = open_training_data(data, config, val=val, **vars(source))
    run = run_flags(ctx.params)  # checkpoints, progress, and torchrun's context (None: alone)
    if compare_all:  # a model per optimiser, written, then their table
        comparison, fits = compare_optimizers(dataset, config, val_set, progress=run["progress"])
        typer.echo(comparison.summary(comparison.write(out, fits, dataset.source)))
        return
    result = train_and_save(dataset, config, out, val=val_set, **run)
    if run["distributed"] is None or run["distributed"].is_main:
        say(None if quiet else result.best_epoch())
        typer.echo(result.summary(out))
        say(log_to_mlflow(track, "train", out, {"data": data, "train": config}))


def run_flags(flags: Mapping[str, Any]) -> dict[str, Any]:
    """``train_and_save``'s run options from the command's flags: checkpoints, progress (none
    with --quiet, else a bar on a terminal) and, under torchrun, the process's context."""
    from modelcycle.training import from_environment

    return {
        "resume": flags["resume"],
        "checkpoint_dir": flags["checkpoint_dir"],
        "keep_checkpoints": flags["keep_checkpoints"],
        "progress": False if flags["quiet"] else None,
        "distributed": from_environment(os.environ),
    }
