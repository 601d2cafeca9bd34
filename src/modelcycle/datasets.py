"""Well-known public labeled text datasets: where they live, their checksums, licences and
citations (data, in ``datasets.toml`` beside this module), and how each is turned into the
standard ``text,label`` files (code, here, chosen by the entry's ``convert`` name).

Example::

    from modelcycle.datasets import REGISTRY, download

    info = download("imdb", "data/imdb", cache_dir="~/.cache/modelcycle/datasets")
    info["files"]["train.csv"]["rows"]        # 25000

An archive is downloaded once into the cache (streamed, its size and checksum verified before it
is used), then converted; a cached archive is verified again at each use. The checksums are the
ones the maintainers of TensorFlow Datasets, Hugging Face datasets, torchtext and fast.ai publish
for the same addresses (named in ``checksum_source``). Conversion streams too, so the 3.6 million
Amazon reviews never sit in memory at once.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tarfile
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv

from modelcycle._io import atomic_dir, atomic_file, sha256_file, write_json
from modelcycle.data import TableWriter
from modelcycle.exceptions import ConfigError, DataError

__all__ = [
    "DATASET_FILE",
    "REGISTRY",
    "PublicDataset",
    "Source",
    "download",
    "fetch",
    "lookup",
]

DATASET_FILE = "dataset.json"
_CHUNK = 1 << 20

Chunks = Iterator[tuple[str, pl.DataFrame]]


@dataclass(frozen=True)
class Source:
    """One file to download: its address, its checksum (``sha256:<hex>`` or ``md5:<hex>``), its
    size in bytes when published, and the name it is cached under."""

    url: str
    checksum: str
    filename: str
    size: int | None = None


@dataclass(frozen=True)
class PublicDataset:
    """A public labeled text dataset and how to turn it into ``text,label`` files."""

    name: str
    title: str
    task: str
    classes: tuple[str, ...]
    rows: Mapping[str, int]
    sources: tuple[Source, ...]
    licence: str
    citation: str
    homepage: str
    checksum_source: str
    convert: Callable[[PublicDataset, list[Path]], Chunks]

    def describe(self) -> dict[str, Any]:
        """Everything but the converter, JSON-ready."""
        return {
            "name": self.name,
            "title": self.title,
            "task": self.task,
            "classes": list(self.classes),
            "rows": dict(self.rows),
            "sources": [
                {"url": s.url, "checksum": s.checksum, "size": s.size} for s in self.sources
            ],
            "licence": self.licence,
            "citation": self.citation,
            "homepage": self.homepage,
            "checksum_source": self.checksum_source,
        }


def download(
    dataset: str | PublicDataset,
    out_dir: str | Path,
    *,
    cache_dir: str | Path,
    local: str | Path | None = None,
    on_fetch: Callable[[Source], None] | None = None,
) -> dict[str, Any]:
    """Download (once, into ``cache_dir``) and convert ``dataset`` into ``out_dir``: one
    ``text,label`` CSV per part and ``dataset.json`` (source, checksum, licence, citation, rows
    and SHA-256 per file). ``local`` is a file or directory that already holds the archive(s):
    they are verified and cached instead of downloaded. Returns ``dataset.json``'s content.
    """
    spec = lookup(dataset)
    cache = Path(cache_dir).expanduser() / spec.name
    paths = []
    for source in spec.sources:
        if on_fetch is not None:
            on_fetch(source)
        paths.append(fetch(source, cache, local=_local_file(local, source)))
    with atomic_dir(out_dir, replace_if=DATASET_FILE) as tmp:
        writers: dict[str, TableWriter] = {}
        try:
            for part, frame in spec.convert(spec, paths):
                if part not in writers:
                    writers[part] = TableWriter(tmp / part)
                writers[part].write(frame.select("text", "label", pl.exclude("text", "label")))
        except BaseException as exc:
            for writer in writers.values():
                writer.close(exc)
            raise
        for writer in writers.values():
            writer.close()
        files = {}
        for part in writers:
            counts = pl.read_csv(tmp / part, columns=["label"], infer_schema=False)
            labels = counts.get_column("label").value_counts(sort=True)
            files[part] = {
                "rows": counts.height,
                "labels": dict(
                    zip(labels["label"].to_list(), labels["count"].to_list(), strict=True)
                ),
                "sha256": sha256_file(tmp / part),
            }
        info = {**spec.describe(), "files": files}
        write_json(tmp / DATASET_FILE, info)
    return info


def fetch(source: Source, cache_dir: str | Path, *, local: Path | None = None) -> Path:
    """The verified file of ``source`` in ``cache_dir``: reused if its checksum still matches,
    else copied from ``local`` or downloaded (``http(s)://`` or ``file://``), streamed to a
    temporary name and renamed only once size and checksum match."""
    cache_dir = Path(cache_dir)
    target = cache_dir / source.filename
    if target.is_file() and _digest(target, source.checksum)[1] == _expected(source):
        return target
    with atomic_file(target) as tmp:
        if local is not None:
            if not local.is_file():
                raise DataError(f"{local}: file not found (--from)")
            shutil.copyfile(local, tmp)
        else:
            _download(source, tmp)
        algorithm, actual = _digest(tmp, source.checksum)
        where = local or source.url
        if source.size is not None and tmp.stat().st_size != source.size:
            raise DataError(
                f"{where}: {tmp.stat().st_size:,} bytes, expected {source.size:,}; the download "
                "was cut short or the file changed upstream"
            )
        if actual != _expected(source):
            raise DataError(
                f"{where}: {algorithm} checksum mismatch (expected {_expected(source)}, got "
                f"{actual}); the file is corrupt or changed upstream"
            )
    return target


def lookup(dataset: str | PublicDataset) -> PublicDataset:
    """The registry entry of ``dataset`` (a name), or a ConfigError listing the valid names."""
    if isinstance(dataset, PublicDataset):
        return dataset
    if dataset not in REGISTRY:
        raise ConfigError(f"unknown dataset {dataset!r}; valid datasets are: {', '.join(REGISTRY)}")
    return REGISTRY[dataset]


def _local_file(local: str | Path | None, source: Source) -> Path | None:
    if local is None:
        return None
    path = Path(local).expanduser()
    return path / source.filename if path.is_dir() else path


def _download(source: Source, target: Path) -> None:
    request = urllib.request.Request(source.url, headers={"User-Agent": "modelcycle"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response, target.open("wb") as out:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise DataError(f"cannot download {source.url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(
            f"cannot download {source.url} ({reason}); check the network, or download it "
            "yourself and pass the file with --from FILE"
        ) from exc


def _expected(source: Source) -> str:
    return source.checksum.partition(":")[2].lower()


def _digest(path: Path, checksum: str) -> tuple[str, str]:
    algorithm = checksum.partition(":")[0]
    if algorithm not in ("sha256", "md5"):
        raise ConfigError(f"checksum {checksum!r} must start with sha256: or md5:")
    if algorithm == "sha256":
        return algorithm, sha256_file(path)
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return algorithm, digest.hexdigest()


# -- converters: archive layouts to text,label ---------------------------------------------------

_IMDB_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def _convert_imdb(spec: PublicDataset, paths: list[Path]) -> Chunks:
    """``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`` -> train.csv, test.csv (with the
    rating), rows ordered by id, negative before positive."""
    rows: dict[str, list[tuple[int, str, int, str]]] = {"train": [], "test": []}
    with tarfile.open(paths[0], mode="r:*") as archive:
        for member in archive:
            match = _IMDB_MEMBER.search(member.name)
            if match is None or not member.isfile():
                continue
            part, folder, review_id, rating = match.groups()
            handle = archive.extractfile(member)
            assert handle is not None
            text = handle.read().decode("utf-8").strip()
            label = "positive" if folder == "pos" else "negative"
            rows[part].append((int(review_id), label, int(rating), text))
    for part, records in rows.items():
        if not records:
            raise DataError(f"{paths[0]}: no aclImdb/{part}/ reviews in the archive")
        records.sort(key=lambda r: (r[0], r[1]))
        frame = pl.DataFrame(
            {
                "text": [r[3] for r in records],
                "label": [r[1] for r in records],
                "rating": [r[2] for r in records],
            }
        )
        yield f"{part}.csv", frame


def _convert_glue_sst2(spec: PublicDataset, paths: list[Path]) -> Chunks:
    """``SST-2/{train,dev}.tsv`` (``sentence<TAB>label``, 0/1) -> train.csv, dev.csv."""
    with zipfile.ZipFile(paths[0]) as archive:
        for part in ("train", "dev"):
            lines = archive.read(f"SST-2/{part}.tsv").decode("utf-8").splitlines()[1:]
            pairs = [line.rsplit("\t", 1) for line in lines if line.strip()]
            labels = [spec.classes[int(label)] for _, label in pairs]
            yield (
                f"{part}.csv",
                pl.DataFrame({"text": [t.strip() for t, _ in pairs], "label": labels}),
            )


def _convert_char_cnn_csv(spec: PublicDataset, paths: list[Path]) -> Chunks:
    """Zhang, Zhao and LeCun's CSV layout (``<name>_csv/{train,test}.csv``: class index from 1,
    then title and/or body, no header) -> train.csv, test.csv; title and body joined by a space.
    Streamed in blocks."""
    with tarfile.open(paths[0], mode="r:*") as archive:
        for member in archive:
            match = re.search(r"(?:^|/)(train|test)\.csv$", member.name)
            if match is None or not member.isfile():
                continue
            handle = archive.extractfile(member)
            assert handle is not None
            codes = {str(index): name for index, name in enumerate(spec.classes, start=1)}
            for block in _csv_blocks(handle):
                first, *rest = block.columns
                text = pl.concat_str(
                    [pl.col(c).str.strip_chars() for c in rest], separator=" "
                ).str.strip_chars()
                label = pl.col(first).str.strip_chars().replace_strict(codes, default=None)
                converted = block.select(text.alias("text"), label.alias("label"))
                if converted.get_column("label").null_count():
                    bad = block.get_column(first).filter(converted.get_column("label").is_null())
                    raise DataError(
                        f"{paths[0]}: {member.name}: class {bad[0]!r} is not one of 1.."
                        f"{len(spec.classes)}"
                    )
                yield f"{match.group(1)}.csv", converted


def _csv_blocks(handle: IO[bytes]) -> Iterator[pl.DataFrame]:
    reader = pa_csv.open_csv(
        handle,
        read_options=pa_csv.ReadOptions(autogenerate_column_names=True, block_size=1 << 24),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(strings_can_be_null=False, column_types={}),
    )
    for batch in reader:
        frame = pl.from_arrow(pa.Table.from_batches([batch]))
        assert isinstance(frame, pl.DataFrame)
        yield frame.select(pl.all().cast(pl.String))


def _convert_trec(spec: PublicDataset, paths: list[Path]) -> Chunks:
    """``LABEL:fine question`` lines (Latin-1) -> train.csv, test.csv with the coarse label and
    the fine one in ``fine_label``."""
    for part, path in zip(("train", "test"), paths, strict=True):
        records = []
        for number, line in enumerate(path.read_bytes().decode("latin-1").splitlines(), start=1):
            if not line.strip():
                continue
            fine, _, text = line.partition(" ")
            if ":" not in fine:
                raise DataError(f"{path}: line {number}: expected 'LABEL:fine question'")
            records.append((text.strip(), fine.split(":", 1)[0], fine))
        yield (
            f"{part}.csv",
            pl.DataFrame(records, schema=["text", "label", "fine_label"], orient="row"),
        )


def _convert_sms_spam(spec: PublicDataset, paths: list[Path]) -> Chunks:
    """``SMSSpamCollection`` (``ham<TAB>message`` lines) -> all.csv (there is no official split)."""
    with zipfile.ZipFile(paths[0]) as archive:
        lines = archive.read("SMSSpamCollection").decode("utf-8").splitlines()
    pairs = [line.split("\t", 1) for line in lines if line.strip()]
    yield (
        "all.csv",
        pl.DataFrame({"text": [t.strip() for _, t in pairs], "label": [lb for lb, _ in pairs]}),
    )


def _convert_rt_polarity(spec: PublicDataset, paths: list[Path]) -> Chunks:
    """``rt-polaritydata/rt-polarity.{neg,pos}`` (one snippet a line, Windows-1252) -> all.csv."""
    texts: list[str] = []
    labels: list[str] = []
    with tarfile.open(paths[0], mode="r:*") as archive:
        for suffix, label in (("neg", "negative"), ("pos", "positive")):
            member = archive.extractfile(f"rt-polaritydata/rt-polarity.{suffix}")
            assert member is not None
            lines = io.TextIOWrapper(member, encoding="cp1252").read().splitlines()
            snippets = [line.strip() for line in lines if line.strip()]
            texts.extend(snippets)
            labels.extend([label] * len(snippets))
    yield "all.csv", pl.DataFrame({"text": texts, "label": labels})


_CONVERTERS = {
    "imdb": _convert_imdb,
    "glue_sst2": _convert_glue_sst2,
    "char_cnn_csv": _convert_char_cnn_csv,
    "trec": _convert_trec,
    "sms_spam": _convert_sms_spam,
    "rt_polarity": _convert_rt_polarity,
}


def _dataset(name: str, table: dict[str, Any]) -> PublicDataset:
    """The entry ``name`` of ``datasets.toml``, its converter chosen by name."""
    return PublicDataset(
        name=name,
        **{
            **table,
            "classes": tuple(table["classes"]),
            "sources": tuple(Source(**source) for source in table["sources"]),
            "convert": _CONVERTERS[table["convert"]],
        },
    )


REGISTRY: dict[str, PublicDataset] = {
    name: _dataset(name, table)
    for name, table in tomllib.loads(
        resources.files("modelcycle").joinpath("datasets.toml").read_text(encoding="utf-8")
    ).items()
}
