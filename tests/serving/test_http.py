"""The real server on the wire (`modelcycle serve` in a subprocess on a free loopback port):
what plain clients read when a request is refused, the limits on a request's head, uvicorn's
own answers in the JSON error shape, and an address that cannot be listened on."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serving.conftest import free_port, running_server

MODELCYCLE = [sys.executable, "-m", "modelcycle"]
BODY_LIMIT = 4_000_000  # a body twice this size outgrows the loopback socket's buffers
HEADER_LIMIT = 4096
HEADER_TIMEOUT_S = 1
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def port(logreg_dir: Path) -> Iterator[int]:
    """A server with small head limits, on a free port."""
    port = free_port()
    command = [
        *MODELCYCLE,
        "serve",
        str(logreg_dir),
        "--port",
        str(port),
        "--max-body-bytes",
        str(BODY_LIMIT),
        "--max-header-bytes",
        str(HEADER_LIMIT),
        "--header-timeout",
        str(HEADER_TIMEOUT_S),
    ]
    with running_server(command, port):
        yield port


def error_of(status: int, content_type: str | None, body: bytes) -> dict[str, Any]:
    """The error of an answer in the one JSON shape (and nothing else in it)."""
    assert content_type == "application/json", body[:200]
    document = json.loads(body)
    assert set(document) == {"error"}
    assert set(document["error"]) == {"code", "message"}
    return {"status": status, **document["error"]}


def raw_exchange(port: int, data: bytes) -> tuple[int, str | None, bytes]:
    """Send ``data`` on a new connection, read until the server closes it (30 s at most)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers.get("content-type"), body


def exchange(port: int, method: str, path: str, **request: Any) -> tuple[int, str | None, bytes]:
    """One request through Python's http.client, as a plain client sends it (the whole body
    before it reads the answer)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, **request)
        answer = connection.getresponse()
        return answer.status, answer.getheader("content-type"), answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("method", "path", "request_args", "expected"),
    [
        pytest.param(
            "POST",
            "/v1/predict",
            {"body": b"x" * (2 * BODY_LIMIT), "headers": JSON},
            {
                "status": 413,
                "code": "body_too_large",
                "message": "the request body is over the limit of 4,000,000 bytes; send fewer "
                "or shorter texts per request",
            },
            id="a client that sends its whole body reads the 413",
        ),
        pytest.param(
            "GET",
            "/healthz",
            {"headers": {"X-Big": "a" * 1_000_000}},
            {
                "status": 431,
                "code": "headers_too_large",
                "message": "the request line and headers are over the limit of 4,096 bytes; "
                "send fewer or shorter headers",
            },
            id="a head over the limit gets a 431",
        ),
    ],
)
def test_a_request_over_a_limit_gets_its_json_error(
    port: int, method: str, path: str, request_args: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert error_of(*exchange(port, method, path, **request_args)) == expected


def test_a_half_sent_request_gets_a_408_and_is_closed(port: int) -> None:
    # raw_exchange reads until the server closes the connection: it returns only if it does
    answer = raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: a")
    assert error_of(*answer) == {
        "status": 408,
        "code": "request_timeout",
        "message": "the request line and headers did not arrive within 1 s; send the whole "
        "request at once",
    }


def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        assert connection.recv(1024) == b""  # closed by the server, without an answer


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\x01 / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: test\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n",
        b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_requests_that_are_not_http_get_a_json_400(port: int, request_bytes: bytes) -> None:
    assert error_of(*raw_exchange(port, request_bytes)) == {
        "status": 400,
        "code": "bad_request",
        "message": "the request is not valid HTTP/1.1 (a malformed request line, header or "
        "body framing); send a well-formed request",
    }


def test_the_probes_answer_head(port: int) -> None:
    for path in ("/healthz", "/readyz"):
        assert exchange(port, "HEAD", path) == (200, "application/json", b"")


def test_a_keep_alive_connection_serves_several_requests(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for _ in range(3):
            connection.request("POST", "/v1/predict", body=b'{"texts": ["a wonderful film"]}')
            answer = connection.getresponse()
            assert answer.status == 200
            assert json.loads(answer.read())["predictions"][0]["label"] == "positive"
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("host", "reason"),
    [("127.0.0.1", "Address already in use"), ("203.0.113.7", "Cannot assign requested address")],
)
def test_an_address_that_cannot_be_listened_on_is_one_line_and_exit_1(
    logreg_dir: Path, host: str, reason: str
) -> None:
    with socket.socket() as taken:  # the port is in use; 203.0.113.7 is no address of ours
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*MODELCYCLE, "serve", str(logreg_dir), "--host", host, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (  # one line: nothing started, nothing logged "ready"
        f"error: cannot listen on {host}:{port}: {reason}; choose another port or host\n"
    )
