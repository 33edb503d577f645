"""A real uvicorn server in a background thread, on a free port: how end-to-end tests serve an
ASGI app over real HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import uvicorn

from feature_store.redis_server import free_port

STARTUP_SECONDS = 20.0


class ThreadedServer:
    def __init__(self, app: Any) -> None:
        port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's, once it runs
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def _run(self) -> None:
        async def serve() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve()

        asyncio.run(serve())

    def start(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def stall(self, until: threading.Event, timeout_seconds: float = 60.0) -> threading.Event:
        """Block the server's event loop until `until` is set (a worker stalled by the CPU or
        the garbage collector); the returned event is set once the loop is blocked."""
        assert self.loop is not None, "the server is not running"
        blocked = threading.Event()

        def block() -> None:
            blocked.set()
            until.wait(timeout_seconds)

        self.loop.call_soon_threadsafe(block)
        return blocked

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=STARTUP_SECONDS)
