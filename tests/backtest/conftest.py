"""The record's PostgreSQL fixtures, for the live rule health tests."""

from tests.record.conftest import (  # noqa: F401 (fixtures)
    make_database,
    migrated_template,
    postgres_admin_url,
    record_url,
)
