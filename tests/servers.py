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
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=STARTUP_SECONDS)
