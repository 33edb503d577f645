"""Subscriptions: where events go (an admin-registered http(s) URL), which kinds, the secret
that signs them (sealed, `webhooks.sealing`) and whether they are enabled.

admin API -> `check_*` (422 naming the field) -> `create` / `update` / `delete` ->
`webhook_subscriptions`; the outbox reads `matching` in the transaction of each event.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from webhooks.errors import SubscriptionError, UnknownSubscriptionError
from webhooks.kinds import EVENT_KINDS, OUTCOMES
from webhooks.sealing import Sealer

MAX_URL_LENGTH = 2_048
MIN_SECRET_LENGTH = 24
COLUMNS = (
    "subscription_id, url, kinds, outcomes, enabled, description, created_by, created_at, "
    "updated_at"
)
INSERT = f"""
INSERT INTO webhook_subscriptions
  (subscription_id, url, kinds, outcomes, secret_sealed, enabled, description, created_by)
VALUES (%(subscription_id)s, %(url)s, %(kinds)s, %(outcomes)s, %(secret_sealed)s,
        %(enabled)s, %(description)s, %(created_by)s)
RETURNING {COLUMNS}
"""
SELECT_ONE = f"SELECT {COLUMNS} FROM webhook_subscriptions WHERE subscription_id = %s"
SELECT_ALL = f"SELECT {COLUMNS} FROM webhook_subscriptions ORDER BY created_at, subscription_id"
UPDATE = f"""
UPDATE webhook_subscriptions SET url = %(url)s, kinds = %(kinds)s, outcomes = %(outcomes)s,
  enabled = %(enabled)s, description = %(description)s, updated_at = now()
WHERE subscription_id = %(subscription_id)s
RETURNING {COLUMNS}
"""
DELETE = "DELETE FROM webhook_subscriptions WHERE subscription_id = %s"
MATCHING = """
SELECT subscription_id, outcomes FROM webhook_subscriptions
WHERE enabled AND %s = ANY (kinds)
"""
SECRET = "SELECT secret_sealed FROM webhook_subscriptions WHERE subscription_id = %s"


@dataclass(frozen=True)
class Subscription:
    """A subscription as the admin API shows it: everything but the secret."""

    subscription_id: str
    url: str
    kinds: list[str]
    outcomes: list[str] | None  # decision.created only for these; None: all of them
    enabled: bool
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> Subscription:
        return cls(**{**row, "subscription_id": str(row["subscription_id"])})


def check_url(url: str) -> str:
    """An absolute http or https URL with a host; anything else (file:, gopher:, a relative
    path...) is refused, naming `url`."""
    if len(url) > MAX_URL_LENGTH:
        raise SubscriptionError("url", f"longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise SubscriptionError(
            "url", f"the scheme {parts.scheme or '(none)'!r} is refused: only http and https"
        )
    if not parts.hostname:
        raise SubscriptionError("url", "needs a host (http(s)://host[:port]/path)")
    if parts.username or parts.password:
        raise SubscriptionError("url", "credentials in the URL are refused; the signature "
                                "authenticates each delivery")  # fmt: skip
    return url


def check_kinds(kinds: Sequence[str]) -> list[str]:
    unknown = [kind for kind in kinds if kind not in EVENT_KINDS]
    if unknown or not kinds:
        raise SubscriptionError(
            "kinds", f"{unknown or 'none'} not among the event kinds {', '.join(EVENT_KINDS)}"
        )
    return sorted(set(kinds))


def check_outcomes(outcomes: Sequence[str] | None) -> list[str] | None:
    if outcomes is None:
        return None
    unknown = [outcome for outcome in outcomes if outcome not in OUTCOMES]
    if unknown or not outcomes:
        raise SubscriptionError(
            "outcomes", f"{unknown or 'none'} not among the decisions {', '.join(OUTCOMES)}"
        )
    return sorted(set(outcomes))


def check_secret(secret: str) -> str:
    if len(secret) < MIN_SECRET_LENGTH:
        raise SubscriptionError(
            "secret", f"shorter than {MIN_SECRET_LENGTH} characters; omit it to get a random one"
        )
    return secret


@dataclass(frozen=True)
class SubscriptionSpec:
    """What an admin sets; `check` refuses what is not valid."""

    url: str
    kinds: list[str]
    outcomes: list[str] | None = None
    enabled: bool = True
    description: str = ""

    def check(self) -> SubscriptionSpec:
        return SubscriptionSpec(
            check_url(self.url),
            check_kinds(self.kinds),
            check_outcomes(self.outcomes),
            self.enabled,
            self.description,
        )


async def create(
    connection: AsyncConnection, spec: SubscriptionSpec, secret: str, sealer: Sealer, actor: str
) -> Subscription:
    """A new subscription with `secret` sealed; raises `SubscriptionError` naming the field."""
    checked = spec.check()
    subscription_id = str(uuid.uuid4())
    parameters = {
        **checked.__dict__,
        "subscription_id": subscription_id,
        "secret_sealed": sealer.seal(subscription_id, check_secret(secret)),
        "created_by": actor,
    }
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(INSERT, parameters)
    row = await cursor.fetchone()
    assert row is not None
    return Subscription.of_row(row)


def _uuid(subscription_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(subscription_id)
    except ValueError as exc:
        raise UnknownSubscriptionError(f"no subscription {subscription_id!r}") from exc


async def find(connection: AsyncConnection, subscription_id: str) -> Subscription:
    """The subscription; raises `UnknownSubscriptionError`."""
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(SELECT_ONE, (_uuid(subscription_id),))
    row = await cursor.fetchone()
    if row is None:
        raise UnknownSubscriptionError(f"no subscription {subscription_id!r}")
    return Subscription.of_row(row)


async def list_all(connection: AsyncConnection) -> list[Subscription]:
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(SELECT_ALL)
    return [Subscription.of_row(row) for row in await cursor.fetchall()]


async def update(
    connection: AsyncConnection, subscription_id: str, spec: SubscriptionSpec
) -> Subscription:
    """Replace what an admin sets (the secret stays); raises `UnknownSubscriptionError` or
    `SubscriptionError`."""
    checked = spec.check()
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(UPDATE, {**checked.__dict__, "subscription_id": _uuid(subscription_id)})
    row = await cursor.fetchone()
    if row is None:
        raise UnknownSubscriptionError(f"no subscription {subscription_id!r}")
    return Subscription.of_row(row)


async def delete(connection: AsyncConnection, subscription_id: str) -> None:
    """Delete the subscription and its deliveries, pending ones included."""
    cursor = await connection.execute(DELETE, (_uuid(subscription_id),))
    if cursor.rowcount == 0:
        raise UnknownSubscriptionError(f"no subscription {subscription_id!r}")


async def matching(connection: AsyncConnection, kind: str) -> list[tuple[str, list[str] | None]]:
    """(id, outcome filter) of every enabled subscription to `kind`."""
    cursor = await connection.execute(MATCHING, (kind,))
    return [(str(row[0]), row[1]) for row in await cursor.fetchall()]


async def secret_of(connection: AsyncConnection, subscription_id: str, sealer: Sealer) -> str:
    """The subscription's signing secret, opened; raises `UnknownSubscriptionError`."""
    cursor = await connection.execute(SECRET, (_uuid(subscription_id),))
    row = await cursor.fetchone()
    if row is None:
        raise UnknownSubscriptionError(f"no subscription {subscription_id!r}")
    return sealer.open(subscription_id, row[0])
