import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelcycle._io import (
    Terminated,
    atomic_dir,
    clear_stale_temps,
    sigterm_interrupts,
    write_text,
)
from modelcycle.artifacts import (
    MANIFEST_FILE,
    read_model_dir,
    update_model_meta,
    verify_manifest,
    write_manifest,
    write_model_dir,
)
from modelcycle.exceptions import ArtifactError


def make_model_dir(path: Path) -> Path:
    return write_model_dir(
        path,
        meta={"family": "toy", "labels": ["a", "b"]},
        tensors={"w": np.arange(6, dtype=np.float32).reshape(2, 3)},
        documents={"vocabulary": ["x", "y", "z"]},
    )


def test_round_trip(tmp_path: Path) -> None:
    files = read_model_dir(make_model_dir(tmp_path / "m"))
    assert files.meta["family"] == "toy"
    assert files.meta["format_version"] == 1
    np.testing.assert_array_equal(files.tensors["w"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert files.documents == {"vocabulary": ["x", "y", "z"]}
    manifest = json.loads((tmp_path / "m" / MANIFEST_FILE).read_text())
    assert sorted(manifest["files"]) == ["model.json", "vocabulary.json", "weights.safetensors"]


def test_a_changed_weight_byte_is_refused(tmp_path: Path) -> None:
    path = make_model_dir(tmp_path / "m")
    weights = path / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(
        ArtifactError, match=r"weights\.safetensors: SHA-256 does not match manifest\.json"
    ):
        read_model_dir(path)


def test_missing_and_unexpected_files_are_refused(tmp_path: Path) -> None:
    path = make_model_dir(tmp_path / "m")
    (path / "notes.txt").write_text("hi")
    with pytest.raises(ArtifactError, match=r"notes\.txt: not listed in manifest\.json"):
        read_model_dir(path)
    (path / "notes.txt").unlink()
    (path / "vocabulary.json").unlink()
    with pytest.raises(
        ArtifactError, match=r"vocabulary\.json: listed in manifest\.json but missing"
    ):
        read_model_dir(path)


def test_unknown_format_version_is_refused(tmp_path: Path) -> None:
    path = make_model_dir(tmp_path / "m")
    meta = json.loads((path / "model.json").read_text())
    meta["format_version"] = 99
    (path / "model.json").write_text(json.dumps(meta))
    write_manifest(path)  # a consistent manifest, so only the version is wrong
    with pytest.raises(
        ArtifactError, match=r"model format version 99 is not supported.*upgrade modelcycle"
    ):
        read_model_dir(path)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("fresh", r"'labels' must be a list of labels \(strings or numbers\), got str 'fresh'"),
        ([["a"], ["b"]], r"'labels' must be a list of labels"),
        ([None, "a"], r"'labels' must be a list of labels"),
        ([], r"'labels' must list two or more distinct labels, got \[\]"),
        (["a"], r"'labels' must list two or more distinct labels"),
        (["a", "a"], r"'labels' must list two or more distinct labels"),
    ],
)
def test_a_model_json_with_impossible_labels_is_refused(
    tmp_path: Path, labels: object, message: str
) -> None:
    path = make_model_dir(tmp_path / "m")
    meta = json.loads((path / "model.json").read_text())
    meta["labels"] = labels
    (path / "model.json").write_text(json.dumps(meta))
    write_manifest(path)  # a consistent manifest, so only the labels are wrong
    with pytest.raises(ArtifactError, match=r"model\.json: " + message):
        read_model_dir(path)


def test_labels_of_any_scalar_type_are_read(tmp_path: Path) -> None:
    path = write_model_dir(
        tmp_path / "m", meta={"family": "toy", "labels": [0, 1, 2.5, "x"]}, tensors={}
    )
    assert read_model_dir(path).meta["labels"] == [0, 1, 2.5, "x"]


def test_not_a_model_directory(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not a model directory"):
        read_model_dir(tmp_path / "nothing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(
        ArtifactError, match=r"no manifest\.json; this is not a directory modelcycle wrote"
    ):
        read_model_dir(tmp_path / "plain")


def test_rewriting_replaces_a_model_but_never_a_foreign_directory(tmp_path: Path) -> None:
    path = make_model_dir(tmp_path / "m")
    make_model_dir(path)  # replacing our own directory is fine
    assert verify_manifest(path)["files"]
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(ArtifactError, match="exists and is not a directory modelcycle wrote"):
        make_model_dir(foreign)
    assert (foreign / "cat.jpg").read_bytes() == b"meow"


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_model_dir(tmp_path / "m", meta={"bad": object()}, tensors={})
    assert list(tmp_path.iterdir()) == []


def test_an_output_that_is_a_directory_or_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "adir.csv").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ArtifactError, match=r"adir\.csv is a directory; give the output a file"):
        write_text(tmp_path / "adir.csv", "x")
    under_a_file = r"cannot write .*x\.csv: .*notes\.txt is a file, not a directory"
    with pytest.raises(ArtifactError, match=under_a_file):
        write_text(tmp_path / "notes.txt" / "sub" / "x.csv", "x")
    with (
        pytest.raises(ArtifactError, match=r"notes\.txt is a file, not a directory"),
        atomic_dir(tmp_path / "notes.txt" / "run"),
    ):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir.csv", "notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_verify_manifest_recurses_into_subdirectories(tmp_path: Path) -> None:
    (tmp_path / "run" / "sub").mkdir(parents=True)
    (tmp_path / "run" / "sub" / "f.txt").write_text("one")
    manifest = write_manifest(tmp_path / "run")
    assert list(manifest["files"]) == ["sub/f.txt"]
    (tmp_path / "run" / "sub" / "f.txt").write_text("two")
    with pytest.raises(ArtifactError, match=r"sub/f\.txt: SHA-256 does not match"):
        verify_manifest(tmp_path / "run")


def test_update_model_meta_rewrites_model_json_and_manifest(tmp_path: Path) -> None:
    path = make_model_dir(tmp_path / "m")
    weights_before = (path / "weights.safetensors").read_bytes()
    files = update_model_meta(path, {"postprocess": {"temperature": 2.0}})
    assert files.meta["postprocess"] == {"temperature": 2.0}
    again = read_model_dir(path)  # verifies the new manifest
    assert again.meta["postprocess"] == {"temperature": 2.0}
    assert again.meta["family"] == "toy"
    assert (path / "weights.safetensors").read_bytes() == weights_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary left behind
    update_model_meta(path, {"postprocess": None})
    assert "postprocess" not in read_model_dir(path).meta


def test_update_model_meta_refuses_tampered_dirs_and_fixed_keys(tmp_path: Path) -> None:
    path = make_model_dir(tmp_path / "m")
    with pytest.raises(ValueError, match="'labels' describes the weights"):
        update_model_meta(path, {"labels": ["x", "y"]})
    (path / "vocabulary.json").write_text('["x"]')
    before = (path / "model.json").read_bytes()
    with pytest.raises(ArtifactError, match="SHA-256 does not match"):
        update_model_meta(path, {"postprocess": {"temperature": 2.0}})
    assert (path / "model.json").read_bytes() == before


def dead_pid() -> int:
    """The id of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_write_removes_only_what_killed_writes_of_the_same_file_left(tmp_path: Path) -> None:
    dead = dead_pid()
    stale = [f".out.csv.{dead}.abcd_123.tmp", f".out.csv.{dead}.zz99zz99.tmp.plain"]
    kept = [
        f".out.csv.{os.getpid()}.abcd_123.tmp",  # a write in progress (this process)
        f".other.csv.{dead}.abcd_123.tmp",  # another output's
        f".out.csv.5.{dead}.abcd_123.tmp",  # the output "out.csv.5"'s
        f".out.csv.{dead}.abcd_123.tmp.bak",
        ".out.csv.abcd_123.tmp",
        "out.csv.bak",
    ]
    for name in stale + kept:
        (tmp_path / name).write_text("left over", encoding="utf-8")
    write_text(tmp_path / "out.csv", "new\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, "out.csv"])
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == "new\n"


def test_a_model_write_removes_the_temporary_directories_of_a_killed_one(tmp_path: Path) -> None:
    dead = dead_pid()
    for name in (f".model.{dead}.k1ll3d_0.tmp", f".model.{dead}.k1ll3d_0.tmp.old"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "weights.safetensors").write_bytes(b"half")
    assert clear_stale_temps(tmp_path / "other") == []
    make_model_dir(tmp_path / "model")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_sigterm_raises_inside_the_block_and_the_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), sigterm_interrupts():
        signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before
    assert issubclass(Terminated, KeyboardInterrupt)  # cleaned up after like Ctrl-C
