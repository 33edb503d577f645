"""A private server as a child process that never outlives whoever started it.

`riskscore serve` and the tests start their own Redis (`feature_store.redis_server`) and
PostgreSQL (`record.server`). Both are a `ChildServer`: spawned with `die_with_parent` (the
kernel signals the server when its parent dies, even by kill -9), stopped with the signal that
server takes for a clean shutdown, then killed if it has not ended in time; `close` also
removes its folder.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Self

_PR_SET_PDEATHSIG = 1


def die_with_parent(stop_signal: signal.Signals) -> Callable[[], None] | None:
    """A `preexec_fn` that has the child receive `stop_signal` when its parent dies; None
    where that cannot be promised.

    Linux ties the signal to the starting *thread*, not the process: a server (re)started from
    a pool thread would be stopped when that thread ends, so only the main thread's children
    get it (elsewhere `close` at teardown is what stops them).
    """
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None

    def arm() -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, stop_signal)

    return arm


def kernel_free_port() -> int:
    """A port on 127.0.0.1 the kernel has just handed out as free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ChildServer:
    """The stop and clean-up half of a private server; a subclass spawns `process` in `start`
    and keeps its files in `directory`.

    >>> with RedisServer() as server:  # start() on entry, close() on exit
    ...     redis.Redis.from_url(server.url).ping()
    """

    STOP_SIGNAL: ClassVar[signal.Signals] = signal.SIGTERM
    STOP_TIMEOUT_SECONDS: ClassVar[float] = 5.0

    directory: Path
    process: subprocess.Popen[bytes] | None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        """Send `STOP_SIGNAL`, wait `STOP_TIMEOUT_SECONDS`, then kill; the folder stays (a
        restart on the same port finds its data)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(self.STOP_SIGNAL)
            try:
                self.process.wait(timeout=self.STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()
