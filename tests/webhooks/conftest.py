"""Helpers of the webhook tests (PostgreSQL fixtures in tests/conftest.py, the receiver in
`tests.webhooks.receiver`): a sealer with a key of the test's own and subscriptions made
straight in the database."""

from __future__ import annotations

import os

import pytest

from tests.record.conftest import connect
from webhooks import subscriptions
from webhooks.sealing import Sealer
from webhooks.subscriptions import Subscription, SubscriptionSpec

SECRET = "whsec_tests_0123456789abcdefghij"


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(os.urandom(32))


async def subscribe(
    url: str,
    target: str,
    sealer: Sealer,
    kinds: tuple[str, ...] = ("decision.created",),
    outcomes: list[str] | None = None,
    enabled: bool = True,
) -> Subscription:
    async with await connect(url) as connection:
        spec = SubscriptionSpec(target, list(kinds), outcomes, enabled)
        return await subscriptions.create(connection, spec, SECRET, sealer, "tests")


async def statuses(url: str) -> list[tuple[str, int, str | None]]:
    """(status, attempts, last error) of every delivery, oldest first."""
    async with await connect(url) as connection:
        cursor = await connection.execute(
            "SELECT status, attempts, last_error FROM webhook_deliveries ORDER BY delivery_id"
        )
        return [(row[0], row[1], row[2]) for row in await cursor.fetchall()]
