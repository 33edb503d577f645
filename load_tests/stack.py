"""The service as `make bench`, the soak and the fault run start it: a private Redis warmed with
the simulated history the traffic draws from, and `riskscore serve` in front of it. `serving`
alone (any arguments, no Redis of its own) is what the tests of `riskscore serve` start.

private redis-server (warmed) -> `riskscore serve --workers N --echo-endpoint --dev` ->
ready when /readyz answers 200 -> the run -> SIGTERM, Redis stopped and removed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import redis

from feature_store.embedded import start_embedded_redis
from feature_store.redis_server import RedisServer, free_port
from service.settings import DEVELOPMENT_API_KEY

READY_SECONDS = 120.0
STOP_SECONDS = 30.0
API_KEY = DEVELOPMENT_API_KEY


class StackError(RuntimeError):
    """The service did not start or become ready."""


@dataclass
class Stack:
    """A running service and its private Redis; `redis` may be stopped and started again."""

    redis: RedisServer
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (not the parent, nor multiprocessing's helpers)."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        return sorted(
            child.pid
            for child in children
            if "spawn_main" in " ".join(child.cmdline()) and "tracker" not in child.name()
        )

    def postgres_pids(self) -> list[int]:
        """The processes of the private PostgreSQL `riskscore serve` started (none when it was
        given a database): postmaster, backends, WAL writer..."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        return [child.pid for child in children if child.name() == "postgres"]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by the workers together, by Redis and by the service's private
        PostgreSQL (user + system; a backend's CPU goes with it when it disconnects)."""
        used = {"workers": 0.0, "redis": 0.0, "postgres": 0.0}
        pids = [("workers", pid) for pid in self.worker_pids()]
        pids += [("postgres", pid) for pid in self.postgres_pids()]
        if self.redis.process is not None:
            pids.append(("redis", self.redis.process.pid))
        for name, pid in pids:
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            used[name] += times.user + times.system
        return used

    def wait_recorded(self, timeout: float = 60.0) -> bool:
        """Wait until the record holds every decision the service answered (`/readyz` says
        `checks.recording` is "ok"), `timeout` seconds at most; whether it got there. A benchmark
        calls it between rounds, so that a round does not pay for the records the one before
        left to write."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if _recording(httpx.get(self.url + "/readyz", timeout=5.0)) == "ok":
                    return True
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.5)
        return False

    def redis_memory(self) -> dict[str, int]:
        """Redis `used_memory` and the number of keys, or zeros while it is stopped."""
        client = redis.Redis.from_url(self.redis.url, socket_timeout=1.0)
        try:
            info = client.info("memory")
            return {"used_memory": int(info["used_memory"]), "keys": int(client.dbsize())}
        except redis.RedisError:
            return {"used_memory": 0, "keys": 0}
        finally:
            client.close()


def _recording(ready: httpx.Response) -> str | None:
    """What `/readyz` says of recording ("ok", or what is behind)."""
    recording = ready.json().get("checks", {}).get("recording")
    return str(recording) if recording is not None else None


@dataclass
class Served:
    """A running `riskscore serve` process and the file its output goes to."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serving(
    log_dir: Path, arguments: Sequence[str], env: Mapping[str, str] | None = None
) -> Iterator[Served]:
    """`riskscore serve --port <free port> ARGUMENTS`, yielded once /readyz answers 200, then
    stopped with SIGTERM. It sees none of this process's RISKSCORE_ variables, only those of
    `env`; its output goes to `log_dir/serve-<port>.log`."""
    port = free_port()
    command = [sys.executable, "-m", "riskscore.cli", "serve", "--port", str(port), *arguments]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RISKSCORE_")}
    environment.update(env or {})
    log = log_dir / f"serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=environment, stdout=sink, stderr=sink)
    served = Served(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_ready(served)
        yield served
    finally:
        _stop(process)


@contextmanager
def running_stack(
    out_dir: Path, workers: int = 2, env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """Start Redis and the service, yield them ready, stop both."""
    out_dir.mkdir(parents=True, exist_ok=True)
    embedded = start_embedded_redis()
    arguments = [
        "--workers", str(workers), "--redis-url", embedded.url,
        "--dev", "--echo-endpoint", "--log-level", "warning",
    ]  # fmt: skip
    try:
        with serving(out_dir, arguments, env) as served:
            yield Stack(embedded.server, served.process, served.url, served.log)
    finally:
        embedded.close()


def _wait_ready(served: Served) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            tail = served.output()[-2000:]
            raise StackError(f"riskscore serve exited with {served.process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{served.url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise StackError(f"riskscore serve not ready after {READY_SECONDS:.0f} s; see {served.log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
