"""The HTTP/1.1 connection: uvicorn's httptools protocol with the limits it lacks on a request's
head, and every answer that uvicorn makes itself in the API's JSON error shape.

- A request line and headers over ``max_header_bytes`` get a 431 (httptools alone has no limit:
  a 64 MB header was read into memory and answered).
- A request whose line and headers have not all arrived ``header_timeout_s`` after it began (or
  after the connection opened) gets a 408 and the connection is closed; a connection that sent
  nothing is closed. Without it, half-sent requests held connections for ever.
- Bytes that are not HTTP/1.1 get a 400 in the JSON shape (uvicorn's own is text/plain).

Each of these answers closes the connection the way that lets a client still sending read it:
the answer, then the end of our side of the stream, then what the client still sends is read and
dropped for up to ``LINGER_SECONDS`` (a plain close with unread input sends a reset instead).
Imported by :func:`modelcycle.serving.serve` only: uvicorn loads lazily.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from modelcycle.serving._errors import error_body

__all__ = ["LINGER_SECONDS", "HeadLimitedProtocol", "ServerConfig"]

LINGER_SECONDS = 2.0
"""How long a refused connection reads and drops what its client still sends before it closes."""

log = logging.getLogger("modelcycle.serving")


class ServerConfig(uvicorn.Config):
    """uvicorn's settings plus the head limits of :class:`HeadLimitedProtocol` (which it uses)."""

    def __init__(
        self, app: Any, *, max_header_bytes: int, header_timeout_s: float, **options: Any
    ) -> None:
        super().__init__(app, http=HeadLimitedProtocol, **options)
        self.max_header_bytes = max_header_bytes
        self.header_timeout_s = header_timeout_s


class HeadLimitedProtocol(HttpToolsProtocol):
    """One HTTP/1.1 connection, with a size and a time limit on each request's head."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        assert isinstance(config, ServerConfig)
        self.max_header_bytes = config.max_header_bytes
        self.header_timeout_s = config.header_timeout_s
        self.in_head = False  # between the first byte of a request and the end of its headers
        self.head_bytes = 0  # bytes received while in the head (counted by whole reads)
        self.head_timer: asyncio.TimerHandle | None = None
        self.refused = False  # an error answer was sent: what still comes is dropped

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        super().data_received(data)
        if self.in_head and not self.refused:
            self.head_bytes += len(data)
            if self.head_bytes > self.max_header_bytes:
                self.refuse(
                    431,
                    "headers_too_large",
                    f"the request line and headers are over the limit of "
                    f"{self.max_header_bytes:,} bytes; send fewer or shorter headers",
                )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head, self.head_bytes = True, 0
        if self.head_timer is None:
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self.in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes its parser refuses, in the JSON error shape."""
        self.refuse(
            400,
            "bad_request",
            "the request is not valid HTTP/1.1 (a malformed request line, header or body "
            "framing); send a well-formed request",
        )

    def refuse(self, status: int, code: str, message: str) -> None:
        """Answer ``status`` with the JSON error body, then close without a reset."""
        self.refused = True
        self.in_head = False
        self._cancel_head_timer()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the app's request is over: it sends nothing more
            self.cycle.message_event.set()
        if self.transport.is_closing():
            return
        body = error_body(code, message)
        head = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body)
        client = f"{self.client[0]}:{self.client[1]}" if self.client else None
        log.warning(
            "request refused", extra={"fields": {"status": status, "error": code, "client": client}}
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the client reads the answer and an end of stream
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def _arm_head_timer(self) -> None:
        self.head_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        if not self.in_head:  # nothing sent yet: nothing to answer
            self.transport.close()
            return
        self.refuse(
            408,
            "request_timeout",
            f"the request line and headers did not arrive within {self.header_timeout_s:g} s; "
            "send the whole request at once",
        )


_REASONS = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large"}
