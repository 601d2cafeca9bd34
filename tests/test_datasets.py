"""The real download and conversion code, against archives of the real layouts built here, served
over a loopback HTTP server or read through file:// addresses (no internet is needed)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import io
import json
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from modelcycle import datasets
from modelcycle.datasets import REGISTRY, PublicDataset, Source, download, lookup
from modelcycle.exceptions import ConfigError, DataError


def add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def imdb_archive(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        add(archive, "aclImdb/README", b"readme")
        add(archive, "aclImdb/train/pos/10_9.txt", b"A wonderful film.<br /><br />Loved it.")
        add(archive, "aclImdb/train/neg/10_2.txt", "Dreadful, na\u00efve plot. ".encode())
        add(archive, "aclImdb/train/neg/3_1.txt", b"Awful.")
        add(archive, "aclImdb/train/unsup/5_0.txt", b"unlabeled")
        add(archive, "aclImdb/test/pos/0_10.txt", b"Great fun.")
        add(archive, "aclImdb/test/neg/1_3.txt", b"Boring.")
    return path


def char_cnn_archive(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        add(archive, "ag_news_csv/classes.txt", b"World\nSports\nBusiness\nSci/Tech\n")
        add(
            archive,
            "ag_news_csv/train.csv",
            b'"3","Wall St. Bears","Short sellers, ""ultra-cynics""."\n"2","Win","A goal."\n',
        )
        add(archive, "ag_news_csv/test.csv", b'"4","Space","Rockets\nfly."\n')
    return path


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def local_copy(spec: PublicDataset, files: list[Path], base: str) -> PublicDataset:
    sources = tuple(
        Source(f"{base}/{file.name}", sha256(file), source.filename, file.stat().st_size)
        for source, file in zip(spec.sources, files, strict=True)
    )
    return dataclasses.replace(spec, sources=sources)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """A loopback HTTP server over a temporary folder; yields (base URL, folder, request log)."""
    root = tmp_path / "served"
    root.mkdir()
    log: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            log.append(self.path)

    handler = functools.partial(Handler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root, log
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def served_imdb(server: tuple[str, Path, list[str]]) -> tuple[PublicDataset, list[str]]:
    """The IMDb entry pointed at a small IMDb archive on :func:`server`, and its request log."""
    base, root, log = server
    archive = imdb_archive(root / "aclImdb_v1.tar.gz")
    return local_copy(REGISTRY["imdb"], [archive], base), log


def test_imdb_over_http_is_verified_cached_and_converted(
    tmp_path: Path, served_imdb: tuple[PublicDataset, list[str]]
) -> None:
    spec, log = served_imdb
    info = download(spec, tmp_path / "imdb", cache_dir=tmp_path / "cache")
    train = pl.read_csv(tmp_path / "imdb" / "train.csv")
    assert train.rows() == [
        ("Awful.", "negative", 1),
        ("Dreadful, na\u00efve plot.", "negative", 2),
        ("A wonderful film.<br /><br />Loved it.", "positive", 9),
    ]
    assert pl.read_csv(tmp_path / "imdb" / "test.csv").get_column("label").to_list() == [
        "positive",
        "negative",
    ]
    assert info["files"]["train.csv"]["rows"] == 3
    assert info["files"]["train.csv"]["labels"] == {"negative": 2, "positive": 1}
    assert info["citation"].startswith("Maas et al. (2011)")
    assert json.loads((tmp_path / "imdb" / "dataset.json").read_text()) == info
    assert (tmp_path / "cache" / "imdb" / "aclImdb_v1.tar.gz").is_file()
    assert log == ["/aclImdb_v1.tar.gz"]
    download(spec, tmp_path / "again", cache_dir=tmp_path / "cache")
    assert log == ["/aclImdb_v1.tar.gz"]  # the cached archive was reused, not downloaded again


def test_a_checksum_mismatch_is_refused_and_leaves_nothing(
    tmp_path: Path, served_imdb: tuple[PublicDataset, list[str]]
) -> None:
    good, _ = served_imdb
    bad = dataclasses.replace(
        good, sources=(dataclasses.replace(good.sources[0], checksum="sha256:" + "0" * 64),)
    )
    with pytest.raises(DataError, match="sha256 checksum mismatch"):
        download(bad, tmp_path / "out", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "out").exists()
    assert list((tmp_path / "cache" / "imdb").iterdir()) == []


def test_a_missing_file_on_the_server_is_one_clear_error(
    tmp_path: Path, server: tuple[str, Path, list[str]]
) -> None:
    base, _, _ = server
    spec = dataclasses.replace(
        REGISTRY["imdb"], sources=(Source(f"{base}/nothing.tar.gz", "md5:00", "nothing.tar.gz"),)
    )
    with pytest.raises(
        DataError, match=r"cannot download http://127\.0\.0\.1:\d+/nothing\.tar\.gz: HTTP 404"
    ):
        download(spec, tmp_path / "out", cache_dir=tmp_path / "cache")


def test_file_urls_and_md5_checksums(tmp_path: Path) -> None:
    archive = char_cnn_archive(tmp_path / "ag_news_csv.tgz")
    md5 = "md5:" + hashlib.md5(archive.read_bytes()).hexdigest()
    spec = dataclasses.replace(
        REGISTRY["ag_news"], sources=(Source(archive.as_uri(), md5, "ag_news_csv.tgz"),)
    )
    download(spec, tmp_path / "ag", cache_dir=tmp_path / "cache")
    assert pl.read_csv(tmp_path / "ag" / "train.csv").rows() == [
        ('Wall St. Bears Short sellers, "ultra-cynics".', "Business"),
        ("Win A goal.", "Sports"),
    ]
    assert pl.read_csv(tmp_path / "ag" / "test.csv").rows() == [("Space Rockets\nfly.", "Sci/Tech")]


def test_a_local_archive_is_verified_instead_of_downloaded(tmp_path: Path) -> None:
    zipped = tmp_path / "SST-2.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr(
            "SST-2/train.tsv", "sentence\tlabel\nit 's a charming journey . \t1\ndull\t0\n"
        )
        archive.writestr("SST-2/dev.tsv", "sentence\tlabel\nunflinchingly bleak\t0\n")
        archive.writestr("SST-2/test.tsv", "index\tsentence\n0\tno label here\n")
    spec = local_copy(REGISTRY["sst2"], [zipped], "https://unreachable.invalid")
    download(spec, tmp_path / "sst2", cache_dir=tmp_path / "cache", local=zipped)
    assert pl.read_csv(tmp_path / "sst2" / "train.csv").rows() == [
        ("it 's a charming journey .", "positive"),
        ("dull", "negative"),
    ]
    assert pl.read_csv(tmp_path / "sst2" / "dev.csv").height == 1
    wrong = tmp_path / "other.zip"
    wrong.write_bytes(b"not the archive")
    with pytest.raises(DataError, match=r"other\.zip: 15 bytes, expected"):
        download(spec, tmp_path / "x", cache_dir=tmp_path / "cache2", local=wrong)


def test_trec_sms_and_rotten_tomatoes_layouts(tmp_path: Path) -> None:
    train = tmp_path / "train_5500.label"
    train.write_bytes(
        "DESC:manner How did serfdom develop ?\nHUM:ind Who is Caf\xe9 ?\n".encode("latin-1")
    )
    test = tmp_path / "TREC_10.label"
    test.write_bytes(b"NUM:date When was it ?\n")
    download(
        local_copy(REGISTRY["trec"], [train, test], tmp_path.as_uri()),
        tmp_path / "trec",
        cache_dir=tmp_path / "cache",
    )
    assert pl.read_csv(tmp_path / "trec" / "train.csv").rows() == [
        ("How did serfdom develop ?", "DESC", "DESC:manner"),
        ("Who is Caf\u00e9 ?", "HUM", "HUM:ind"),
    ]

    sms = tmp_path / "smsspamcollection.zip"
    with zipfile.ZipFile(sms, "w") as archive:
        archive.writestr("SMSSpamCollection", "ham\tOk lar...\nspam\tFree entry! Text WIN\n")
        archive.writestr("readme", "readme")
    download(
        local_copy(REGISTRY["sms_spam"], [sms], tmp_path.as_uri()),
        tmp_path / "sms",
        cache_dir=tmp_path / "cache",
    )
    assert pl.read_csv(tmp_path / "sms" / "all.csv").get_column("label").to_list() == [
        "ham",
        "spam",
    ]

    rt = tmp_path / "rt-polaritydata.tar.gz"
    with tarfile.open(rt, "w:gz") as archive:
        add(
            archive,
            "rt-polaritydata/rt-polarity.pos",
            "a moving \x93story\x94 \n".encode("latin-1"),
        )
        add(archive, "rt-polaritydata/rt-polarity.neg", b"dull \n\n")
    download(
        local_copy(REGISTRY["rotten_tomatoes"], [rt], tmp_path.as_uri()),
        tmp_path / "rt",
        cache_dir=tmp_path / "cache",
    )
    assert pl.read_csv(tmp_path / "rt" / "all.csv").rows() == [
        ("dull", "negative"),
        ("a moving \u201cstory\u201d", "positive"),
    ]


def test_the_registry_is_complete() -> None:
    assert list(REGISTRY) == [
        "imdb",
        "sst2",
        "ag_news",
        "yelp_polarity",
        "amazon_polarity",
        "trec",
        "sms_spam",
        "rotten_tomatoes",
    ]
    for spec in REGISTRY.values():
        assert spec.licence
        assert spec.citation
        assert spec.checksum_source
        for source in spec.sources:
            algorithm, _, digest = source.checksum.partition(":")
            assert len(digest) == {"sha256": 64, "md5": 32}[algorithm]
            assert source.url.startswith("https://")
    with pytest.raises(ConfigError, match="unknown dataset 'imbd'; valid datasets are: imdb, sst2"):
        lookup("imbd")


def test_an_entry_of_datasets_toml_is_read_whole() -> None:
    trec = REGISTRY["trec"]
    assert trec.classes == ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
    assert dict(trec.rows) == {"train.csv": 5452, "test.csv": 500}
    assert trec.sources == (
        Source(
            "https://cogcomp.seas.upenn.edu/Data/QA/QC/train_5500.label",
            "sha256:9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3",
            "train_5500.label",
            335858,
        ),
        Source(
            "https://cogcomp.seas.upenn.edu/Data/QA/QC/TREC_10.label",
            "sha256:033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e",
            "TREC_10.label",
            23354,
        ),
    )
    assert trec.convert is datasets._convert_trec
    assert REGISTRY["rotten_tomatoes"].sources[0].size is None  # not published
    char_cnn = ("ag_news", "yelp_polarity", "amazon_polarity")
    assert {REGISTRY[name].convert for name in char_cnn} == {datasets._convert_char_cnn_csv}
