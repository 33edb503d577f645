"""No server outlives what started it (issue: a redis-server of `make test` still ran an hour
later): `riskscore serve` killed outright takes its embedded Redis with it, and the suite's own
end-of-session check finds what a test leaves behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psutil
import pytest

from feature_store.redis_server import find_redis_server, free_port
from load_tests.stack import serving
from tests.conftest import SESSION_VARIABLE, started_by_this_session
from tests.waiting import wait_until

pytestmark = pytest.mark.redis


def _redis_children(pid: int) -> list[psutil.Process]:
    children = psutil.Process(pid).children(recursive=True)
    return [child for child in children if "redis-server" in child.name()]


def test_serve_killed_outright_takes_its_embedded_redis_with_it(tmp_path: Path) -> None:
    with serving(tmp_path, ["--workers", "1", "--dev"]) as served:
        (embedded,) = _redis_children(served.process.pid)
        try:
            served.process.send_signal(signal.SIGKILL)  # no cleanup code of serve runs
            served.process.wait(timeout=30)
            wait_until(lambda: not embedded.is_running() or _zombie(embedded), "Redis stops")
        finally:
            if embedded.is_running():
                embedded.kill()


def _zombie(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_session_check_sees_a_server_this_session_started_and_no_other() -> None:
    """Ours: a redis-server in a folder of this session's (as `RedisServer` runs one); not
    ours: one elsewhere, without the session's variable, as another developer's."""
    folder = Path(os.environ[SESSION_VARIABLE])
    ours = _redis_in(Path(tempfile.mkdtemp(prefix="riskscore-")), dict(os.environ))
    others = {k: v for k, v in os.environ.items() if k not in (SESSION_VARIABLE, "TMPDIR")}
    elsewhere = Path(tempfile.mkdtemp(prefix="riskscore-other-", dir=folder.parent))
    theirs = _redis_in(elsewhere, others)
    try:
        wait_until(lambda: ours.pid in _pids(), "the session's own server is seen")
        assert theirs.pid not in _pids()
    finally:
        for process in (ours, theirs):
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(elsewhere, ignore_errors=True)
    assert ours.pid not in _pids()


def _redis_in(folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [str(find_redis_server()), "--port", str(free_port()), "--save", ""]
    command += ["--dir", str(folder)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)


def _pids() -> set[int]:
    return {process.pid for process in started_by_this_session()}
