"""The app under gunicorn in a child process on a free loopback port, as production runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def gunicorn(settings: dict[str, str], *, workers: int = 2, threads: int = 4) -> Iterator[str]:
    """Serve ``wsgi:app`` with ``ENGAGEMENT_<name>`` = value for each setting; yields the base URL."""
    with gunicorns(settings, 1, workers=workers, threads=threads) as (base,):
        yield base


@contextmanager
def gunicorns(
    settings: dict[str, str], count: int, *, workers: int = 2, threads: int = 4
) -> Iterator[list[str]]:
    """``count`` servers of the same configuration (hosts behind one load balancer), started together."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGEMENT_")}
    env.update({f"ENGAGEMENT_{k}": v for k, v in settings.items()})
    env.setdefault("ENGAGEMENT_ENV", "test")
    env.setdefault("ENGAGEMENT_LOG_LEVEL", "WARNING")
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for _ in range(count):
            port = free_port()
            command = [
                str(Path(sys.executable).parent / "gunicorn"),
                "--workers", str(workers),
                "--worker-class", "gthread",
                "--threads", str(threads),
                "--bind", f"127.0.0.1:{port}",
                "--graceful-timeout", "2",
                "--log-level", "warning",
                "wsgi:app",
            ]  # fmt: skip
            started.append((f"http://127.0.0.1:{port}", subprocess.Popen(command, cwd=ROOT, env=env)))
        for base, process in started:
            _wait_live(base, process)
        yield [base for base, _ in started]
    finally:
        for _, process in started:
            process.terminate()
        for _, process in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _wait_live(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with requests.get(base + "/health/live", timeout=1) as response:
                if response.status_code == 200:
                    return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer within 30 s")
