"""Alembic migrations of the record's schema: the schema's one definition is their history."""
