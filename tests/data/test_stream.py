"""Streaming labeled text: shards, shuffle windows, each process's part."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from modelcycle.data import TextStream, resolve_shards
from modelcycle.exceptions import DataError, SchemaError


def _frame(start: int, rows: int) -> pl.DataFrame:
    ids = list(range(start, start + rows))
    return pl.DataFrame(
        {"id": ids, "text": [f"text number {i}" for i in ids], "label": ["a", "b"] * (rows // 2)}
    )


def _shards(tmp_path: Path, n: int, rows: int = 10) -> Path:
    folder = tmp_path / "shards"
    folder.mkdir()
    for k in range(n):
        _frame(k * rows, rows).write_parquet(folder / f"part-{k}.parquet")
    (folder / "README.txt").write_text("not data")
    return folder


def _ids(texts: list[str]) -> list[int]:
    return [int(t.rsplit(" ", 1)[1]) for t in texts]


def test_a_folder_a_glob_and_a_file_name_their_shards(tmp_path: Path) -> None:
    folder = _shards(tmp_path, 3)
    names = ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    assert [p.name for p in resolve_shards(folder)] == names
    assert [p.name for p in resolve_shards(folder / "part-[12].parquet")] == names[1:]
    assert resolve_shards(folder / "part-0.parquet") == (folder / "part-0.parquet",)
    with pytest.raises(DataError, match=r"no data files \(.csv, .tsv, .parquet, .jsonl\) matching"):
        resolve_shards(folder / "*.csv")
    with pytest.raises(DataError, match="file not found"):
        resolve_shards(folder / "missing.csv")


def test_every_shard_needs_the_columns(tmp_path: Path) -> None:
    folder = _shards(tmp_path, 2)
    _frame(0, 2).rename({"label": "y"}).write_parquet(folder / "part-9.parquet")
    with pytest.raises(SchemaError, match=r"part-9.parquet: column 'label' \(found in part-0"):
        TextStream.open(folder)


def test_a_row_without_a_label_is_named(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("text,label\ngood,pos\nbad, \n")
    stream = TextStream.open(path)
    with pytest.raises(DataError, match=r"data.csv, row 2, column 'label': missing label"):
        list(stream.blocks())


def test_a_buffer_as_large_as_the_data_shuffles_as_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    _frame(0, 30).write_csv(path)
    stream = TextStream.open(path)
    (texts, labels), *rest = list(stream.windows(100, seed=7, epoch=2))
    assert rest == []
    assert _ids(texts) == np.random.default_rng([7, 2]).permutation(30).tolist()
    assert labels == [["a", "b"][i % 2] for i in _ids(texts)]


def test_small_windows_cover_every_row_once_and_skip_whole_windows(tmp_path: Path) -> None:
    stream = TextStream.open(_shards(tmp_path, 3))
    windows = [_ids(t) for t, _ in stream.windows(8, seed=0, epoch=0)]
    assert [len(w) for w in windows] == [8, 8, 8, 6]
    assert sorted(i for window in windows for i in window) == list(range(30))
    assert windows != [sorted(w) for w in windows]  # shuffled within windows
    resumed = [_ids(t) for t, _ in stream.windows(8, seed=0, epoch=0, skip=2)]
    assert resumed == windows[2:]
    assert [_ids(t) for t, _ in stream.windows(8, seed=0, epoch=1)] != windows


@pytest.mark.parametrize("layout", ["shards", "blocks of one file"])
def test_each_process_reads_its_own_part(tmp_path: Path, layout: str) -> None:
    if layout == "shards":
        stream = TextStream.open(_shards(tmp_path, 3))
    else:
        path = tmp_path / "data.csv"
        _frame(0, 400).write_csv(path)
        stream = TextStream.open(path, block_size=1024)  # several blocks
    parts = [
        sorted(i for t, _ in stream.windows(50, seed=0, epoch=0, part=(r, 2)) for i in _ids(t))
        for r in range(2)
    ]
    assert parts[0]
    assert parts[1]
    assert not set(parts[0]) & set(parts[1])
    rows = 30 if layout == "shards" else 400
    assert sorted(parts[0] + parts[1]) == list(range(rows))
    summary = stream.summarize(2)
    assert summary.part_rows == (len(parts[0]), len(parts[1]))
    assert summary.label_counts == {"a": rows // 2, "b": rows // 2}


def test_the_first_pass_counts_labels_and_names_a_row_without_one(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("text,label\ngood,pos\nbad,neg\nfine,pos\n")
    summary = TextStream.open(path, block_size=16).summarize()
    assert (summary.rows, summary.label_counts) == (3, {"pos": 2, "neg": 1})
    path.write_text("text,label\ngood,pos\nbad, \n")
    with pytest.raises(DataError, match=r"data.csv, row 2, column 'label': missing label"):
        TextStream.open(path).summarize()
