"""Keyset pages of a listing: rows in (time, id) order, and the opaque cursor that resumes a
listing after the last row of a page (stable while rows are added, unlike an offset).

listing -> `Keyset.page(connection, query, filters, cursor, limit)` -> (rows, next cursor);
the query takes `after_at`, `after_id` (None on the first page) and `limit` besides its filters.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

import orjson
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from record.errors import CursorError

MAX_PAGE_SIZE = 500
BIGINT_END = 2**63  # an integer id past a bigint's range was never handed out


@dataclass(frozen=True)
class Keyset:
    """How one listing pages: the columns of its rows' time and id, the id's type, what the
    rows are (for the refusal of a foreign cursor) and the error that refusal raises."""

    at: str
    key: str
    key_type: type[str] | type[int]
    what: str
    error: type[Exception] = CursorError

    async def page(
        self,
        connection: AsyncConnection,
        query: LiteralString,
        filters: Mapping[str, Any],
        cursor: str | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of at most `limit` rows (1 to `MAX_PAGE_SIZE`) and the cursor of the
        next one (None after the last page). Raises `error` for a cursor not handed out."""
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        after_at, after_id = self.decode(cursor) if cursor else (None, None)
        parameters = {**filters, "after_at": after_at, "after_id": after_id, "limit": limit}
        rows = connection.cursor(row_factory=dict_row)
        await rows.execute(query, parameters, prepare=False)
        found = await rows.fetchall()
        last = found[-1] if len(found) == limit else None
        return found, self.encode(last[self.at], last[self.key]) if last else None

    def encode(self, at: datetime, key: str | int) -> str:
        raw = orjson.dumps([at.isoformat(), key])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str) -> tuple[datetime, str | int]:
        refusal = f"cursor {cursor!r} is not one a page of {self.what} handed out"
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            at, key = orjson.loads(raw)
            moment = datetime.fromisoformat(at)
        except (ValueError, TypeError) as exc:
            raise self.error(refusal) from exc
        if moment.tzinfo is None or not self._is_key(key):
            raise self.error(refusal)
        return moment, key

    def _is_key(self, key: Any) -> bool:
        if self.key_type is str:
            return isinstance(key, str)
        return isinstance(key, int) and not isinstance(key, bool) and 0 < key < BIGINT_END
