"""Data-parallel training under torchrun (gloo on the CPU) matches training alone."""

import gc
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelcycle.engine.distributed import DistributedContext, from_environment
from modelcycle.models import load_model

EXAMPLES = Path(__file__).parents[2] / "examples" / "reviews.csv"
ARGS = ["train", str(EXAMPLES), "--epochs", "3", "--batch-size", "8", "-q"]
FASTTEXT = ["--model", "fasttext", "-p", "buckets=1000"]


def test_environment_and_sharding() -> None:
    assert from_environment({}) is None
    assert from_environment({"WORLD_SIZE": "1"}) is None
    context = from_environment({"WORLD_SIZE": "3", "RANK": "1", "LOCAL_RANK": "1"})
    assert context == DistributedContext(rank=1, local_rank=1, world_size=3)
    assert not context.is_main
    assert context.shard(np.arange(7)).tolist() == [1, 4]


@pytest.mark.parametrize("family", ["fasttext", "transformer"])
def test_two_processes_learn_what_one_does(family: str, tmp_path: Path) -> None:
    pytest.importorskip("torch.distributed", reason="PyTorch without distributed support")
    args = ARGS + FASTTEXT
    if family == "transformer":  # every parameter must get a gradient under DDP
        pytest.importorskip("transformers", reason="the transformer extra is not installed")
        from tests.tiny_bert import make_tiny_backbone

        backbone = make_tiny_backbone(tmp_path / "backbone", dropout=0.0)  # no random masks
        model = ["--model", "transformer", "-p", f"backbone={backbone}", "-p", "dropout=0"]
        args = [*ARGS, *model, "--lr", "1e-3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    alone = subprocess.run(
        [sys.executable, "-m", "modelcycle", *args, "-o", str(tmp_path / "alone")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert alone.returncode == 0, alone.stderr
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    parallel = subprocess.run(
        [*torchrun, "-m", "modelcycle", *args, "-o", str(tmp_path / "parallel")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert parallel.returncode == 0, parallel.stderr[-2000:]
    assert parallel.stdout.count("wrote ") == 1  # only rank 0 saves and reports
    one, two = load_model(tmp_path / "alone"), load_model(tmp_path / "parallel")
    texts = ["a wonderful film", "a tedious mess", "the plot makes no sense"]
    np.testing.assert_allclose(two.predict_proba(texts), one.predict_proba(texts), atol=1e-5)


def test_the_wrapper_is_freed_before_the_process_group(monkeypatch: pytest.MonkeyPatch) -> None:
    # Freed after the group is destroyed, DDP's reducer drops the group's last reference and
    # joins gloo's thread while holding the GIL, which that thread may need: an occasional hang.
    dist = pytest.importorskip("torch.distributed", reason="PyTorch without distributed support")
    from torch.nn.parallel import DistributedDataParallel

    from modelcycle.engine.loop import RunOptions
    from modelcycle.models import make_model

    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))
    alive_at_destroy: list[int] = []
    destroy = dist.destroy_process_group

    def checked_destroy(*args: object, **kwargs: object) -> None:
        gc.collect()
        wrappers = [o for o in gc.get_objects() if type(o) is DistributedDataParallel]
        alive_at_destroy.append(len(wrappers))
        destroy(*args, **kwargs)

    monkeypatch.setattr(dist, "destroy_process_group", checked_destroy)
    alone = DistributedContext(rank=0, local_rank=0, world_size=1)
    model = make_model("fasttext", {"buckets": 100, "epochs": 1}, seed=0)
    texts = ["a wonderful film", "a tedious mess"] * 4
    model.fit(texts, ["pos", "neg"] * 4, run=RunOptions(device="cpu", distributed=alone))
    assert alive_at_destroy == [0]
    assert not dist.is_initialized()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
