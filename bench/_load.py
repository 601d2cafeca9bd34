"""A bounded HTTP load generator for bench_serving: keep-alive connections over raw asyncio
(uvloop), spread over several processes so that the client is not the bottleneck.

Written by hand rather than with a load-testing tool because the benchmark needs exactly this
and nothing more: a fixed number of single-text POST requests over a fixed number of
concurrent connections, either as fast as answers come back (closed loop) or at a fixed total
rate (open loop, latency counted from each request's scheduled time, so that a slow answer
delays no measurement), with every latency returned.

    python -m bench._load --port 8000 --clients 8 --requests 20000 --rate 1000 texts.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from typing import Any


def _request(host: str, port: int, text: str) -> bytes:
    body = json.dumps({"texts": [text]}).encode("utf-8")
    head = (
        f"POST /v1/predict HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


async def _connection(
    host: str,
    port: int,
    requests: list[bytes],
    start: float,
    interval: float,
    offset: float,
    latencies: list[float],
    errors: list[str],
) -> None:
    """Send ``requests`` one after the other on one keep-alive connection; with ``interval``
    > 0 the i-th is due at ``start + offset + i * interval``."""
    reader, writer = await asyncio.open_connection(host, port)
    loop_time = time.perf_counter
    try:
        for i, request in enumerate(requests):
            due = start + offset + i * interval
            if interval > 0:
                wait = due - loop_time()
                if wait > 0:
                    await asyncio.sleep(wait)
                began = due
            else:
                began = loop_time()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(loop_time() - began)
            if status != 200:
                errors.append(f"{status} {body[:200]!r}")
    except (OSError, asyncio.IncompleteReadError) as exc:
        errors.append(f"connection failed: {exc!r}")
    finally:
        writer.close()


def _process(
    host: str,
    port: int,
    texts: list[str],
    connections: int,
    per_connection: int,
    interval: float,
    first: int,
    total_connections: int,
    start_wall: float,
    queue: Any,
) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> tuple[list[float], list[str], float]:
        latencies: list[float] = []
        errors: list[str] = []
        # every process starts at the same wall-clock moment
        await asyncio.sleep(max(0.0, start_wall - time.time()))
        start = time.perf_counter()
        tasks = []
        for c in range(connections):
            index = first + c
            requests = [
                _request(host, port, texts[(index * per_connection + i) % len(texts)])
                for i in range(per_connection)
            ]
            # connections are staggered over one interval, so that the rate is smooth
            offset = interval * index / total_connections
            tasks.append(
                _connection(host, port, requests, start, interval, offset, latencies, errors)
            )
        await asyncio.gather(*tasks)
        return latencies, errors, time.perf_counter() - start

    queue.put(asyncio.run(main()))


def run_load(
    host: str,
    port: int,
    texts: list[str],
    *,
    clients: int = 8,
    requests: int = 20_000,
    rate: float | None = None,
    processes: int = 2,
) -> dict[str, Any]:
    """Send ``requests`` single-text requests over ``clients`` connections (in ``processes``
    processes), as fast as possible or at ``rate`` requests/s in all; latencies in ms."""
    import numpy as np

    per_connection = requests // clients
    interval = clients / rate if rate else 0.0  # each connection's gap between requests
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start_wall = time.time() + 1.5  # time for the processes to start
    shares = [
        clients // processes + (1 if p < clients % processes else 0) for p in range(processes)
    ]
    workers, first = [], 0
    for share in shares:
        worker = context.Process(
            target=_process,
            args=(
                host,
                port,
                texts,
                share,
                per_connection,
                interval,
                first,
                clients,
                start_wall,
                queue,
            ),
        )
        worker.start()
        workers.append(worker)
        first += share
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    latencies = np.asarray([x for r in results for x in r[0]]) * 1000
    errors = [e for r in results for e in r[1]]
    seconds = max(r[2] for r in results)
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if len(latencies) else (0, 0, 0)
    return {
        "requests": len(latencies),
        "clients": clients,
        "offered_rate": rate,
        "seconds": round(seconds, 3),
        "requests_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(float(p50), 3),
        "p95_ms": round(float(p95), 3),
        "p99_ms": round(float(p99), 3),
        "max_ms": round(float(latencies.max()), 3) if len(latencies) else 0.0,
        "errors": len(errors) + (clients * per_connection - len(latencies)),
        "first_errors": errors[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("texts", help="a JSON file holding a list of texts to send")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument(
        "--rate", type=float, default=None, help="requests/s (default: closed loop)"
    )
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    with open(args.texts, encoding="utf-8") as handle:
        texts = json.load(handle)
    figures = run_load(
        args.host,
        args.port,
        texts,
        clients=args.clients,
        requests=args.requests,
        rate=args.rate,
        processes=args.processes,
    )
    json.dump(figures, sys.stdout)
    print()


if __name__ == "__main__":
    main()
