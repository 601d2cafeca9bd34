"""The streamed texts' words kept on disk by the first pass: counted as all the texts at once
are, read back in the windows the text stream builds."""

import itertools
import threading
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from modelcycle.data import TextStream
from modelcycle.exceptions import ConfigError
from modelcycle.features import (
    HashedBagFeaturizer,
    Vocabulary,
    document_frequencies,
    tokenize,
    tokens_of,
)
from modelcycle.models._token_cache import TokenCache, TokenRows, token_cache

WORDS = ["good", "bad", "film", "plot", "don't", "acting", "!", "?", "dull", "great"]


def _texts(start: int, rows: int) -> list[str]:
    """Texts of several lengths (one empty), words drawn by row, ending with the row number."""
    return [
        " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(i % 5)) + f" <br /> {i}"
        for i in range(start, start + rows)
    ]


def _shards(tmp_path: Path, n: int, rows: int = 9) -> Path:
    folder = tmp_path / "shards"
    folder.mkdir()
    for k in range(n):
        texts = _texts(k * rows, rows)
        labels = [("neg", "pos", "mid")[len(t) % 3] for t in texts]
        pl.DataFrame({"text": texts, "label": labels}).write_csv(folder / f"part-{k}.csv")
    return folder


def _cache(folder: Path, stream: TextStream, *args: object, **kwargs: object) -> TokenCache:
    folder.mkdir()
    return TokenCache(folder, stream, *args, **kwargs)  # type: ignore[arg-type]


def _filled(cache: TokenCache) -> TokenCache:
    cache.stream.summarize(on_block=cache.add)
    cache.finish()
    return cache


def _words_of(cache: TokenCache, rows: TokenRows) -> list[list[str]]:
    words = cache.frequencies().get_column("tok").to_list()  # by cached id
    bounds = np.concatenate([[0], np.cumsum(rows.lengths)])
    return [[words[i] for i in rows.ids[a:b]] for a, b in itertools.pairwise(bounds)]


def test_rows_are_cut_joined_and_permuted_text_by_text() -> None:
    rows = TokenRows(
        np.array([2, 0, 3, 1]),
        np.array([10, 11, 20, 21, 22, 30], dtype=np.uint32),
        np.array([0, 1, 0, 1], dtype=np.int32),
    )
    tail = rows.take(slice(1, 4))
    assert tail.lengths.tolist() == [0, 3, 1]
    assert tail.ids.tolist() == [20, 21, 22, 30]
    permuted = rows.take(np.array([3, 0, 2, 1]))
    assert permuted.lengths.tolist() == [1, 2, 3, 0]
    assert permuted.ids.tolist() == [30, 10, 11, 20, 21, 22]
    assert permuted.labels.tolist() == [1, 0, 0, 1]
    joined = rows.take(slice(0, 1)).then(tail)
    assert joined.ids.tolist() == rows.ids.tolist()
    assert len(joined) == 4
    assert len(rows.take(slice(4, 9))) == 0


@pytest.mark.parametrize("workers", [1, 3])
def test_the_cache_counts_every_block_as_all_the_texts_at_once(
    tmp_path: Path, workers: int
) -> None:
    stream = TextStream.open(_shards(tmp_path, 3), block_size=64)  # several blocks a shard
    cache = _cache(tmp_path / "cache", stream, ngrams=2, workers=workers)
    cache.CHUNK = 2  # several chunks a block, counted on the workers
    _filled(cache)
    texts = [t for block in stream.blocks() for t in block.texts]
    at_once = document_frequencies(tokenize(texts)).sort("tok")
    assert cache.frequencies().sort("tok").equals(at_once)
    assert cache.texts == len(texts)
    words = [len(tokens_of(text)) + 1 for text in texts]  # and the end token
    assert cache.ngram_count == sum(words) + sum(n - 1 for n in words)
    vocabulary = Vocabulary.from_frequencies(cache.frequencies(), min_df=2)
    assert vocabulary == Vocabulary.build(tokenize(texts), min_df=2)
    ids = cache.word_ids(vocabulary)
    words = cache.frequencies().get_column("tok").to_list()
    assert [vocabulary.words[i] if i >= 0 else None for i in ids] == [
        w if w in vocabulary.words else None for w in words
    ]


@pytest.mark.parametrize("part", [(0, 1), (1, 2), (2, 3)])
def test_the_cache_reads_back_the_windows_the_text_stream_reads(
    tmp_path: Path, part: tuple[int, int]
) -> None:
    # 4 shards: each process reads whole shards (one file read by blocks: the next test)
    stream = TextStream.open(_shards(tmp_path, 4), block_size=64)
    cache = _filled(_cache(tmp_path / "cache", stream, part))
    for epoch, skip in ((0, 0), (1, 0), (1, 2)):
        texts = list(stream.windows(4, seed=3, epoch=epoch, part=part, skip=skip))
        cached = list(cache.windows(4, seed=3, epoch=epoch, skip=skip))
        assert len(cached) == len(texts) > 0
        targets = cache.label_targets(np.array(["mid", "neg", "pos"]))
        for (window_texts, labels), rows in zip(texts, cached, strict=True):
            assert _words_of(cache, rows) == [tokens_of(t) for t in window_texts]
            assert np.array(["mid", "neg", "pos"])[targets[rows.labels]].tolist() == labels


def test_one_file_for_two_processes_is_cached_by_blocks(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    texts = _texts(0, 40)
    pl.DataFrame({"text": texts, "label": ["a", "b"] * 20}).write_csv(path)
    stream = TextStream.open(path, block_size=128)
    parts = [_filled(_cache(tmp_path / f"cache-{r}", stream, (r, 2))) for r in range(2)]
    read = [
        [row for rows in cache.windows(6, seed=0, epoch=0) for row in _words_of(cache, rows)]
        for cache in parts
    ]
    numbers = [{int(words[-1]) for words in rows} for rows in read]
    assert numbers[0]
    assert numbers[1]
    assert not numbers[0] & numbers[1]
    assert numbers[0] | numbers[1] == set(range(40))


def test_bags_from_cached_ids_are_the_bags_of_the_texts(tmp_path: Path) -> None:
    stream = TextStream.open(_shards(tmp_path, 2))
    cache = _filled(_cache(tmp_path / "cache", stream))
    featurizer = HashedBagFeaturizer(ngrams=3, buckets=50, min_count=2).fit_frequencies(cache)
    assert featurizer.vocabulary is not None
    ids = cache.word_ids(featurizer.vocabulary)
    ((texts, _),) = stream.windows(100, seed=0, epoch=0)
    (rows,) = cache.windows(100, seed=0, epoch=0)
    bags = featurizer.encode_ids(rows.lengths, ids[rows.ids])
    expected = featurizer.encode(texts)
    assert np.array_equal(bags[0], expected[0])
    assert np.array_equal(bags[1], expected[1])


def test_a_cache_that_cannot_be_written_says_where_and_what_to_do(tmp_path: Path) -> None:
    stream = TextStream.open(_shards(tmp_path, 1))
    cache = TokenCache(tmp_path / "missing" / "folder", stream)
    with pytest.raises(
        ConfigError,
        match=r"could not write the streamed texts' words to .*"
        r"folder \(No such file or directory\); .*point TMPDIR at a folder",
    ):
        _filled(cache)
    cache.close()


def test_the_temporary_cache_is_removed_and_its_threads_stopped(tmp_path: Path) -> None:
    stream = TextStream.open(_shards(tmp_path, 2))
    with token_cache(stream, (0, 1)) as cache:
        _filled(cache)
        assert sorted(p.suffix for p in cache.folder.iterdir()) == [".npy"] * 10  # 5 a block
        folder = cache.folder
        assert any(t.name.startswith("modelcycle-count") for t in threading.enumerate())
    assert not folder.exists()
    assert not any(t.name.startswith("modelcycle-count") for t in threading.enumerate())
