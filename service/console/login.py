"""Log-in and log-out: an API key holding the analyst or admin scope opens a session.

GET /console/login (a form with a pre-session CSRF token in a cookie) -> POST: same origin,
token, rate limit per client address, the key checked as the API checks it (hashed, constant
time), its scope -> a session cookie. Every attempt is audited as the admin API's are.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from service.admin import audit
from service.auth import KeyRing
from service.console.access import CONSOLE_SCOPES, Editor, sessions_of
from service.console.rendering import page
from service.console.security import CSRF_FIELD, check_same_origin, read_form
from service.console.session import COOKIE, COOKIE_PATH, LoginLimiter
from service.problems import AuthError
from service.settings import Settings

router = APIRouter()
LOGIN_COOKIE = "rs_console_login"
LOGIN_ACTION = "console.login"


def safe_next(path: str | None) -> str:
    """Where to go after the log-in: a console page, never another site."""
    if path and path.startswith("/console/") and not path.startswith("/console/login"):
        return path
    return "/console/"


def _form(request: Request, status: int, error: str = "", next_path: str = "") -> Response:
    token = secrets.token_urlsafe(32)
    context = {"login_token": token, "error": error, "next": safe_next(next_path)}
    response = page(request, "login.html", context, session=None, status_code=status)
    response.set_cookie(
        LOGIN_COOKIE, token, max_age=900, path=COOKIE_PATH,
        secure=True, httponly=True, samesite="strict",
    )  # fmt: skip
    return response


@router.get("/login", name="console.login.form")
async def login_form(request: Request, next: str = "") -> Response:
    return _form(request, 200, next_path=next)


@router.post("/login", name="console.login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    next_path = form.get("next", "")
    limiter = _limiter(request)
    address = request.client.host if request.client else "unknown"
    if await limiter.blocked(address):
        refusal: tuple[int, str] | None = (429, "too many failed log-ins; wait a few minutes")
    else:
        refusal = await _refusal(request, form)
    if refusal is not None:
        status, message = refusal
        if status != 429:
            await limiter.failed(address)
        await audit(request, LOGIN_ACTION, status, message)
        return _form(request, status, message, next_path)
    key = request.state.api_key
    session_id, _ = await sessions_of(request).create(key.name, tuple(key.scopes))
    await audit(request, LOGIN_ACTION, 303)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        COOKIE, session_id, path=COOKIE_PATH, secure=True, httponly=True, samesite="strict"
    )
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


async def _refusal(request: Request, form: dict[str, str]) -> tuple[int, str] | None:
    """Why this attempt is refused (status, message), None when it is let in."""
    check_same_origin(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, form.get(CSRF_FIELD, "")):
        return 403, "the log-in form has expired; log in again from this page"
    ring: KeyRing = request.app.state.keys
    try:
        key = ring.identify(f"Bearer {form.get('api_key', '')}")
    except AuthError:
        return 401, "this API key is not valid"
    request.state.api_key, request.state.key_name = key, key.name
    if not set(key.scopes) & set(CONSOLE_SCOPES):
        return 403, f"the key {key.name!r} has neither the 'analyst' nor the 'admin' scope"
    return None


def _limiter(request: Request) -> LoginLimiter:
    settings: Settings = request.app.state.settings
    return LoginLimiter(
        request.app.state.runtime.admin_client,
        attempts=settings.console_login_attempts,
        window_seconds=settings.console_login_window_seconds,
    )


@router.post("/logout", name="console.logout")
async def logout(request: Request, _: Editor) -> Response:
    """Ends the session (its token checked first: a forged log-out is refused too)."""
    await sessions_of(request).delete(request.cookies.get(COOKIE))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response
