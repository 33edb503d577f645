"""The record's schema version: Alembic applies the migrations in `record/migrations`.

`riskscore db upgrade` (or the service on start) -> `upgrade`; every process that reads or writes
the record calls `check` first, which refuses a schema newer than this build knows.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.pool import NullPool

from record.errors import RecordUnavailableError, SchemaVersionError

MIGRATIONS = Path(__file__).parent / "migrations"
UPGRADE_LOCK = 0x7269736B  # "risk": the advisory lock key of schema upgrades


def sqlalchemy_url(url: str) -> str:
    """A `postgresql://` URL as SQLAlchemy names it with the psycopg 3 driver."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def _config(connection: sqlalchemy.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this build knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "record/migrations holds no revision"
    return head


def current_revision(url: str) -> str | None:
    """The revision the database is at; None when it was never migrated."""
    engine = sqlalchemy.create_engine(sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except sqlalchemy.exc.OperationalError as exc:
        raise RecordUnavailableError(f"cannot read the schema version: {exc.orig}") from exc
    finally:
        engine.dispose()


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(_config()).get_revision(revision) is not None
    except CommandError:
        return False


def _refuse_newer(revision: str | None) -> None:
    if revision is not None and not _known(revision):
        raise SchemaVersionError(
            f"the database's schema is at revision {revision!r}, which this build does not "
            f"know (its newest is {head_revision()!r}): a newer riskscore migrated it; run "
            "that version, or restore a database of this one"
        )


def upgrade(url: str) -> str:
    """Apply every migration the database lacks; returns the revision it is now at.

    Raises `SchemaVersionError` when the database is newer than this build.
    """
    _refuse_newer(current_revision(url))
    engine = sqlalchemy.create_engine(sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            # Every pod of a rollout upgrades on start: one at a time, the others find the
            # schema at head and do nothing (the lock ends with the transaction).
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({UPGRADE_LOCK})")
            command.upgrade(_config(connection), "head")
    finally:
        engine.dispose()
    return head_revision()


def check(url: str) -> str:
    """The database's revision when it is exactly this build's; raises `SchemaVersionError`
    when it is behind (run `riskscore db upgrade`) or newer than this build."""
    revision = current_revision(url)
    _refuse_newer(revision)
    head = head_revision()
    if revision != head:
        raise SchemaVersionError(
            f"the database's schema is at revision {revision!r}, this build needs {head!r}: "
            "run `riskscore db upgrade`"
        )
    return revision
