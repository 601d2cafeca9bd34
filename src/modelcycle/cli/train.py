"""``modelcycle train``: fit a model on labeled data and write a model directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from modelcycle.cli._common import (
    DataPath,
    Encoding,
    LabelColumn,
    Seed,
    TextColumn,
    handle_errors,
    plural,
    say,
)

Training = "Training (gradient-trained models)"


@handle_errors
def train(
    data: DataPath,
    out: Annotated[Path, typer.Option("-o", "--out", help="Model directory to write.")],
    text: TextColumn = None,
    label: LabelColumn = None,
    model: Annotated[
        str,
        typer.Option("--model", help="Model family: logreg, svm, nb, fasttext, mlp, transformer."),
    ] = "logreg",
    backbone: Annotated[
        str | None,
        typer.Option(
            help="transformer: a local Hugging Face model directory or a hub name "
            "(default: the packaged all-MiniLM-L6-v2)."
        ),
    ] = None,
    freeze: Annotated[
        bool | None,
        typer.Option(
            "--freeze/--fine-tune",
            help="transformer: train the head on the frozen encoder's cached embeddings, "
            "or fine-tune it all (the default).",
        ),
    ] = None,
    optimizer: Annotated[
        str | None,
        typer.Option(
            help="sgd, adam, rmsprop, adagrad (or adamw); for logreg/svm/nb, trains the "
            "linear model by gradient instead of its closed-form solver.",
            rich_help_panel=Training,
        ),
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(help="Learning rate (default: the optimizer's).", rich_help_panel=Training),
    ] = None,
    epochs: Annotated[int | None, typer.Option(rich_help_panel=Training)] = None,
    batch_size: Annotated[int | None, typer.Option(rich_help_panel=Training)] = None,
    weight_decay: Annotated[float | None, typer.Option(rich_help_panel=Training)] = None,
    momentum: Annotated[float | None, typer.Option(rich_help_panel=Training)] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            help="Learning-rate schedule: constant, linear, cosine.", rich_help_panel=Training
        ),
    ] = None,
    warmup: Annotated[
        float | None,
        typer.Option(help="Share of the steps spent warming up.", rich_help_panel=Training),
    ] = None,
    patience: Annotated[
        int | None,
        typer.Option(
            help="Early stopping: epochs without improvement on --val.", rich_help_panel=Training
        ),
    ] = None,
    clip_grad: Annotated[
        float | None, typer.Option(help="Clip the gradient norm.", rich_help_panel=Training)
    ] = None,
    class_weight: Annotated[
        str | None,
        typer.Option(
            help="'balanced' weighs classes by inverse frequency.", rich_help_panel=Training
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", help="Any model parameter KEY=VALUE (repeatable), e.g. C=10."
        ),
    ] = None,
    val: Annotated[
        Path | None,
        typer.Option(help="Validation data: metrics, early stopping, the best epoch."),
    ] = None,
    features: Annotated[
        str | None,
        typer.Option(
            help="Engineered features to add to the model's inputs, e.g. length,negations "
            "(see `modelcycle features`)."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue a killed run from its newest checkpoint.",
            rich_help_panel=Training,
        ),
    ] = False,
    checkpoint_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where checkpoints go (default: OUT.checkpoints).", rich_help_panel=Training
        ),
    ] = None,
    keep_checkpoints: Annotated[
        bool,
        typer.Option(
            "--keep-checkpoints", help="Keep checkpoints after saving.", rich_help_panel=Training
        ),
    ] = False,
    compare_optimizers: Annotated[
        bool,
        typer.Option(
            "--compare-optimizers",
            help="Train with sgd, adam, rmsprop and adagrad; write a model each and a comparison.",
            rich_help_panel=Training,
        ),
    ] = False,
    device: Annotated[
        str, typer.Option(help="auto, cpu or cuda.", rich_help_panel=Training)
    ] = "auto",
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for PyTorch.", rich_help_panel=Training)
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    encoding: Encoding = "utf-8",
    seed: Seed = 42,
) -> None:
    """Train a model on labeled text and save it as a model directory. Runs data-parallel on
    several processes, GPUs or machines under torchrun (torchrun ... -m modelcycle train ...).

    Example: modelcycle train reviews.csv --text review_text --label sentiment -o model/
    """
    from modelcycle.config import TrainConfig, parse_assignments
    from modelcycle.data import load_dataset
    from modelcycle.engine.distributed import from_environment
    from modelcycle.training import compare_optimizers as compare
    from modelcycle.training import train_and_save

    flags: dict[str, Any] = {
        "optimizer": optimizer,
        "lr": lr,
        "epochs": epochs,
        "batch_size": batch_size,
        "weight_decay": weight_decay,
        "momentum": momentum,
        "schedule": schedule,
        "warmup": warmup,
        "patience": patience,
        "clip_grad": clip_grad,
        "class_weight": class_weight,
        "backbone": backbone,
        "freeze": freeze,
    }
    params = {k: v for k, v in flags.items() if v is not None} | parse_assignments(param or [])
    if features:
        params["features"] = [name.strip() for name in features.split(",") if name.strip()]
    config = TrainConfig(model=model, params=params, seed=seed, device=device, threads=threads)
    dataset = load_dataset(data, text=text, label=label, encoding=encoding)
    val_set = None
    if val is not None:
        val_set = load_dataset(val, text=dataset.text, label=dataset.label, encoding=encoding)
    cluster = from_environment(os.environ)  # set by torchrun; None when run alone
    progress = False if quiet else None
    if compare_optimizers:
        comparison, models = compare(dataset, config, val_set, progress=progress)
        comparison.write(out, models, dataset.source)
        typer.echo(comparison.to_markdown() + f"\nwrote {out}")
        return
    result = train_and_save(
        dataset,
        config,
        out,
        val=val_set,
        resume=resume,
        checkpoint_dir=checkpoint_dir,
        keep_checkpoints=keep_checkpoints,
        progress=progress,
        distributed=cluster,
    )
    if cluster is not None and not cluster.is_main:
        return
    if result.history and not quiet:
        best = result.history[-1].get("best_epoch") or len(result.history)
        say(f"best epoch {best} of {len(result.history)}")
    line = f"wrote {out} ({model}, {plural(result.rows, 'row')}, {result.seconds:.2f} s to train)"
    if result.val_metrics:
        line += f"; validation accuracy {result.val_metrics['val_accuracy']:.4f}"
    typer.echo(line)
