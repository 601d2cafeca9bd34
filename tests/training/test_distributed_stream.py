"""Streamed training under torchrun: each process reads its own shards; ``--nproc`` launches it."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from modelcycle.models import load_model
from tests.conftest import NEGATIVE, POSITIVE

pytest.importorskip("torch.distributed", reason="PyTorch without distributed support")
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
# Each process trains fasttext on the stream, writing the ids of the rows it read (from the
# words its first pass cached).
RANK_SCRIPT = """
import json, os, sys
from modelcycle.data import TextStream
from modelcycle.engine.distributed import from_environment
from modelcycle.engine.loop import RunOptions
from modelcycle.models import make_model

from modelcycle.models._token_cache import TokenCache
import numpy as np

context = from_environment(os.environ)
stream = TextStream.open(sys.argv[1])
read = []
windows = TokenCache.windows

def recorded(self, *args, **kwargs):
    words = self.frequencies().get_column("tok").to_list()  # by cached id
    for rows in windows(self, *args, **kwargs):
        last = np.cumsum(rows.lengths) - 1  # each text's last word: its row number
        read.append([int(words[i]) for i in rows.ids[last]])
        yield rows

TokenCache.windows = recorded
model = make_model("fasttext", {"buckets": 100, "epochs": 1, "batch_size": 4}, seed=0)
model.fit_stream(stream, shuffle_buffer=6, run=RunOptions(device="cpu", distributed=context))
with open(f"{sys.argv[2]}/rank-{context.rank}.json", "w") as out:
    json.dump({"read": read, "rows": len(read and sum(read, []))}, out)
"""


def _shards(folder: Path, n: int = 4, rows: int = 12) -> Path:
    folder.mkdir()
    texts = POSITIVE[:6] + NEGATIVE[:6]
    for k in range(n):
        ids = range(k * rows, (k + 1) * rows)
        frame = pl.DataFrame(
            {
                "text": [f"{texts[i % 12]} {i}" for i in ids],
                "label": [("pos", "neg")[i % 12 // 6] for i in ids],
            }
        )
        frame.write_parquet(folder / f"part-{k}.parquet")
    return folder


def test_two_processes_stream_disjoint_shards(tmp_path: Path) -> None:
    shards = _shards(tmp_path / "shards")
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    done = subprocess.run(
        [*TORCHRUN, str(script), str(shards), str(tmp_path)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    parts = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in range(2)]
    rows = [{i for window in part["read"] for i in window} for part in parts]
    assert rows[0]
    assert rows[1]
    assert not rows[0] & rows[1]
    assert rows[0] | rows[1] == set(range(48))
    # by shard: rank 0 reads shards 0 and 2, rank 1 shards 1 and 3
    assert {i // 12 for i in rows[0]} == {0, 2}
    assert {i // 12 for i in rows[1]} == {1, 3}


def test_nproc_launches_what_torchrun_by_hand_runs(tmp_path: Path) -> None:
    shards = _shards(tmp_path / "shards")
    args = ["train", str(shards), "--model", "fasttext", "-p", "buckets=200", "--epochs", "2"]
    args += ["--batch-size", "8", "--shuffle-buffer", "16", "--device", "cpu", "-q"]
    by_hand = subprocess.run(
        [*TORCHRUN, "-m", "modelcycle", *args, "-o", str(tmp_path / "by_hand")],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        cwd=tmp_path,
    )
    assert by_hand.returncode == 0, by_hand.stderr[-3000:]
    launched = subprocess.run(
        [sys.executable, "-m", "modelcycle", *args, "--nproc", "2", "-o", str(tmp_path / "nproc")],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        cwd=tmp_path,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert launched.stdout.count("wrote ") == 1  # rank 0 reports
    assert "(fasttext, 48 rows streamed, " in launched.stdout
    # two data-parallel jobs agree up to float rounding (one run in three differed in bits)
    one, two = load_model(tmp_path / "by_hand"), load_model(tmp_path / "nproc")
    texts = ["a wonderful film", "a tedious mess", "the plot makes no sense"]
    np.testing.assert_allclose(two.predict_proba(texts), one.predict_proba(texts), atol=1e-5)
    assert one.get_params() == two.get_params()


def test_nproc_reports_failed_processes(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    failed = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelcycle",
            "train",
            str(missing),
            "--nproc",
            "2",
            "-o",
            str(tmp_path / "m"),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
        cwd=tmp_path,
    )
    assert failed.returncode == 1
    assert f"error: {missing}: file not found" in failed.stderr
    last = failed.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"error: the training process of rank [01] \(of 2\) failed with exit code 1 and "
        r"torchrun stopped the others; its error is above",
        last,
    )
