"""The worker's webhook side (`runtime.delivery`): the sealer of subscription secrets and, by
default, a delivery worker task (RISKSCORE_WEBHOOKS=inprocess), like the in-process recorder.

start -> sealer (the configured key; the public development key in development mode; none
otherwise: subscriptions are refused, 503) -> delivery worker task, restarted if it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from service.metrics import Metrics
from service.recording import Recording
from service.settings import Settings
from webhooks.deliveries import queue_depth
from webhooks.sealing import DEVELOPMENT_KEY, Sealer, parse_key
from webhooks.worker import DeliverySettings, DeliveryWorker

logger = logging.getLogger(__name__)
WORKER_RESTART_SECONDS = 5.0
QUEUE_TIMEOUT_SECONDS = 0.5


async def observe_queue(runtime: Any, metrics: Metrics) -> None:
    """The webhook queue's gauges as of now; left as they were when PostgreSQL does not
    answer in time (the scrape goes on)."""
    record: Recording | None = getattr(runtime, "record", None)
    if record is None:
        return
    try:
        async with asyncio.timeout(QUEUE_TIMEOUT_SECONDS), record.connection() as connection:
            depth = await queue_depth(connection)
    except Exception as exc:  # any failure of PostgreSQL: the depth is unknown this time
        logger.debug("webhook queue depth unknown: %s", exc)
        return
    metrics.webhooks.observe_queue(depth)


def sealer_of(settings: Settings) -> Sealer:
    """The sealer of `RISKSCORE_WEBHOOK_SECRETS_KEY`, the development key with `--dev`, or
    one without a key (that refuses to seal or open)."""
    if settings.webhook_secrets_key is not None:
        return Sealer(parse_key(settings.webhook_secrets_key.get_secret_value()))
    return Sealer(DEVELOPMENT_KEY if settings.development else None)


def delivery_settings(settings: Settings) -> DeliverySettings:
    return DeliverySettings(
        concurrency=settings.webhook_concurrency,
        timeout_seconds=settings.webhook_timeout_seconds,
        max_attempts=settings.webhook_max_attempts,
        backoff_base_seconds=settings.webhook_backoff_base_seconds,
        backoff_cap_seconds=settings.webhook_backoff_cap_seconds,
        retention_days=settings.webhook_retention_days,
    )


@dataclass
class Delivery:
    """`runtime.delivery`: `sealer` for the admin routes, the worker task when in-process."""

    sealer: Sealer
    worker: DeliveryWorker | None = None
    task: asyncio.Task[None] | None = None

    @classmethod
    def start(cls, settings: Settings, metrics: Metrics) -> Delivery:
        sealer = sealer_of(settings)
        delivery = cls(sealer)
        if settings.webhooks != "inprocess" or settings.database_url is None:
            return delivery
        if not sealer.can_seal:
            logger.warning(
                "webhooks: no RISKSCORE_WEBHOOK_SECRETS_KEY, so no deliveries are sent and "
                "subscriptions are refused (docs/webhooks.md)"
            )
            return delivery
        delivery.worker = DeliveryWorker(
            settings.database_url, sealer, delivery_settings(settings), metrics.webhooks
        )
        delivery.task = asyncio.create_task(delivery._deliver())
        return delivery

    async def _deliver(self) -> None:
        assert self.worker is not None
        while True:
            try:
                await self.worker.run()
            except Exception:  # a bug or a refusal we did not foresee: never a silent stop
                logger.exception("delivery worker failed; restarting it")
            await asyncio.sleep(WORKER_RESTART_SECONDS)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        if self.worker is not None:
            await self.worker.aclose()
