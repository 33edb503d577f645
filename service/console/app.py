"""The console as an application mounted at `/console` in the service: its routes, static files
(htmx and the console's own script and style, served by the service itself), the security
headers on every response and errors as pages.

`mount_console(app)` is all `service.app.create_app` calls; the console shares the service's
state (settings, keys, runtime), so it reads the record and Redis the way the API does.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from service.console import case_pages, health_pages, list_pages, login, record_pages
from service.console.access import LoginRequiredError, viewer
from service.console.rendering import environment, page
from service.console.security import SecurityHeaders
from service.problems import STATUS_OF, RequestError, field_path, status_of

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
PREFIX = "/console"


def mount_console(app: FastAPI) -> FastAPI:
    """Mount the console under `/console` in `app`; returns the console's own app."""
    console = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    console.state = app.state  # one set of settings, keys and runtime for API and console
    app.state.console_templates = environment()
    console.mount("/static", StaticFiles(directory=STATIC), name="console-static")
    routers = (login, case_pages, record_pages, health_pages, list_pages)
    for module in routers:
        console.include_router(module.router)
    console.add_api_route("/", home, methods=["GET"], name="console.home")
    console.add_exception_handler(LoginRequiredError, _to_login)  # type: ignore[arg-type]
    console.add_exception_handler(HTTPException, _error_page)
    console.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    # The domain errors the API maps to a status (`service.problems`) are pages here; anything
    # else is a bug, answered 500 and logged.
    kinds: list[type[Exception]] = [RequestError, *(kind for kind, _, _ in STATUS_OF)]
    for kind in kinds:
        console.add_exception_handler(kind, _error_page)
    console.add_exception_handler(RedisError, _redis_down)
    console.add_exception_handler(Exception, _error_page)
    console.add_middleware(SecurityHeaders)
    app.mount(PREFIX, console, name="console")
    return console


async def home(request: Request) -> Response:
    await viewer(request)
    return RedirectResponse(f"{PREFIX}/queue", status_code=303)


async def _to_login(request: Request, exc: LoginRequiredError) -> Response:
    target = f"{PREFIX}/login?next={quote(exc.next_path)}"
    if request.headers.get("hx-request"):  # htmx: the whole page goes to the log-in
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _invalid(request: Request, exc: RequestValidationError) -> Response:
    errors = [f"{field_path(error['loc'])}: {error['msg']}" for error in exc.errors()]
    return await _render_error(request, 422, "; ".join(errors))


async def _redis_down(request: Request, exc: Exception) -> Response:
    """Sessions live in Redis: without it nobody can be let in (scoring goes on)."""
    logger.warning("console: Redis unavailable: %s", exc)
    return await _render_error(
        request, 503, "Redis, which keeps the console's sessions, does not answer; try again soon"
    )


async def _error_page(request: Request, exc: Exception) -> Response:
    status = status_of(exc)
    if status >= 500 and status != 503:
        logger.exception("console page failed", exc_info=exc)
        return await _render_error(request, status, "something went wrong on our side")
    detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
    return await _render_error(request, status, str(detail))


async def _render_error(request: Request, status: int, message: str) -> Response:
    try:
        session = await viewer(request)
    except Exception:  # no session, or Redis down: the error page without the menu
        session = None
    context = {"status": status, "message": message}
    return page(request, "error.html", context, session=session, status_code=status)
