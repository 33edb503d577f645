"""Admin routes (scope `admin`): read, validate, publish and roll back the policy, manage block
and allow lists, reload the model. Every change is audited: who (the key's name), what, when.

A publish or reload is checked here first, then announced in Redis; every worker follows
within `reload_interval_ms` (`service/runtime.py`), and a refused one changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from feature_store import keys
from model.artifact import load_model
from model.errors import ModelArtifactError
from policy.publishing.acceptance import accept_policy
from service.auth import require
from service.runtime import Runtime
from service.settings import ApiKey

router = APIRouter(prefix="/v1/admin", tags=["admin"])
AdminKey = Annotated[ApiKey, Depends(require("admin"))]
AUDIT_MAX_ENTRIES = 100_000
ADMIN_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or invalid API key."},
    403: {"description": "The API key lacks the admin scope."},
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
    model_dir: str | None = Field(None, description="Default: the configured model directory.")


async def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


async def audit(runtime: Runtime, key: ApiKey, action: str, **details: Any) -> None:
    entry = {"actor": key.name, "action": action, "at_ms": str(int(time.time() * 1000))}
    entry.update({name: str(value) for name, value in details.items()})
    flat = [part for pair in entry.items() for part in pair]
    await runtime.admin_client.execute_command(
        "XADD", keys.AUDIT_STREAM, "MAXLEN", "~", AUDIT_MAX_ENTRIES, "*", *flat
    )


@router.get("/policy", responses=ADMIN_PROBLEMS, summary="The policy being served")
async def current_policy(_: AdminKey, runtime: RuntimeDep) -> Response:
    policy = runtime.scorer.policy
    if policy is None:
        return _json({"version": None, "text": None})
    return _json({"version": policy.version, "text": policy.text})


@router.post("/policy/validate", responses=ADMIN_PROBLEMS, summary="Validate a policy")
async def validate_policy(body: PolicyText, _: AdminKey) -> Response:
    """Every problem of the file at once; 422 (problem details) when there are any."""
    policy = accept_policy(body.text, body.source)
    return _json({"valid": True, "version": policy.version})


@router.post("/policy/publish", responses=ADMIN_PROBLEMS, summary="Publish a policy")
async def publish_policy(body: PolicyText, key: AdminKey, runtime: RuntimeDep) -> Response:
    """Validate, version by content hash, and switch every worker to it within a second."""
    result = await runtime.policies.publish(body.text, body.source, key.name)
    await audit(runtime, key, "policy.publish", version=result.version)
    return _json(asdict(result))


@router.post("/policy/rollback", responses=ADMIN_PROBLEMS, summary="Roll the policy back")
async def rollback_policy(body: Rollback, key: AdminKey, runtime: RuntimeDep) -> Response:
    result = await runtime.policies.rollback(body.to_version, key.name)
    await audit(runtime, key, "policy.rollback", version=result.version)
    return _json(asdict(result))


@router.get("/policy/history", responses=ADMIN_PROBLEMS, summary="Publish history")
async def policy_history(
    _: AdminKey, runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=1000)] = 20
) -> Response:
    entries = await runtime.policies.history(limit)
    return _json([asdict(entry) for entry in entries])


@router.get("/lists/{name}", responses=ADMIN_PROBLEMS, summary="Entries of a list")
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


@router.post("/lists/{name}", responses=ADMIN_PROBLEMS, summary="Add entries to a list")
async def add_to_list(name: str, body: ListEntries, key: AdminKey, runtime: RuntimeDep) -> Response:
    runtime.check_batch(len(body.entries))
    added = await runtime.list_store().add(
        name, body.entries, expires_at=body.expires_at, note=body.note, actor=key.name
    )
    await audit(runtime, key, "list.add", list=name, entries=len(body.entries))
    return _json({"name": name, "added": added})


@router.post("/lists/{name}/check", responses=ADMIN_PROBLEMS, summary="Check list entries")
async def check_list_entries(
    name: str, body: ListEntries, _: AdminKey, runtime: RuntimeDep
) -> Response:
    """Validate entries for the list without writing them (an import sent in several requests
    checks every one first); 422 names the first bad entry."""
    runtime.check_batch(len(body.entries))
    checked = runtime.list_store().normalise(name, body.entries)
    return _json({"name": name, "valid": len(checked)})


@router.get("/limits", responses=ADMIN_PROBLEMS, summary="Limits of an admin request")
async def admin_limits(_: AdminKey, runtime: RuntimeDep) -> Response:
    """What one request may carry, so that a client splits a large import to fit."""
    settings = runtime.settings
    return _json(
        {
            "max_body_bytes": settings.max_body_bytes,
            "max_list_entries_per_request": settings.max_list_entries_per_request,
        }
    )


@router.post("/lists/{name}/remove", responses=ADMIN_PROBLEMS, summary="Remove entries")
async def remove_from_list(
    name: str, body: ListEntries, key: AdminKey, runtime: RuntimeDep
) -> Response:
    runtime.check_batch(len(body.entries))
    removed = await runtime.list_store().remove(name, body.entries, actor=key.name)
    await audit(runtime, key, "list.remove", list=name, entries=len(body.entries))
    return _json({"name": name, "removed": removed})


@router.post("/model/reload", responses=ADMIN_PROBLEMS, summary="Reload the model")
async def reload_model(body: ModelReload, key: AdminKey, runtime: RuntimeDep) -> Response:
    """Verify the artifact here, then have every worker load it; a refused artifact (422,
    naming the file and field) leaves the current model serving."""
    directory = Path(body.model_dir) if body.model_dir else runtime.settings.model_dir
    try:
        model = load_model(directory)
    except ModelArtifactError:
        await audit(runtime, key, "model.reload.refused", model_dir=directory)
        raise
    runtime.scorer.model = model
    runtime.metrics.serving(runtime.metrics.model_info, model.version)  # this worker too
    await runtime.admin_client.set(keys.MODEL_POINTER, str(directory.resolve()))
    await audit(runtime, key, "model.reload", version=model.version, model_dir=directory)
    return _json({"version": model.version, "model_dir": str(directory)})
