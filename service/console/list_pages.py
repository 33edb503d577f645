"""Block and allow lists: view them (any console session), add and remove entries with an
expiry (the admin scope). Changes go through the admin API's code path and audit: the
policy's `ListStore` (`Runtime.list_store`), `AuditedRoute` and `note`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from policy.lists.errors import ListEntryError, ListExpiryError
from service.admin import AuditedRoute, note
from service.console.access import AdminEditor, RuntimeDep, Viewer
from service.console.rendering import page
from service.console.security import read_form
from service.console.session import Session
from service.limits import BatchTooLargeError, check_batch
from service.runtime import Runtime

router = APIRouter(route_class=AuditedRoute)
SHOWN_ENTRIES = 200
SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class ListRow:
    name: str
    kind: str
    declared: bool
    count: int


@router.get("/lists", name="console.lists")
async def lists(request: Request, session: Viewer, runtime: RuntimeDep) -> Response:
    store = runtime.list_store()
    declared = store.lists
    names = sorted({*declared, *await store.names()})
    rows = [
        ListRow(name, str(declared.get(name, "—")), name in declared, await store.count(name))
        for name in names
    ]
    return page(request, "lists.html", {"lists": rows}, session=session)


@router.get("/lists/{name}", name="console.list")
async def show(name: str, request: Request, session: Viewer, runtime: RuntimeDep) -> Response:
    return await _list_page(request, session, runtime, name, {})


async def _list_page(
    request: Request, session: Session, runtime: Runtime, name: str, extra: dict[str, Any]
) -> Response:
    store = runtime.list_store()
    entries = await store.show(name, SHOWN_ENTRIES)
    context = {
        "name": name,
        "kind": str(store.lists.get(name, "not declared by the serving policy")),
        "count": await store.count(name),
        "entries": entries,
        "now": datetime.now(UTC).timestamp(),
        "form": {},
        "error": "",
        **extra,
    }
    status = 422 if context["error"] else 200
    return page(request, "list.html", context, session=session, status_code=status)


@router.post("/lists/{name}/add", name="console.list.add")
async def add(name: str, request: Request, session: AdminEditor, runtime: RuntimeDep) -> Response:
    form = await read_form(request)
    entries = [entry for entry in SEPARATORS.split(form.get("entries", "")) if entry]
    note(request, list=name, entries=len(entries), via="console")
    try:
        if not entries:
            raise ListEntryError("give at least one entry", 0)
        check_batch(runtime.settings, len(entries))
        await runtime.list_store().add(
            name,
            entries,
            actor=session.key_name,
            expires_at=_expiry(form.get("expires_at", "")),
            note=form.get("note", "")[:500] or None,
        )
    except (ListEntryError, ListExpiryError, BatchTooLargeError) as exc:
        extra = {"error": str(exc), "form": form}
        return await _list_page(request, session, runtime, name, extra)
    return RedirectResponse(f"/console/lists/{name}", status_code=303)


@router.post("/lists/{name}/remove", name="console.list.remove")
async def remove(
    name: str, request: Request, session: AdminEditor, runtime: RuntimeDep
) -> Response:
    form = await read_form(request)
    entry = form.get("entry", "")
    note(request, list=name, entries=1, via="console")
    try:
        await runtime.list_store().remove(name, [entry], actor=session.key_name)
    except ListEntryError as exc:
        return await _list_page(request, session, runtime, name, {"error": str(exc)})
    return RedirectResponse(f"/console/lists/{name}", status_code=303)


def _expiry(text: str) -> datetime | None:
    """The form's expiry: empty for none; a browser's `datetime-local` value is read as UTC
    (the form says so)."""
    value = text.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ListExpiryError(f"expires_at {value!r} is not a date and time") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
