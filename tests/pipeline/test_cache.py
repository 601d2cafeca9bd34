"""Caching like make: unchanged stages are skipped, a changed setting reruns its stage and those
after it, ``force`` and ``stages`` pick stages, a run killed mid-stage resumes at that stage."""

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from modelcycle.cli import app
from modelcycle.config import PipelineConfig
from modelcycle.exceptions import ConfigError
from modelcycle.pipeline import _stages, run

STAGES = ["eda", "clean", "split", "train", "evaluate", "predict"]


def config_for(path: Path, **sections: dict[str, Any]) -> PipelineConfig:
    raw: dict[str, Any] = {
        "data": {"path": str(path)},
        "split": {"test": 0.25, "val": 0.25},
        "train": {"params": {"min_df": 1}},
    }
    for name, section in sections.items():
        raw[name] = {**raw.get(name, {}), **section}
    return PipelineConfig.from_dict(raw)


def statuses(config: PipelineConfig, out: Path, **options: Any) -> dict[str, str]:
    told: dict[str, str] = {}
    run(config, out, on_stage=told.__setitem__, **options)
    return told


def test_a_second_identical_run_skips_every_stage(tmp_path: Path, reviews_csv: Path) -> None:
    out = tmp_path / "run"
    assert statuses(config_for(reviews_csv), out) == dict.fromkeys(STAGES, "running")
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert statuses(config_for(reviews_csv), out) == dict.fromkeys(STAGES, "unchanged")
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert after == before  # nothing rewritten, not even the run page or the manifest


def test_changing_split_seed_reruns_split_and_after_it_only(
    tmp_path: Path, reviews_csv: Path
) -> None:
    out = tmp_path / "run"
    statuses(config_for(reviews_csv), out)
    eda = (out / "eda" / "eda.json").stat().st_mtime_ns
    told = statuses(config_for(reviews_csv, split={"seed": 7}), out)
    assert told == {
        "eda": "unchanged",
        "clean": "unchanged",
        "split": "running",
        "train": "running",
        "evaluate": "running",
        "predict": "running",
    }
    assert (out / "eda" / "eda.json").stat().st_mtime_ns == eda
    assert json.loads((out / "data" / "split.json").read_text())["seed"] == 7
    assert json.loads((out / "config.json").read_text())["split"]["seed"] == 7


def test_changing_the_data_reruns_everything(tmp_path: Path, reviews_csv: Path) -> None:
    out = tmp_path / "run"
    statuses(config_for(reviews_csv), out)
    with reviews_csv.open("a", encoding="utf-8") as handle:
        handle.write("Another wonderful film,positive,5\n")
    assert statuses(config_for(reviews_csv), out) == dict.fromkeys(STAGES, "running")
    assert json.loads((out / "run.json").read_text())["clean"]["rows_in"] == 25


def test_force_reruns_one_stage(tmp_path: Path, reviews_csv: Path) -> None:
    out = tmp_path / "run"
    statuses(config_for(reviews_csv), out)
    told = statuses(config_for(reviews_csv), out, force=["evaluate"])
    assert told == {**dict.fromkeys(STAGES, "unchanged"), "evaluate": "running"}


def test_stages_runs_a_subset_and_keeps_the_others(tmp_path: Path, reviews_csv: Path) -> None:
    out = tmp_path / "run"
    statuses(config_for(reviews_csv), out)
    told = statuses(config_for(reviews_csv, train={"params": {"C": 2.0}}), out, stages=["train"])
    assert told == {
        **dict.fromkeys(STAGES, "unchanged"),
        "train": "running",
        "evaluate": "left out",
        "predict": "left out",
    }
    assert json.loads((out / "model" / "model.json").read_text())["params"]["C"] == 2.0


def test_stages_needs_the_outputs_of_those_before(tmp_path: Path, reviews_csv: Path) -> None:
    with pytest.raises(ConfigError, match=r"stage 'eda' has not run in .*run; add it to --stages"):
        run(config_for(reviews_csv), tmp_path / "run", stages=["train"])


@pytest.mark.parametrize("option", ["force", "stages"])
def test_an_unknown_stage_is_refused(tmp_path: Path, reviews_csv: Path, option: str) -> None:
    message = (
        rf"--{option}: unknown stage 'trian'; this run's stages are: eda, clean, split, train, "
        "evaluate, predict"
    )
    with pytest.raises(ConfigError, match=message):
        run(config_for(reviews_csv), tmp_path / "run", **{option: ["trian"]})


def test_a_run_killed_mid_stage_resumes_at_that_stage(
    tmp_path: Path, reviews_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"

    def killed(config: PipelineConfig, run_dir: Path) -> None:
        (run_dir / "model").mkdir()
        (run_dir / "model" / "half-written").write_text("x")
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(_stages, "_train", killed)
        with pytest.raises(KeyboardInterrupt):
            run(config_for(reviews_csv), out)
    assert not (out / "stages" / "train.json").exists()
    told = statuses(config_for(reviews_csv), out)
    assert told == {
        **dict.fromkeys(["eda", "clean", "split"], "unchanged"),
        **dict.fromkeys(["train", "evaluate", "predict"], "running"),
    }
    assert not (out / "model" / "half-written").exists()


def test_an_edited_output_reruns_its_stage(tmp_path: Path, reviews_csv: Path) -> None:
    out = tmp_path / "run"
    statuses(config_for(reviews_csv), out)
    (out / "predictions.csv").write_text("edited\n")
    told = statuses(config_for(reviews_csv), out)
    assert told == {**dict.fromkeys(STAGES, "unchanged"), "predict": "running"}
    assert (out / "predictions.csv").read_text().startswith("text,label,predicted")


def test_the_cli_says_which_stages_it_skipped(
    tmp_path: Path, runner: CliRunner, reviews_csv: Path
) -> None:
    config = tmp_path / "pipeline.toml"
    config.write_text(
        f'[data]\npath = "{reviews_csv}"\n[split]\ntest = 0.25\nval = 0.25\n'
        "[train]\nparams = { min_df = 1 }\n",
        encoding="utf-8",
    )
    out = tmp_path / "run"
    first = runner.invoke(app, ["run", str(config), "-o", str(out)])
    assert first.exit_code == 0, first.stderr
    assert first.stderr.splitlines()[:6] == [f"· {name}" for name in STAGES]
    again = runner.invoke(app, ["run", str(config), "-o", str(out), "--force", "predict"])
    assert again.exit_code == 0, again.stderr
    assert again.stderr.splitlines()[:6] == [
        *(f"· {name}: unchanged, skipped" for name in STAGES[:-1]),
        "· predict",
    ]
    assert again.stdout == first.stdout
    bad = runner.invoke(app, ["run", str(config), "-o", str(out), "--stages", "eda,nope"])
    assert bad.exit_code == 1
    assert bad.stderr.startswith("error: --stages: unknown stage 'nope'; this run's stages are")


def test_a_directory_that_is_not_a_run_is_refused(tmp_path: Path, reviews_csv: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(Exception, match=r"mine exists and is not a run directory modelcycle wrote"):
        run(config_for(reviews_csv), mine)
    assert (mine / "notes.txt").read_text() == "keep me"
