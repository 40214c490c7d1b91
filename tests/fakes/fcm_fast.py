"""A fast FCM-compatible endpoint for benchmarks: asyncio, HTTP/1.1 keep-alive, pre-forked processes.

Run ``python -m tests.fakes.fcm_fast --processes 3``; it prints ``PORT <n>`` on its first line and serves
until SIGTERM. It answers every send with a fresh message id, except targets starting ``unregistered-``
(404 UNREGISTERED) and ``unavailable-`` (503), so a benchmark can include a realistic mix. It records
nothing: :mod:`tests.fakes.fcm_server` is the recording, scriptable fake for tests.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import signal
import socket
import sys

_UNREGISTERED = json.dumps(
    {
        "error": {
            "code": 404,
            "message": "Requested entity was not found.",
            "status": "NOT_FOUND",
            "details": [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}
            ],
        }
    }
).encode()
_UNAVAILABLE = json.dumps(
    {"error": {"code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE"}}
).encode()


def _response(status: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def _serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ids: itertools.count[int]
) -> None:
    prefix = f"projects/bench/messages/{os.getpid()}-".encode()
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            if b'"unregistered-' in body:
                writer.write(_response("404 Not Found", _UNREGISTERED))
            elif b'"unavailable-' in body:
                writer.write(_response("503 Service Unavailable", _UNAVAILABLE))
            else:
                writer.write(_response("200 OK", b'{"name": "' + prefix + str(next(ids)).encode() + b'"}'))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


def _run(sock: socket.socket) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    ids = itertools.count(1)

    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: _serve_connection(r, w, ids), sock=sock, backlog=4096
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--processes", type=int, default=max(1, min(4, (os.cpu_count() or 2) // 2)))
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(4096)
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_run, args=(sock,), daemon=True) for _ in range(args.processes)]
    for w in workers:
        w.start()
    print(f"PORT {sock.getsockname()[1]}", flush=True)

    def stop(*_: object) -> None:
        for w in workers:
            w.terminate()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
