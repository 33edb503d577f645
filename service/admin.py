"""Admin routes (scope `admin`): read, validate, publish and roll back the policy, manage block
and allow lists, reload the model. Every attempt is audited, refused ones too (no key, a key
without the scope, an invalid policy, a refused rollback): who (the key's name), what, when,
and the outcome (`AuditedRoute`).

A publish or reload is checked here first, then announced in Redis; every worker follows
within `reload_interval_ms` (`service/runtime.py`), and a refused one changes nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.responses import Response

from feature_store import keys
from policy.publishing.acceptance import accept_policy
from service.artifacts import ModelDirectoryError
from service.auth import require
from service.edge import EdgeRoute, Handler
from service.limits import check_batch
from service.problems import status_of
from service.runtime import Runtime
from service.settings import ApiKey

logger = logging.getLogger(__name__)
AUDIT_MAX_ENTRIES = 100_000


class AuditedRoute(EdgeRoute):
    """An admin route: each request is audited once it is answered, whatever the answer
    (the route's name is the action; what the route adds with `note` goes with it)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        action = self.name

        async def audited(request: Request) -> Response:
            try:
                response = await handler(request)
            except Exception as exc:
                await audit(request, action, status_of(exc), type(exc).__name__)
                raise
            await audit(request, action, response.status_code)
            return response

        return audited


router = APIRouter(prefix="/v1/admin", tags=["admin"], route_class=AuditedRoute)
AdminKey = Annotated[ApiKey, Depends(require("admin"))]
ADMIN_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not JSON."},
    401: {"description": "No or invalid API key."},
    403: {"description": "The API key lacks the admin scope."},
    413: {"description": "The body is larger than the configured limit."},
    415: {"description": "The body is not sent as application/json."},
    422: {"description": "Refused: the problems name file, line and rule (or field)."},
}


class PolicyText(BaseModel):
    text: str = Field(description="The policy file (YAML).", max_length=1_000_000)
    source: str = Field("admin-api", description="A name for the file in messages.")


class Rollback(BaseModel):
    to_version: str | None = Field(None, description="Default: the previous version.")


class ListEntries(BaseModel):
    entries: list[str] = Field(min_length=1)
    expires_at: datetime | None = None
    note: str = Field("", max_length=500)


class ModelReload(BaseModel):
    model_dir: str | None = Field(
        None,
        description="A model artifact folder under the model artifacts root (absolute, or "
        "relative to the root); default: the configured model directory.",
    )


async def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def note(request: Request, **details: Any) -> None:
    """Details of an admin action for its audit entry (versions, list names, counts; never
    a list entry or a policy text)."""
    request.state.audit = {name: str(value) for name, value in details.items()}


async def audit(request: Request, action: str, status: int, refusal: str = "") -> None:
    """One entry in the audit stream: who (the key's name, `anonymous` without a valid key),
    what, when, the outcome and the status answered. An entry Redis does not take is logged
    instead, at error level; the answer to the request does not change."""
    state = request.state
    outcome = "done" if status < 400 else ("refused" if status < 500 else "failed")
    entry = {
        "actor": getattr(state, "key_name", None) or "anonymous",
        "action": action,
        "outcome": outcome,
        "status": str(status),
        "at_ms": str(int(time.time() * 1000)),
        "request_id": str(getattr(state, "request_id", "")),
        **({"refusal": refusal} if refusal else {}),
        **getattr(state, "audit", {}),
    }
    flat = [part for pair in entry.items() for part in pair]
    try:
        runtime: Runtime = request.app.state.runtime
        await runtime.admin_client.execute_command(
            "XADD", keys.AUDIT_STREAM, "MAXLEN", "~", AUDIT_MAX_ENTRIES, "*", *flat
        )
    except Exception:  # the audit must not turn an answer into another one
        logger.exception("audit entry not written", extra={"fields": {"audit": entry}})


@router.get("/policy", name="policy.show", responses=ADMIN_PROBLEMS, summary="The policy")
async def current_policy(_: AdminKey, runtime: RuntimeDep) -> Response:
    policy = runtime.scorer.policy
    if policy is None:
        return _json({"version": None, "text": None})
    return _json({"version": policy.version, "text": policy.text})


@router.post(
    "/policy/validate", name="policy.validate", responses=ADMIN_PROBLEMS, summary="Validate"
)
async def validate_policy(body: PolicyText, _: AdminKey) -> Response:
    """Every problem of the file at once; 422 (problem details) when there are any."""
    policy = accept_policy(body.text, body.source)
    return _json({"valid": True, "version": policy.version})


@router.post("/policy/publish", name="policy.publish", responses=ADMIN_PROBLEMS, summary="Publish")
async def publish_policy(
    body: PolicyText, key: AdminKey, runtime: RuntimeDep, request: Request
) -> Response:
    """Validate, version by content hash, and switch every worker to it within a second."""
    result = await runtime.policies.publish(body.text, body.source, key.name)
    note(request, version=result.version)
    return _json(asdict(result))


@router.post(
    "/policy/rollback", name="policy.rollback", responses=ADMIN_PROBLEMS, summary="Roll back"
)
async def rollback_policy(
    body: Rollback, key: AdminKey, runtime: RuntimeDep, request: Request
) -> Response:
    result = await runtime.policies.rollback(body.to_version, key.name)
    note(request, version=result.version)
    return _json(asdict(result))


@router.get("/policy/history", name="policy.history", responses=ADMIN_PROBLEMS, summary="History")
async def policy_history(
    _: AdminKey, runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=1000)] = 20
) -> Response:
    entries = await runtime.policies.history(limit)
    return _json([asdict(entry) for entry in entries])


@router.get("/lists/{name}", name="list.show", responses=ADMIN_PROBLEMS, summary="A list")
async def show_list(
    name: str,
    _: AdminKey,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> Response:
    store = runtime.list_store()
    entries = await store.show(name, limit)
    count = await store.count(name)
    return _json({"name": name, "count": count, "entries": [asdict(e) for e in entries]})


@router.post("/lists/{name}", name="list.add", responses=ADMIN_PROBLEMS, summary="Add")
async def add_to_list(
    name: str, body: ListEntries, key: AdminKey, runtime: RuntimeDep, request: Request
) -> Response:
    note(request, list=name, entries=len(body.entries))
    check_batch(runtime.settings, len(body.entries))
    added = await runtime.list_store().add(
        name, body.entries, expires_at=body.expires_at, note=body.note, actor=key.name
    )
    return _json({"name": name, "added": added})


@router.post(
    "/lists/{name}/check", name="list.check", responses=ADMIN_PROBLEMS, summary="Check list entries"
)
async def check_list_entries(
    name: str, body: ListEntries, _: AdminKey, runtime: RuntimeDep
) -> Response:
    """Validate entries for the list without writing them (an import sent in several requests
    checks every one first); 422 names the first bad entry."""
    check_batch(runtime.settings, len(body.entries))
    checked = runtime.list_store().normalise(name, body.entries)
    return _json({"name": name, "valid": len(checked)})


@router.get(
    "/limits", name="limits", responses=ADMIN_PROBLEMS, summary="Limits of an admin request"
)
async def admin_limits(_: AdminKey, runtime: RuntimeDep) -> Response:
    """What one request may carry, so that a client splits a large import to fit."""
    settings = runtime.settings
    return _json(
        {
            "max_body_bytes": settings.max_body_bytes,
            "max_policy_body_bytes": settings.max_policy_body_bytes,
            "max_list_body_bytes": settings.max_list_body_bytes,
            "max_labels_body_bytes": settings.max_labels_body_bytes,
            "max_list_entries_per_request": settings.max_list_entries_per_request,
            "max_labels_per_request": settings.max_labels_per_request,
        }
    )


@router.post("/lists/{name}/remove", name="list.remove", responses=ADMIN_PROBLEMS, summary="Remove")
async def remove_from_list(
    name: str, body: ListEntries, key: AdminKey, runtime: RuntimeDep, request: Request
) -> Response:
    note(request, list=name, entries=len(body.entries))
    check_batch(runtime.settings, len(body.entries))
    removed = await runtime.list_store().remove(name, body.entries, actor=key.name)
    return _json({"name": name, "removed": removed})


@router.post("/model/reload", name="model.reload", responses=ADMIN_PROBLEMS, summary="Reload")
async def reload_model(
    body: ModelReload, _: AdminKey, runtime: RuntimeDep, request: Request
) -> Response:
    """Verify the artifact here, then have every worker load it. A refused one (422: a
    `model_dir` outside the artifacts root or not a folder, or an artifact naming the file
    and field) leaves the current model serving."""
    note(request, model_dir=body.model_dir or runtime.settings.model_dir)
    try:
        model = await runtime.model_follower.reload(body.model_dir)
    except ModelDirectoryError as exc:
        error = {"loc": ("body", exc.field), "msg": str(exc), "type": "value_error"}
        raise RequestValidationError([error]) from exc
    note(request, version=model.version, model_dir=model.directory)
    return _json({"version": model.version, "model_dir": str(model.directory)})
