"""Admin routes of webhooks (scope `admin`, audited): subscriptions created, listed, shown,
updated and deleted; a subscription's deliveries with their status; replays.

POST /v1/admin/webhooks/subscriptions -> `webhooks.subscriptions.create` (the secret, given or
generated, shown in this answer only) ... POST .../{id}/replay -> `webhooks.deliveries`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import psycopg
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field, field_validator
from starlette.responses import Response

from record.errors import RecordUnavailableError
from service.admin import ADMIN_PROBLEMS, AdminKey, AuditedRoute, RuntimeDep, _json, note
from service.record_admin import record_pool
from service.runtime import Runtime
from webhooks import deliveries, subscriptions
from webhooks.errors import SubscriptionError
from webhooks.kinds import EVENT_KINDS, OUTCOMES
from webhooks.sealing import new_secret
from webhooks.subscriptions import Subscription, SubscriptionSpec

router = APIRouter(prefix="/v1/admin/webhooks", tags=["webhooks"], route_class=AuditedRoute)
SubscriptionId = Annotated[str, Path(max_length=64)]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    **ADMIN_PROBLEMS,
    404: {"description": "No subscription has this id."},
    503: {"description": "PostgreSQL unavailable, or no webhook secrets key configured."},
}


def _checked(check: Any, value: Any) -> Any:
    """A `webhooks.subscriptions` check as a pydantic validator (422 naming the field)."""
    try:
        return check(value)
    except SubscriptionError as exc:
        raise ValueError(exc.problem) from exc


class SubscriptionFields(BaseModel):
    url: str = Field(max_length=subscriptions.MAX_URL_LENGTH, description="http or https only.")
    kinds: list[str] = Field(min_length=1, description=f"Any of {', '.join(EVENT_KINDS)}.")
    outcomes: list[str] | None = Field(
        None, description=f"decision.created only for these ({', '.join(OUTCOMES)}); null: all."
    )
    enabled: bool = True
    description: str = Field("", max_length=500)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        return str(_checked(subscriptions.check_url, url))

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, kinds: list[str]) -> list[str]:
        return list(_checked(subscriptions.check_kinds, kinds))

    @field_validator("outcomes")
    @classmethod
    def _outcomes(cls, outcomes: list[str] | None) -> list[str] | None:
        return _checked(subscriptions.check_outcomes, outcomes)  # type: ignore[no-any-return]

    def spec(self) -> SubscriptionSpec:
        return SubscriptionSpec(self.url, self.kinds, self.outcomes, self.enabled, self.description)


class SubscriptionCreate(SubscriptionFields):
    secret: str | None = Field(
        None,
        min_length=subscriptions.MIN_SECRET_LENGTH,
        max_length=256,
        description="The signing secret; default: a random one, returned in this answer only.",
    )


class SubscriptionUpdate(BaseModel):
    """Only the fields sent change (the secret never does: delete and create to rotate)."""

    url: str | None = Field(None, max_length=subscriptions.MAX_URL_LENGTH)
    kinds: list[str] | None = Field(None, min_length=1)
    outcomes: list[str] | None = None
    enabled: bool | None = None
    description: str | None = Field(None, max_length=500)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        return None if url is None else str(_checked(subscriptions.check_url, url))

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, kinds: list[str] | None) -> list[str] | None:
        return None if kinds is None else list(_checked(subscriptions.check_kinds, kinds))

    @field_validator("outcomes")
    @classmethod
    def _outcomes(cls, outcomes: list[str] | None) -> list[str] | None:
        return _checked(subscriptions.check_outcomes, outcomes)  # type: ignore[no-any-return]

    def applied_to(self, current: Subscription) -> SubscriptionSpec:
        """The subscription with the fields sent changed (`null` clears only `outcomes`)."""
        sent = self.model_fields_set
        return SubscriptionSpec(
            self.url if "url" in sent and self.url is not None else current.url,
            self.kinds if "kinds" in sent and self.kinds is not None else current.kinds,
            self.outcomes if "outcomes" in sent else current.outcomes,
            self.enabled if self.enabled is not None else current.enabled,
            self.description if self.description is not None else current.description,
        )


class Replay(BaseModel):
    since: datetime | None = Field(
        None,
        description="Deliver again every kept event since this time (RFC 3339 with an "
        "offset); default: put the dead-lettered deliveries back to pending.",
    )

    @field_validator("since")
    @classmethod
    def _aware(cls, since: datetime | None) -> datetime | None:
        if since is not None and since.tzinfo is None:
            raise ValueError("needs a UTC offset (RFC 3339)")
        return since


def _body(subscription: Subscription) -> dict[str, Any]:
    return asdict(subscription)


def _host(url: str) -> str:
    return (
        urlsplit(url).hostname or ""
    )  # for the audit: never a path or query, which may hold a token


async def _in_record(runtime: Runtime, work: Any) -> Any:
    try:
        async with record_pool(runtime).connection() as connection:
            return await work(connection)
    except psycopg.OperationalError as exc:
        raise RecordUnavailableError(f"the record failed: {exc}") from exc


@router.post(
    "/subscriptions", name="webhook.create", responses=PROBLEMS, summary="Subscribe",
    status_code=201,
)  # fmt: skip
async def create_subscription(
    body: SubscriptionCreate, key: AdminKey, runtime: RuntimeDep, request: Request
) -> Response:
    """A new subscription. Its `secret` is in this answer and never again: keep it where the
    receiver verifies signatures."""
    note(request, host=_host(body.url), kinds=",".join(body.kinds))
    secret = body.secret or new_secret()
    sealer = runtime.delivery.sealer

    async def create(connection: Any) -> Subscription:
        return await subscriptions.create(connection, body.spec(), secret, sealer, key.name)

    created: Subscription = await _in_record(runtime, create)
    note(request, subscription=created.subscription_id, host=_host(created.url))
    return _json_status({**_body(created), "secret": secret}, 201)


def _json_status(body: Any, status: int) -> Response:
    response = _json(body)
    response.status_code = status
    return response


@router.get("/subscriptions", name="webhook.list", responses=PROBLEMS, summary="Subscriptions")
async def list_subscriptions(_: AdminKey, runtime: RuntimeDep) -> Response:
    found: list[Subscription] = await _in_record(runtime, subscriptions.list_all)
    return _json({"subscriptions": [_body(s) for s in found]})


@router.get(
    "/subscriptions/{subscription_id}", name="webhook.show", responses=PROBLEMS,
    summary="A subscription",
)  # fmt: skip
async def show_subscription(
    subscription_id: SubscriptionId, _: AdminKey, runtime: RuntimeDep
) -> Response:
    """The subscription without its secret, and how many of its deliveries are in each state."""

    async def show(connection: Any) -> dict[str, Any]:
        found = await subscriptions.find(connection, subscription_id)
        counts = await deliveries.status_counts(connection, subscription_id)
        return {**_body(found), "deliveries": counts}

    return _json(await _in_record(runtime, show))


@router.patch(
    "/subscriptions/{subscription_id}", name="webhook.update", responses=PROBLEMS,
    summary="Update a subscription",
)  # fmt: skip
async def update_subscription(
    subscription_id: SubscriptionId,
    body: SubscriptionUpdate,
    _: AdminKey,
    runtime: RuntimeDep,
    request: Request,
) -> Response:
    """Change the fields sent; disabled, a subscription keeps its pending deliveries and gets
    no new ones until enabled again."""
    note(request, subscription=subscription_id, fields=",".join(body.model_fields_set))

    async def update(connection: Any) -> Subscription:
        async with connection.transaction():
            current = await subscriptions.find(connection, subscription_id)
            return await subscriptions.update(connection, subscription_id, body.applied_to(current))

    return _json(_body(await _in_record(runtime, update)))


@router.delete(
    "/subscriptions/{subscription_id}", name="webhook.delete", responses=PROBLEMS,
    summary="Delete a subscription", status_code=204,
)  # fmt: skip
async def delete_subscription(
    subscription_id: SubscriptionId, _: AdminKey, runtime: RuntimeDep, request: Request
) -> Response:
    """The subscription and its deliveries, pending ones too: nothing more is sent to it."""
    note(request, subscription=subscription_id)

    async def delete(connection: Any) -> None:
        await subscriptions.delete(connection, subscription_id)

    await _in_record(runtime, delete)
    return Response(status_code=204)


@router.get(
    "/subscriptions/{subscription_id}/deliveries", name="webhook.deliveries",
    responses=PROBLEMS, summary="A subscription's deliveries",
)  # fmt: skip
async def list_deliveries(
    subscription_id: SubscriptionId,
    _: AdminKey,
    runtime: RuntimeDep,
    status: Literal["pending", "delivered", "dead"] | None = None,
    before: Annotated[int | None, Query(ge=1, description="A delivery id: older ones.")] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> Response:
    """Newest first, each with its attempts, last HTTP status and error; page on with
    `before` = the last `delivery_id` of a page."""

    async def page(connection: Any) -> list[dict[str, Any]]:
        await subscriptions.find(connection, subscription_id)
        return await deliveries.list_deliveries(connection, subscription_id, status, before, limit)

    rows = await _in_record(runtime, page)
    following = rows[-1]["delivery_id"] if len(rows) == limit else None
    return _json({"deliveries": rows, "before": following})


@router.post(
    "/subscriptions/{subscription_id}/replay", name="webhook.replay", responses=PROBLEMS,
    summary="Deliver again",
)  # fmt: skip
async def replay(
    subscription_id: SubscriptionId,
    body: Replay,
    _: AdminKey,
    runtime: RuntimeDep,
    request: Request,
) -> Response:
    """Put the subscription's dead-lettered deliveries back to pending (default), or every
    kept event since `since` that it wants (delivered ones too): sent again from the first
    attempt, with their event ids, so a receiver that de-duplicates sees each once."""
    note(request, subscription=subscription_id, since=body.since or "dead")

    async def put_back(connection: Any) -> int:
        await subscriptions.find(connection, subscription_id)
        if body.since is None:
            return await deliveries.replay_dead(connection, subscription_id)
        return await deliveries.replay_since(connection, subscription_id, body.since)

    pending = await _in_record(runtime, put_back)
    note(request, subscription=subscription_id, since=body.since or "dead", pending=pending)
    return _json({"subscription_id": subscription_id, "pending": pending})
