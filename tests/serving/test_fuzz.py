"""Property-based fuzz of the API (schemathesis from /openapi.json): valid and invalid requests
to every operation, none answered with a 5xx, every error in the one JSON shape."""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi

from modelcycle.serving import ServeSettings, create_app


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.serving.conftest import export_tiny

    model_dir = export_tiny("logreg", tmp_path_factory.mktemp("fuzz") / "model")
    # small limits, so that the fuzzer reaches them
    app = create_app(model_dir, settings=ServeSettings(max_texts=8, max_text_chars=200))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)  # starts the app's lifespan
    with asgi.get_client(app) as client:
        for _ in range(6000):
            if client.get("/readyz").status_code == 200:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("the app did not become ready")
    return schema


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_request_gets_a_5xx(api_schema: Any, mode: str) -> None:
    # schemathesis' own pytest plugin does not work with this pytest; its strategies do
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/predict", "/v1/model", "/readyz"}
    if mode == "negative":  # only a body can be made invalid: the GETs take no parameters
        operations = [op for op in operations if op.method.upper() == "POST"]
    for operation in operations:
        strategy = operation.as_strategy(generation_mode=GenerationMode(mode))

        @given(case=strategy)
        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call()
            assert response.status_code < 500, (case.as_curl_command(), response.text)
            if response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error"}
                assert isinstance(body["error"]["code"], str)
                assert isinstance(body["error"]["message"], str)
            if case.path == "/v1/predict" and response.status_code == 200:
                predictions = response.json()["predictions"]
                assert len(predictions) == len(case.body["texts"])
                assert all(p["label"] in ("negative", "positive") for p in predictions)

        check()
