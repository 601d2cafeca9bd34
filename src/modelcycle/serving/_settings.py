"""How a server runs: address, processes, micro-batching, request limits and the API key."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from modelcycle.exceptions import ConfigError

__all__ = ["ServeSettings"]


@dataclass(frozen=True, kw_only=True)
class ServeSettings:
    """Settings of :func:`modelcycle.serving.create_app` and ``modelcycle serve``.

    - ``host``/``port``: where to listen; loopback unless told otherwise.
    - ``workers``: server processes, each with its own model (``--workers``).
    - ``max_batch``: the most texts one model call merges from concurrent requests (on a model
      thread); 1 turns the micro-batcher off and runs each request's call on the event loop.
      ``max_wait_ms``: how long a batch may wait for more texts before it runs; 0 runs whatever
      has queued up while the model was busy, so a lone request never waits.
    - ``max_body_bytes``, ``max_texts``, ``max_text_chars``: request limits, answered with 413
      (a body over the limit is still read and dropped, up to the larger of 4x the limit and
      16 MiB, so that a client that sends its whole body before it reads still reads the 413).
    - ``max_header_bytes``: the most bytes of a request line and headers (431 beyond; counted by
      whole network reads, so a little more may pass). ``header_timeout_s``: how long a request's
      line and headers may take to arrive, from its first byte or the connection's opening (408
      and the connection closed beyond; a connection that sent nothing is closed).
    - ``api_key_env``: the name of an environment variable holding the API key; every path but
      ``/healthz`` and ``/readyz`` then needs ``Authorization: Bearer KEY`` (or ``X-API-Key``).
    - ``threads``: ONNX Runtime's threads per model call (1: best latency for small graphs).
    - ``access_log``: one JSON line per request on stderr.
    - ``name``: the model's name in answers (default: the model directory's name).
    - ``graceful_timeout_s``: how long a shutdown waits for requests in flight (seconds).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_batch: int = 32
    max_wait_ms: float = 0.0
    max_body_bytes: int = 1 << 20
    max_texts: int = 256
    max_text_chars: int = 50_000
    max_header_bytes: int = 32 << 10
    header_timeout_s: float = 10.0
    api_key_env: str | None = None
    threads: int = 1
    access_log: bool = True
    name: str | None = None
    graceful_timeout_s: int = 30

    def __post_init__(self) -> None:
        positive = {
            "port": (self.port, 0, 65535),
            "workers": (self.workers, 1, 1024),
            "max_batch": (self.max_batch, 1, 100_000),
            "max_body_bytes": (self.max_body_bytes, 1, 1 << 31),
            "max_texts": (self.max_texts, 1, 1_000_000),
            "max_text_chars": (self.max_text_chars, 1, 1 << 30),
            "max_header_bytes": (self.max_header_bytes, 1024, 1 << 24),
            "threads": (self.threads, 1, 1024),
            "graceful_timeout_s": (self.graceful_timeout_s, 0, 3600),
        }
        for name, (value, low, high) in positive.items():
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"{name} must be an integer from {low} to {high}, got {value!r}")
        wait = self.max_wait_ms
        if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 10_000:
            raise ConfigError(f"max_wait_ms must be a number from 0 to 10000, got {wait!r}")
        head = self.header_timeout_s
        if isinstance(head, bool) or not isinstance(head, int | float) or not 0 < head <= 3600:
            raise ConfigError(
                f"header_timeout_s must be a number over 0 and at most 3600, got {head!r}"
            )
        if not self.host:
            raise ConfigError("host must not be empty (e.g. 127.0.0.1, or 0.0.0.0 for all)")
        if self.api_key_env is not None and not self.api_key_env.strip():
            raise ConfigError("api_key_env must name an environment variable")

    def api_key(self) -> bytes | None:
        """The API key from the environment variable ``api_key_env`` (None without one).

        Read once, when the app is created; an unset or empty variable is a ConfigError, so a
        server meant to be protected never starts open.
        """
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env, "")
        if not key.strip():
            raise ConfigError(
                f"the API key variable {self.api_key_env} is unset or empty; set it "
                f"(e.g. export {self.api_key_env}=$(openssl rand -hex 32)) or leave out "
                "--api-key-env"
            )
        return key.strip().encode("utf-8")

    def to_json(self) -> dict[str, Any]:
        """The settings as plain data (the key itself is never included, only its variable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> ServeSettings:
        """Settings from :meth:`to_json`'s output; unknown keys are a ConfigError."""
        if not isinstance(data, dict):
            raise ConfigError("serve settings must be a JSON object")
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ConfigError(
                f"unknown serve setting {unknown[0]!r}; valid settings are: {', '.join(valid)}"
            )
        return cls(**data)
