"""``modelcycle datasets``: list well-known public labeled text datasets and download them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from modelcycle._wording import plural
from modelcycle.cli._common import handle_errors, say

app = typer.Typer(
    name="datasets",
    help="Public labeled text datasets: list them, show one, download one as text,label files."
    "\n\nExample: modelcycle datasets list",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def default_cache() -> Path:
    """``$MODELCYCLE_CACHE/datasets``, else ``$XDG_CACHE_HOME/modelcycle/datasets``, else
    ``~/.cache/modelcycle/datasets``."""
    if os.environ.get("MODELCYCLE_CACHE"):
        return Path(os.environ["MODELCYCLE_CACHE"]) / "datasets"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "modelcycle" / "datasets"


@app.command(name="list")
@handle_errors
def list_datasets() -> None:
    """List the datasets: name, classes, rows, download size and licence.

    Example: modelcycle datasets list
    """
    from modelcycle.datasets import REGISTRY

    typer.echo(f"{'name':16} {'classes':>7} {'rows':>10} {'download':>9}  licence")
    for spec in REGISTRY.values():
        size = sum(s.size or 0 for s in spec.sources)
        shown = f"{size / 1e6:.1f} MB" if size else "?"
        typer.echo(
            f"{spec.name:16} {len(spec.classes):>7} {sum(spec.rows.values()):>10,} {shown:>9}  "
            f"{spec.licence}"
        )


@app.command(name="info")
@handle_errors
def info(name: Annotated[str, typer.Argument(help="Dataset name (see `datasets list`).")]) -> None:
    """Show a dataset's addresses, checksums, licence and citation.

    Example: modelcycle datasets info imdb
    """
    from modelcycle.datasets import lookup

    spec = lookup(name)
    typer.echo(f"{spec.name}: {spec.title}\n{spec.task}; classes: {', '.join(spec.classes)}")
    typer.echo(
        "files: " + ", ".join(f"{part} ({plural(rows, 'row')})" for part, rows in spec.rows.items())
    )
    for source in spec.sources:
        typer.echo(f"source: {source.url}\n  {source.checksum}")
    typer.echo(f"checksums from: {spec.checksum_source}")
    typer.echo(f"licence: {spec.licence}\ncitation: {spec.citation}\nhomepage: {spec.homepage}")


@app.command(name="download")
@handle_errors
def download(
    name: Annotated[str, typer.Argument(help="Dataset name (see `datasets list`).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Directory for the text,label files.")],
    cache: Annotated[
        Path | None,
        typer.Option("--cache", help="Download cache (default ~/.cache/modelcycle/datasets)."),
    ] = None,
    local: Annotated[
        Path | None,
        typer.Option(
            "--from", help="Use this already-downloaded archive (or a directory of them)."
        ),
    ] = None,
) -> None:
    """Download a dataset once into the cache, verify its checksum and write text,label files.

    Example: modelcycle datasets download imdb -o data/imdb
    """
    from modelcycle.datasets import download as download_dataset

    document = download_dataset(
        name,
        out,
        cache_dir=cache or default_cache(),
        local=local,
        on_fetch=lambda source: say(f"fetching {source.url}"),
    )
    for part, facts in document["files"].items():
        typer.echo(f"wrote {out / part}: {plural(facts['rows'], 'row')}")
    typer.echo(f"licence: {document['licence']}\ncite: {document['citation']}")
