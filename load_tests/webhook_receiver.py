"""A bare ASGI webhook receiver for the benchmarks: verifies each delivery's signature with
$RECEIVER_SECRET and answers 204 (400 on a bad signature). `receiving()` runs it under uvicorn,
one process, on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from feature_store.redis_server import free_port
from webhooks.errors import SignatureError
from webhooks.signing import verify

SECRET = os.environ.get("RECEIVER_SECRET", "")
START_SECONDS = 20.0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = dict(scope["headers"])
    try:
        verify(SECRET, headers.get(b"riskscore-signature", b"").decode(), body)
        status = 204
    except SignatureError:
        status = 400
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@contextmanager
def receiving(secret: str) -> Iterator[str]:
    """The receiver's URL while it runs (verifying with `secret`); stopped after the block."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "load_tests.webhook_receiver:app", "--port", str(port),
        "--log-level", "warning", "--no-access-log", "--http", "httptools", "--loop", "uvloop",
    ]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, "RECEIVER_SECRET": secret})
    url = f"http://127.0.0.1:{port}/hooks"
    try:
        _wait_up(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.post(url, content=b"{}")
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the webhook receiver did not start")
