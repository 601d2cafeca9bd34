from pathlib import Path

import pytest

from modelcycle.config import (
    PipelineConfig,
    SplitConfig,
    TrainConfig,
    apply_overrides,
    load_config,
    parse_assignments,
)
from modelcycle.exceptions import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_config_resolves_data_path_and_seeds_every_stage(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'seed = 7\n[data]\npath = "reviews.csv"\ntext = "review_text"\n'
        "[train]\nparams = { C = 2 }\n",
    )
    config = load_config(path)
    assert config.data.path == str(tmp_path.resolve() / "reviews.csv")
    assert config.data.text == "review_text"
    assert config.data.label is None
    assert config.split.seed == 7
    assert config.train.seed == 7
    assert config.train.params == {"C": 2}


def test_stage_seed_wins_over_top_level_seed() -> None:
    config = PipelineConfig.from_dict({"seed": 7, "split": {"seed": 3}})
    assert (config.split.seed, config.train.seed) == (3, 7)


def test_overrides_set_nested_values_with_toml_types(tmp_path: Path) -> None:
    path = write(tmp_path, '[data]\npath = "x.csv"\n')
    config = load_config(path, ["split.test=0.25", "train.params.C=10", "train.model=logreg"])
    assert config.split.test == 0.25
    assert config.train.params == {"C": 10}
    assert config.train.model == "logreg"


def test_parse_assignments_reads_toml_values_and_bare_words() -> None:
    parsed = parse_assignments(["C=4", "ngram_range=[1, 3]", "name=svm", "flag=true"])
    assert parsed == {"C": 4, "ngram_range": [1, 3], "name": "svm", "flag": True}


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        pytest.param(
            "[split]\ntset = 0.2\n",
            r"unknown key split\.'tset'; valid keys are: group, leakage_guard, seed, stratify, "
            r"test, time, val",
            id="unknown key: the valid ones are listed",
        ),
        pytest.param(
            '[split]\ntest = "a lot"\n',
            r"split\.test must be float, got 'a lot'",
            id="wrong type",
        ),
        pytest.param("[data\n", "not valid TOML", id="malformed"),
        pytest.param(
            '[clean]\nconflicts = "vote"\n',
            r"clean\.conflicts must be one of drop, majority, keep",
            id="value not among the choices",
        ),
        pytest.param("[clean]\ndedupe = true\n", r"unknown key clean\.'dedupe'", id="clean key"),
    ],
)
def test_a_wrong_config_file_is_refused_naming_the_key(
    tmp_path: Path, toml: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, toml))


def test_shares_that_leave_no_training_rows_are_refused() -> None:
    with pytest.raises(ConfigError, match="must leave rows to train on"):
        SplitConfig(test=0.6, val=0.4)


@pytest.mark.parametrize("threads", [0, -2])
def test_train_threads_below_one_are_refused(threads: int) -> None:
    with pytest.raises(
        ConfigError, match=f"train.threads must be >= 1 \\(or unset\\), got {threads}"
    ):
        TrainConfig(model="fasttext", threads=threads)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_override_without_equals_is_refused() -> None:
    with pytest.raises(ConfigError, match="is not key=value"):
        apply_overrides({}, ["split.test"])


def test_to_dict_round_trips() -> None:
    config = PipelineConfig.from_dict(
        {"data": {"path": "/d.csv", "drop_labels": ["plot"]}, "train": {"params": {"C": 1.5}}}
    )
    assert PipelineConfig.from_dict(config.to_dict()) == config
    assert config.data.drop_labels == ("plot",)


def test_clean_section_is_read(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, '[clean]\nduplicates = "normalized"\nlabel_map = { pos = "positive" }\n')
    )
    assert config.clean.duplicates == "normalized"
    assert dict(config.clean.label_map) == {"pos": "positive"}
    assert config.clean.enabled


def test_evaluate_section_is_read_and_checked() -> None:
    config = PipelineConfig.from_dict(
        {"evaluate": {"slices": ["movie", "source"], "examples": 3, "length_buckets": 4}}
    )
    assert config.evaluate.slices == ("movie", "source")
    assert (config.evaluate.examples, config.evaluate.length_buckets) == (3, 4)
    with pytest.raises(ConfigError, match=r"evaluate\.examples must be >= 0, got -1"):
        PipelineConfig.from_dict({"evaluate": {"examples": -1}})
    with pytest.raises(ConfigError, match=r"evaluate\.length_buckets must be >= 1, got 0"):
        PipelineConfig.from_dict({"evaluate": {"length_buckets": 0}})
