"""The delivery worker: claims due deliveries from PostgreSQL, sends them signed, and records
each outcome (delivered, retried after a backoff with full jitter, or dead after the bound).

loop: claim as many due deliveries as there are free slots (`concurrency`) -> send each in a
task -> as they finish, record their outcomes -> claim again. Runs as a task in the service
and as `riskscore webhooks deliver`; any number run side by side (`FOR UPDATE SKIP LOCKED`).
Everything is in PostgreSQL: a worker killed mid-send leaves its deliveries leased, and the
next worker sends them again once the lease ends (at least once, the same event id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import httpx
import psycopg
from psycopg import AsyncConnection

from webhooks import deliveries
from webhooks.deliveries import Attempt, Due
from webhooks.errors import SecretsKeyError
from webhooks.sealing import Sealer
from webhooks.sender import Sender, Sent

logger = logging.getLogger(__name__)
LEASE_MARGIN_SECONDS = 5.0
RECONNECT_SECONDS = 2.0
UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError)


@dataclass(frozen=True)
class DeliverySettings:
    """How deliveries are sent and retried (the service's `RISKSCORE_WEBHOOK_*` settings)."""

    concurrency: int = 16
    timeout_seconds: float = 10.0
    max_attempts: int = 12  # then dead: 11 waits, 1.7 h on average (3.4 h at most)
    backoff_base_seconds: float = 10.0
    backoff_cap_seconds: float = 3_600.0
    max_redirects: int = 3
    poll_seconds: float = 0.5
    retention_days: int = 30
    purge_interval_seconds: float = 3_600.0

    @property
    def lease_seconds(self) -> float:
        """Longer than any attempt can take (each redirect has its own timeout)."""
        return self.timeout_seconds * (self.max_redirects + 1) + LEASE_MARGIN_SECONDS


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))],
    so receivers that failed together do not get their retries together."""
    return rng.uniform(0.0, min(cap, base * 2.0 ** (attempt - 1)))


class DeliveryObserver(Protocol):
    """What the metrics hear of (`service.metrics`)."""

    def attempted(self, ok: bool, seconds: float) -> None: ...

    def finished(self, status: str, latency_seconds: float) -> None: ...


@dataclass
class DeliveryCounters:
    attempts: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0


class DeliveryWorker:
    """One delivery worker.

    >>> worker = DeliveryWorker("postgresql://...", Sealer(key), DeliverySettings())
    >>> task = asyncio.create_task(worker.run())
    """

    def __init__(
        self,
        database_url: str,
        sealer: Sealer,
        settings: DeliverySettings | None = None,
        observer: DeliveryObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.database_url = database_url
        self.sealer = sealer
        self.settings = settings or DeliverySettings()
        self.observer = observer
        self.counters = DeliveryCounters()
        s = self.settings
        self.sender = Sender(s.timeout_seconds, s.concurrency, s.max_redirects, transport)
        self.rng = random.Random()
        self._secrets: dict[tuple[str, str], str] = {}
        self._in_flight: set[asyncio.Task[Attempt]] = set()
        self._purged_at = float("-inf")

    async def run(self) -> None:
        """Deliver until cancelled; waits out PostgreSQL outages (what was claimed and not
        recorded is sent again after its lease)."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.database_url, autocommit=True, connect_timeout=5
                ) as connection:
                    await self._serve(connection)
            except UNAVAILABLE as exc:
                logger.warning("delivery worker waiting for PostgreSQL: %s", exc)
                self._abandon()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _serve(self, connection: AsyncConnection) -> None:
        while True:
            await self._maybe_purge(connection)
            claimed = await self.step(connection)
            if not claimed and not self._in_flight:
                await asyncio.sleep(self.settings.poll_seconds)

    async def step(self, connection: AsyncConnection) -> int:
        """Claim into the free slots, then record the attempts that finish within a poll
        interval; returns how many deliveries were claimed."""
        free = self.settings.concurrency - len(self._in_flight)
        claimed: list[Due] = []
        if free > 0:
            claimed = await deliveries.claim(connection, free, self.settings.lease_seconds)
            for due in claimed:
                self._in_flight.add(asyncio.create_task(self._attempt(due)))
        if self._in_flight:
            done, self._in_flight = await asyncio.wait(
                self._in_flight,
                timeout=self.settings.poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            await self._record(connection, [task.result() for task in done])
        return len(claimed)

    async def drain(self, connection: AsyncConnection) -> int:
        """Deliver everything due now and wait for it (tests, `deliver --once`); returns the
        number of attempts made."""
        made = 0
        while True:
            made += await self.step(connection)
            if not self._in_flight and not await deliveries.any_due(connection):
                return made

    async def _attempt(self, due: Due) -> Attempt:
        started = time.perf_counter()
        try:
            sent = await self.sender.send(due, self._secret(due))
        except SecretsKeyError as exc:
            sent = Sent(False, None, str(exc))
        if self.observer is not None:
            self.observer.attempted(sent.ok, time.perf_counter() - started)
        s = self.settings
        retry = backoff_seconds(
            due.attempts, s.backoff_base_seconds, s.backoff_cap_seconds, self.rng
        )
        return Attempt(due, sent.ok, sent.http_status, sent.error, retry)

    def _secret(self, due: Due) -> str:
        key = (due.subscription_id, due.secret_sealed)
        if key not in self._secrets:
            self._secrets[key] = self.sealer.open(due.subscription_id, due.secret_sealed)
        return self._secrets[key]

    async def _record(self, connection: AsyncConnection, attempts: list[Attempt]) -> None:
        statuses = await deliveries.record_attempts(
            connection, attempts, self.settings.max_attempts
        )
        now = datetime.now(UTC)
        for attempt in attempts:
            self.counters.attempts += 1
            status = statuses.get(attempt.due.delivery_id)
            if status == "pending":
                self.counters.retried += 1
                logger.info(
                    "delivery %s of event %s failed (%s); attempt %d, retried in %.0f s",
                    attempt.due.delivery_id, attempt.due.event_id, attempt.error,
                    attempt.due.attempts, attempt.retry_seconds,
                )  # fmt: skip
                continue
            if status is None:
                continue  # taken over by another worker after our lease ended
            if status == "dead":
                self.counters.dead += 1
                logger.warning(
                    "delivery %s of event %s dead after %d attempts (%s)",
                    attempt.due.delivery_id, attempt.due.event_id, attempt.due.attempts,
                    attempt.error,
                )  # fmt: skip
            else:
                self.counters.delivered += 1
            if self.observer is not None:
                latency = (now - attempt.due.created_at).total_seconds()
                self.observer.finished(status, latency)

    async def _maybe_purge(self, connection: AsyncConnection) -> None:
        now = time.monotonic()
        if now - self._purged_at >= self.settings.purge_interval_seconds:
            self._purged_at = now
            purged = await deliveries.purge(connection, self.settings.retention_days)
            if purged:
                logger.info("purged %d webhook events past the retention", purged)

    def _abandon(self) -> None:
        """Drop what is in flight: those deliveries are sent again after their lease."""
        for task in self._in_flight:
            task.cancel()
        self._in_flight = set()

    async def aclose(self) -> None:
        self._abandon()
        with contextlib.suppress(Exception):
            await self.sender.aclose()
