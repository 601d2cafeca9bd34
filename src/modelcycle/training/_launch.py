"""``train --nproc N``: the same command in N processes on this machine, under PyTorch's
elastic launcher (torchrun's ``--standalone`` rendezvous), as if typed
``torchrun --standalone --nproc-per-node N -m modelcycle ...``."""

from __future__ import annotations

from collections.abc import Sequence

from modelcycle.exceptions import ConfigError, ModelcycleError


def launch(args: Sequence[str], nproc: int) -> None:
    """Run ``modelcycle ARGS`` (``--nproc`` dropped from them) in ``nproc`` processes under
    torchrun on this machine; returns once all of them are done. Each process prints its own
    errors; a ModelcycleError names the first that failed."""
    if nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {nproc}")
    # deferred for start-up time: the launcher imports PyTorch
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    launcher = ["--standalone", f"--nproc-per-node={nproc}", "--module", "modelcycle"]
    try:
        torchrun.run(torchrun.parse_args([*launcher, *without_option(args, "--nproc")]))
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        raise ModelcycleError(
            f"the training process of rank {rank} (of {nproc}) failed with exit code "
            f"{failure.exitcode} and torchrun stopped the others; its error is above"
        ) from None


def without_option(args: Sequence[str], option: str) -> list[str]:
    """``args`` without ``option`` and its value (``--opt V`` or ``--opt=V``)."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            kept.append(arg)
    return kept
