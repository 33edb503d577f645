"""Who may see and change what in the console, as dependencies of its routes.

page -> `Viewer` (a live session, else to the log-in page) ; form or htmx POST -> `Editor`
(a session, the same origin and its CSRF token, else 403) ; list changes -> `AdminEditor`
(and the admin scope).
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from redis.asyncio import Redis
from starlette.exceptions import HTTPException

from service.console.security import CsrfError, check_same_origin, presented_token
from service.console.session import COOKIE, Session, SessionStore
from service.problems import RequestError
from service.runtime import Runtime

CONSOLE_SCOPES = ("analyst", "admin")


class LoginRequiredError(HTTPException):
    """No live session (401): the browser goes to the log-in page, then back to
    `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(401, "log in to see this page")
        self.next_path = next_path


class ScopeError(RequestError):
    """The session's key lacks the scope an action needs (403)."""

    def __init__(self, detail: str) -> None:
        super().__init__(403, "Forbidden", detail)


def runtime_of(request: Request) -> Runtime:
    """The worker's runtime (the console shares the service's state)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def sessions_of(request: Request) -> SessionStore:
    runtime = runtime_of(request)
    settings = runtime.settings
    return SessionStore(
        cast(Redis, runtime.admin_client),
        idle_seconds=settings.console_session_idle_seconds,
        max_seconds=settings.console_session_max_seconds,
    )


async def viewer(request: Request) -> Session:
    session = await sessions_of(request).load(request.cookies.get(COOKIE))
    if session is None:
        # Back to the page after the log-in; a form sent after the session ended is not
        # replayed (its page is shown again instead).
        query = f"?{request.url.query}" if request.url.query else ""
        back = f"{request.url.path}{query}" if request.method == "GET" else "/console/"
        raise LoginRequiredError(back)
    request.state.key_name = session.key_name  # the actor in logs and the audit
    return session


async def editor(request: Request, session: Annotated[Session, Depends(viewer)]) -> Session:
    check_same_origin(request)
    if not session.csrf_matches(await presented_token(request)):
        raise CsrfError("the form's CSRF token is missing or not this session's; reload the page")
    return session


async def admin_editor(session: Annotated[Session, Depends(editor)]) -> Session:
    if not session.is_admin:
        raise ScopeError(f"the key {session.key_name!r} lacks the 'admin' scope")
    return session


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
Viewer = Annotated[Session, Depends(viewer)]
Editor = Annotated[Session, Depends(editor)]
AdminEditor = Annotated[Session, Depends(admin_editor)]
