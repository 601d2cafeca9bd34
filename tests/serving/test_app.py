"""The HTTP API in process (httpx's ASGI transport): every endpoint, each limit, the one error
shape, the API key, and bad input never answered with a 500."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from modelcycle.exceptions import ArtifactError, ConfigError
from modelcycle.export import export_model
from modelcycle.models import load_model, make_model
from modelcycle.prediction import predict
from modelcycle.serving import ServedModel, ServeSettings, create_app
from tests.serving.conftest import LABELS, PARAMS, TEXTS, serving

pytestmark = pytest.mark.anyio


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize("family", ["logreg", "fasttext"])
async def test_predict_one_text_matches_the_model(
    family: str, logreg_dir: Path, fasttext_dir: Path
) -> None:
    model_dir = {"logreg": logreg_dir, "fasttext": fasttext_dir}[family]
    expected = predict(load_model(model_dir), ["a wonderful film"]).records()
    async with serving(create_app(model_dir)) as client:
        response = await client.post("/v1/predict", json={"texts": ["a wonderful film"]})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"predictions", "model"}
    (prediction,) = body["predictions"]
    assert prediction["label"] == expected[0]["label"] == "positive"
    assert prediction["scores"] == pytest.approx(expected[0]["scores"], abs=1e-6)
    assert sum(prediction["scores"].values()) == pytest.approx(1.0, abs=1e-5)
    assert body["model"]["name"] == model_dir.name
    assert body["model"]["precision"] == "fp32"
    assert len(body["model"]["version"]) == 12


async def test_predict_many_texts_keeps_their_order(logreg_dir: Path) -> None:
    texts = ["an awful, boring film", "a wonderful film", "", "great great great", "terrible"]
    async with serving(create_app(logreg_dir)) as client:
        response = await client.post("/v1/predict", json={"texts": texts})
    labels = [p["label"] for p in response.json()["predictions"]]
    expected = predict(load_model(logreg_dir), texts).records()
    assert labels == [r["label"] for r in expected]
    assert labels[:2] == ["negative", "positive"]


async def test_model_health_readiness_metrics_openapi(logreg_dir: Path) -> None:
    settings = ServeSettings(max_texts=7, max_text_chars=99, max_body_bytes=5000, name="reviews")
    async with serving(create_app(logreg_dir, settings=settings)) as client:
        model = (await client.get("/v1/model")).json()
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        await client.post("/v1/predict", json={"texts": ["a", "b"]})
        await client.post("/v1/predict", json={"texts": []})
        metrics = await client.get("/metrics")
        schema = (await client.get("/openapi.json")).json()
    assert model["name"] == "reviews"
    assert model["labels"] == ["negative", "positive"]
    assert model["source_family"] == "logreg"
    assert model["ready"] is True
    assert model["limits"] == {"max_body_bytes": 5000, "max_texts": 7, "max_text_chars": 99}
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'modelcycle_requests_total{method="POST",path="/v1/predict",status="200"} 1.0' in text
    assert 'modelcycle_errors_total{code="invalid_request"} 1.0' in text
    assert "modelcycle_texts_total 2.0" in text
    assert "modelcycle_batch_texts_count" in text
    assert 'modelcycle_request_duration_seconds_bucket{le="0.005",path="/v1/predict"}' in text
    assert 'modelcycle_model_info{name="reviews",precision="fp32"' in text
    assert "modelcycle_ready 1.0" in text
    body = schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/PredictRequest"}
    texts = schema["components"]["schemas"]["PredictRequest"]["properties"]["texts"]
    assert (texts["maxItems"], texts["items"]["maxLength"]) == (7, 99)
    assert set(schema["paths"]) >= {"/v1/predict", "/v1/model", "/healthz", "/readyz", "/metrics"}
    responses = schema["paths"]["/v1/predict"]["post"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PredictResponse"
    )
    assert {"Prediction", "ModelIdentity", "ErrorResponse"} <= set(schema["components"]["schemas"])


async def test_not_ready_before_warm_up(logreg_dir: Path) -> None:
    app = create_app(logreg_dir)
    transport = httpx.ASGITransport(app=app)  # no lifespan: the model is never warmed up
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ready = await client.get("/readyz")
        predicted = await client.post("/v1/predict", json={"texts": ["a"]})
        health = await client.get("/healthz")
    assert_error(ready, 503, "not_ready")
    assert_error(predicted, 503, "not_ready")
    assert predicted.headers["retry-after"] == "1"
    assert health.status_code == 200


async def test_limits_answer_413_in_the_error_shape(logreg_dir: Path) -> None:
    settings = ServeSettings(max_texts=3, max_text_chars=20, max_body_bytes=300)
    async with serving(create_app(logreg_dir, settings=settings)) as client:
        many = await client.post("/v1/predict", json={"texts": ["a"] * 4})
        long = await client.post("/v1/predict", json={"texts": ["ok", "x" * 21]})
        large = await client.post("/v1/predict", json={"texts": ["y" * 400]})
        exact = await client.post("/v1/predict", json={"texts": ["a", "b", "x" * 20]})
    assert "limit is 3" in assert_error(many, 413, "too_many_texts")["message"]
    assert "texts[1]" in assert_error(long, 413, "text_too_long")["message"]
    assert "300 bytes" in assert_error(large, 413, "body_too_large")["message"]
    assert exact.status_code == 200


async def test_body_streamed_past_the_limit_is_refused(logreg_dir: Path) -> None:
    async def chunks() -> Any:
        for _ in range(10):
            yield b'{"texts": ["' + b"z" * 100

    settings = ServeSettings(max_body_bytes=500)
    async with serving(create_app(logreg_dir, settings=settings)) as client:
        response = await client.post("/v1/predict", content=chunks())
    assert_error(response, 413, "body_too_large")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "invalid_json"),
        (b"{", 400, "invalid_json"),
        (b"not json", 400, "invalid_json"),
        (b'{"texts": ["\xff\xfe"]}', 400, "invalid_json"),
        (b'{"texts": ["\\ud800"]}', 400, "invalid_json"),
        (b"null", 422, "invalid_request"),
        (b"[]", 422, "invalid_request"),
        (b"{}", 422, "invalid_request"),
        (b'{"texts": []}', 422, "invalid_request"),
        (b'{"texts": "one"}', 422, "invalid_request"),
        (b'{"texts": [1, 2]}', 422, "invalid_request"),
        (b'{"texts": [null]}', 422, "invalid_request"),
        (b'{"texts": ["a"], "extra": 1}', 422, "invalid_request"),
        (b'{"text": "a"}', 422, "invalid_request"),
    ],
)
async def test_bad_bodies_are_4xx_never_500(
    logreg_dir: Path, body: bytes, status: int, code: str
) -> None:
    async with serving(create_app(logreg_dir)) as client:
        response = await client.post(
            "/v1/predict", content=body, headers={"content-type": "application/json"}
        )
    assert_error(response, status, code)


async def test_odd_but_valid_texts_are_answered(logreg_dir: Path) -> None:
    texts = ["a\x00b", "\u202e\U0001f600 émoji", " ", "\n\t", "<b>html</b>", "ß" * 50]
    async with serving(create_app(logreg_dir)) as client:
        # curl -d sends a form content type: the body is still read as JSON
        response = await client.post(
            "/v1/predict",
            content=json.dumps({"texts": texts}),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == len(texts)


async def test_routing_errors_share_the_shape(logreg_dir: Path) -> None:
    async with serving(create_app(logreg_dir)) as client:
        missing = await client.get("/v2/nothing")
        method = await client.get("/v1/predict")
    assert "/v2/nothing" in assert_error(missing, 404, "not_found")["message"]
    error = assert_error(method, 405, "method_not_allowed")
    assert error["message"] == "GET is not allowed on /v1/predict; use POST"
    assert method.headers["allow"] == "POST"


async def test_api_key_missing_or_wrong_is_401_right_is_200(
    logreg_dir: Path, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hmac

    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("modelcycle.serving._gate.hmac.compare_digest", spy)
    settings = ServeSettings(api_key_env="MODELCYCLE_TEST_KEY")
    body = {"texts": ["a wonderful film"]}
    async with serving(create_app(logreg_dir, settings=settings)) as client:
        missing = await client.post("/v1/predict", json=body)
        wrong = await client.post("/v1/predict", json=body, headers={"authorization": "Bearer x"})
        prefix = await client.post("/v1/predict", json=body, headers={"x-api-key": api_key[:-1]})
        bearer = await client.post(
            "/v1/predict", json=body, headers={"authorization": f"Bearer {api_key}"}
        )
        header = await client.post("/v1/predict", json=body, headers={"x-api-key": api_key})
        metrics = await client.get("/metrics")
        model = await client.get("/v1/model", headers={"x-api-key": api_key})
        probes = [(await client.get(path)).status_code for path in ("/healthz", "/readyz")]
    assert_error(missing, 401, "unauthorized")
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "not valid" in assert_error(wrong, 401, "unauthorized")["message"]
    assert_error(prefix, 401, "unauthorized")
    assert (bearer.status_code, header.status_code, model.status_code) == (200, 200, 200)
    assert_error(metrics, 401, "unauthorized")
    assert probes == [200, 200]
    assert (b"x", api_key.encode()) in compared  # every key is checked by hmac.compare_digest


def test_an_unset_api_key_variable_refuses_to_start(
    logreg_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELCYCLE_NO_SUCH_KEY", raising=False)
    settings = ServeSettings(api_key_env="MODELCYCLE_NO_SUCH_KEY")
    with pytest.raises(ConfigError, match="MODELCYCLE_NO_SUCH_KEY is unset or empty"):
        create_app(logreg_dir, settings=settings)


async def test_access_log_is_one_json_record_per_request(
    logreg_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from modelcycle.serving._server import JsonFormatter

    async with serving(create_app(logreg_dir)) as client:
        with caplog.at_level(logging.INFO, logger="modelcycle.access"):
            await client.post("/v1/predict", json={"texts": ["a", "b"]})
            await client.post("/v1/predict", json={"texts": 3})
    records = [r for r in caplog.records if r.name == "modelcycle.access"]
    lines = [json.loads(JsonFormatter().format(r)) for r in records]
    assert [(x["path"], x["status"]) for x in lines] == [("/v1/predict", 200)] * 1 + [
        ("/v1/predict", 422)
    ]
    assert lines[0]["texts"] == 2
    assert lines[1]["error"] == "invalid_request"
    assert lines[0]["client"] == "127.0.0.1:50000"
    assert lines[0]["duration_ms"] >= 0


def test_a_tampered_model_directory_is_refused(logreg_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(logreg_dir, copy)
    graph = copy / "model.onnx"
    graph.write_bytes(graph.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ArtifactError, match="SHA-256"):
        create_app(copy)


def test_a_trained_model_directory_is_refused_with_the_export_command(tmp_path: Path) -> None:
    from modelcycle.models import make_model, save_model
    from tests.serving.conftest import LABELS, TEXTS

    model = make_model("logreg", {"min_df": 1}, seed=0).fit(TEXTS, LABELS)
    save_model(model, tmp_path / "model")
    with pytest.raises(ArtifactError, match="modelcycle export"):
        ServedModel.load(tmp_path / "model")


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="max_texts must be an integer from 1"):
        ServeSettings(max_texts=0)
    with pytest.raises(ConfigError, match="max_wait_ms"):
        ServeSettings(max_wait_ms=-1)
    with pytest.raises(ConfigError, match="unknown serve setting 'port_number'"):
        ServeSettings.from_json({"port_number": 1})
    settings = ServeSettings(port=9000, max_batch=4)
    assert ServeSettings.from_json(settings.to_json()) == settings


@pytest.mark.parametrize("max_batch", [1, 32])
async def test_batching_on_or_off_gives_the_same_answers(logreg_dir: Path, max_batch: int) -> None:
    texts = ["a wonderful film", "an awful film", "great", ""]
    expected = predict(load_model(logreg_dir), texts).records()
    settings = ServeSettings(max_batch=max_batch)
    async with serving(create_app(logreg_dir, settings=settings)) as client:
        one_by_one = [
            (await client.post("/v1/predict", json={"texts": [t]})).json()["predictions"][0]
            for t in texts
        ]
        metrics = (await client.get("/metrics")).text
    assert [p["label"] for p in one_by_one] == [r["label"] for r in expected]
    for answer, record in zip(one_by_one, expected, strict=True):
        assert answer["scores"] == pytest.approx(record["scores"], abs=1e-6)
    assert "modelcycle_batch_texts_count 4.0" in metrics


async def test_a_model_failure_is_a_500_in_the_error_shape(
    logreg_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(logreg_dir)
    async with serving(app) as client:

        def broken(texts: list[str]) -> Any:
            raise RuntimeError("onnxruntime exploded")

        app.state.model.classifier.predict_proba = broken
        with caplog.at_level(logging.ERROR, logger="modelcycle.serving"):
            response = await client.post("/v1/predict", json={"texts": ["a"]})
        health = await client.get("/healthz")
    assert "see the server log" in assert_error(response, 500, "internal_error")["message"]
    assert "onnxruntime exploded" in caplog.text
    assert health.status_code == 200


async def test_requests_after_shutdown_get_a_503(logreg_dir: Path) -> None:
    app = create_app(logreg_dir)
    async with serving(app) as client:
        assert (await client.post("/v1/predict", json={"texts": ["a"]})).status_code == 200
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as after:
        response = await after.post("/v1/predict", json={"texts": ["a"]})
        ready = await after.get("/readyz")
    assert_error(response, 503, "not_ready")
    assert_error(ready, 503, "not_ready")


async def test_a_transformer_export_is_served_with_its_tokenizer(
    tiny_backbone: Path, tmp_path: Path
) -> None:
    """The transformer family's ONNX directory (graph + tokenizer.json) serves like the others."""
    pytest.importorskip("transformers", reason="the transformer extra is not installed")
    params = {"backbone": str(tiny_backbone), "freeze": True, "epochs": 3}
    model = make_model("transformer", params, seed=0).fit(TEXTS, LABELS)
    model_dir = tmp_path / "transformer-onnx"
    export_model(model, model_dir)
    texts = ["a wonderful film", "an awful, boring film"]
    expected = predict(load_model(model_dir), texts).records()
    async with serving(create_app(model_dir)) as client:
        response = await client.post("/v1/predict", json={"texts": texts})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["label"] for p in predictions] == [r["label"] for r in expected]
    for got, want in zip(predictions, expected, strict=True):
        assert got["scores"] == pytest.approx(want["scores"], abs=1e-5)


@pytest.mark.parametrize("family", ["fasttext", "transformer"])
async def test_a_text_input_export_is_served(family: str, tmp_path: Path) -> None:
    """`export -o DIR --text-input`: the server feeds the graph strings and answers the model's
    labels and scores, its stored temperature and threshold applied once."""
    from modelcycle.postprocess import Postprocess, Threshold

    params = PARAMS.get(family)
    if params is None:
        pytest.importorskip("transformers", reason="the transformer extra is not installed")
        pytest.importorskip("onnxruntime_extensions", reason="the onnx extra is not installed")
        from tests.tiny_bert import make_tiny_backbone

        # every letter a WordPiece (as in a real BERT vocabulary): any word tokenizes alike
        backbone = make_tiny_backbone(tmp_path / "bert", letters=True)
        params = {"backbone": str(backbone), "freeze": True, "epochs": 3}
    model = make_model(family, params, seed=0).fit(TEXTS, LABELS)
    model.postprocess_ = Postprocess(2.0, Threshold("positive", 0.6, "precision"))
    export_model(model, tmp_path / "text-onnx", text_input=True)
    texts = ["a wonderful film", "an awful, boring film", "", "film film"]
    labels, scores = model.postprocess_.apply(model.predict_proba(texts), model.classes_)
    async with serving(create_app(tmp_path / "text-onnx")) as client:
        response = await client.post("/v1/predict", json={"texts": texts})
        shown = (await client.get("/v1/model")).json()
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["label"] for p in predictions] == labels.tolist()
    got = [[p["scores"][c] for c in model.classes_] for p in predictions]
    np.testing.assert_allclose(got, scores, atol=1e-5)
    assert shown["labels"] == model.classes_.tolist()


async def test_the_probes_answer_head(logreg_dir: Path) -> None:
    async with serving(create_app(logreg_dir)) as client:
        answers = [await client.head(path) for path in ("/healthz", "/readyz")]
        schema = (await client.get("/openapi.json")).json()
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.headers["content-type"] for a in answers] == ["application/json"] * 2
    assert set(schema["paths"]["/healthz"]) == {"get"}  # HEAD is implied, not another operation
    transport = httpx.ASGITransport(app=create_app(logreg_dir))  # no lifespan: never ready
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.head("/readyz")).status_code == 503


async def test_docs_load_swagger_ui_from_this_server(logreg_dir: Path) -> None:
    """/docs works offline: every file it loads comes from the server itself."""
    import re

    async with serving(create_app(logreg_dir)) as client:
        page = await client.get("/docs")
        urls = re.findall(r'(?:src|href)="([^"]*)"', page.text)
        files = {url: await client.get(url) for url in urls}
    assert page.status_code == 200
    assert "://" not in page.text  # no other origin, not even in the script
    assert sorted(urls) == [
        "/static-offline-docs/favicon.png",
        "/static-offline-docs/swagger-ui-bundle.js",
        "/static-offline-docs/swagger-ui.css",
    ]
    types = {url: answer.headers["content-type"].split(";")[0] for url, answer in files.items()}
    assert types == {
        "/static-offline-docs/favicon.png": "image/png",
        "/static-offline-docs/swagger-ui-bundle.js": "text/javascript",
        "/static-offline-docs/swagger-ui.css": "text/css",
    }
    assert all(answer.status_code == 200 and answer.content for answer in files.values())
    assert b"SwaggerUIBundle" in files["/static-offline-docs/swagger-ui-bundle.js"].content


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"texts": [1]}', "texts.0: Input should be a valid string; expected"),
        (b'{"texts": [1, 2]}', "texts.0: Input should be a valid string (and 1 more problem);"),
        (b'{"texts": [1, 2, 3]}', "texts.0: Input should be a valid string (and 2 more problems);"),
    ],
)
async def test_invalid_request_counts_the_other_problems(
    logreg_dir: Path, body: bytes, message: str
) -> None:
    async with serving(create_app(logreg_dir)) as client:
        response = await client.post("/v1/predict", content=body)
    assert assert_error(response, 422, "invalid_request")["message"].startswith(message)


async def asgi_post(
    app: Any, chunks: list[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[list[str], int]:
    """POST ``chunks`` to ``app`` as an ASGI server would: what happened in order (each body
    chunk the app read, then the answer), and the answer's status."""
    events: list[str] = []
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        events.append(f"read {len(chunk)}")
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    status = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
            events.append("answer")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/predict",
        "raw_path": b"/v1/predict",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    await app(scope, receive, send)
    return events, status[0]


async def test_a_body_over_the_limit_is_read_to_its_end_before_the_413(logreg_dir: Path) -> None:
    """A client that sends its whole body before it reads (http.client, requests) reads the 413:
    the body is read and dropped first (a close with unread input would send a reset)."""
    app = create_app(logreg_dir, settings=ServeSettings(max_body_bytes=1000))
    declared = [(b"content-length", b"3000")]
    events, status = await asgi_post(app, [b"x" * 1000] * 3, declared)
    assert (events, status) == (["read 1000", "read 1000", "read 1000", "answer"], 413)
    # streamed without a length: read past the limit, then to its end
    events, status = await asgi_post(app, [b"x" * 600] * 4, [])
    assert (events, status) == (["read 600"] * 4 + ["answer"], 413)
    # a client that waits for "100 Continue" has sent nothing: it is answered at once
    waiting = [*declared, (b"expect", b"100-continue")]
    events, status = await asgi_post(app, [b"x" * 1000] * 3, waiting)
    assert (events, status) == (["answer"], 413)


async def test_a_body_far_over_the_limit_is_not_read(logreg_dir: Path) -> None:
    app = create_app(logreg_dir, settings=ServeSettings(max_body_bytes=1000))
    declared = [(b"content-length", str(32 << 20).encode())]  # over 16 MiB and 4 x the limit
    events, status = await asgi_post(app, [b"x" * 1000] * 3, declared)
    assert (events, status) == (["answer"], 413)


async def test_a_quantized_variant_shows_its_measured_metrics(
    logreg_dir: Path, tmp_path: Path
) -> None:
    from modelcycle.config import QuantizeConfig
    from modelcycle.data import Dataset
    from modelcycle.quantization import quantize

    model = make_model("logreg", {"min_df": 1}, seed=0).fit(TEXTS, LABELS)
    data = Dataset.from_records(TEXTS, LABELS, source="reviews")
    fast = {"latency_texts": 5, "throughput_texts": 64, "guardrail_texts": 24}
    table = quantize(model, data, tmp_path / "q", QuantizeConfig(precisions=("int8",), **fast))
    async with serving(create_app(tmp_path / "q" / "int8")) as client:
        shown = (await client.get("/v1/model")).json()
    row = table.row("int8")
    assert shown["precision"] == "int8"
    assert shown["metrics"]["accuracy"] == row["accuracy"]
    assert shown["metrics"]["latency_ms_p50"] == row["latency_ms_p50"]
    assert (shown["metrics"]["n"], shown["metrics"]["data"]) == (len(TEXTS), "reviews")


def test_head_limits_are_validated() -> None:
    with pytest.raises(ConfigError, match="max_header_bytes must be an integer from 1024"):
        ServeSettings(max_header_bytes=100)
    with pytest.raises(ConfigError, match="header_timeout_s must be a number over 0"):
        ServeSettings(header_timeout_s=0)
    settings = ServeSettings(max_header_bytes=8192, header_timeout_s=0.5)
    assert ServeSettings.from_json(settings.to_json()) == settings


@pytest.mark.parametrize(
    "body",
    [
        {"texts": ["a wonderful film", "", "an awful, boring film"]},
        {"texts": ["a"] * 4},
        {"texts": ["ok", "x" * 21]},
        {"texts": []},
        {"texts": [1, 2]},
        {"texts": ["a"], "extra": 1},
        {},
    ],
)
async def test_the_predict_route_and_its_fast_path_answer_alike(
    logreg_dir: Path, body: dict[str, Any]
) -> None:
    """The Gate answers POST /v1/predict on a fast path; FastAPI's route, reached without the
    Gate, gives the same status and the same bytes (the same models on both paths)."""
    settings = ServeSettings(max_texts=3, max_text_chars=20)
    fast = create_app(logreg_dir, settings=settings)
    route = create_app(logreg_dir, settings=settings)
    route.user_middleware.clear()  # before its first request: no Gate in front of FastAPI
    async with serving(fast) as through_gate, serving(route) as through_fastapi:
        answers = [
            await client.post("/v1/predict", json=body)
            for client in (through_gate, through_fastapi)
        ]
    (status, content), other = [(a.status_code, a.content) for a in answers]
    assert (status, content) == other
    assert status in (200, 413, 422)


async def test_a_fault_in_any_route_is_the_same_500(
    logreg_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Any) -> bytes:
        raise RuntimeError("registry exploded")

    monkeypatch.setattr("modelcycle.serving._metrics.Metrics.exposition", broken)
    async with serving(create_app(logreg_dir)) as client:
        with caplog.at_level(logging.ERROR, logger="modelcycle.serving"):
            response = await client.get("/metrics")
        health = await client.get("/healthz")
    error = assert_error(response, 500, "internal_error")
    assert error["message"] == "internal error; see the server log"
    assert "registry exploded" in caplog.text
    assert health.status_code == 200
