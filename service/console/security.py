"""What every console response carries and every console request is checked for.

response -> the strict Content-Security-Policy and its companions (`SecurityHeaders`, around
the whole console); state-changing request -> same origin and the session's CSRF token
(`check_csrf`), else 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from history.card_numbers import looks_like_card_number
from service.edge import CARD_NUMBER
from service.problems import RequestError

# Nothing inline, nothing from elsewhere: scripts, styles and requests only from the service.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",  # no-referrer would make Origin "null" on our own forms
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 100
STATIC_CACHE = "private, max-age=3600"


class CsrfError(RequestError):
    """A state-changing console request without the session's token, or from elsewhere
    (403)."""

    def __init__(self, detail: str) -> None:
        super().__init__(403, "Forbidden", detail)


@dataclass(frozen=True)
class ConsoleRoute:
    """What the service's access log and latency metric name a console request by."""

    path: str


class SecurityHeaders:
    """Adds `HEADERS` to every response of the console, its static files and errors too
    (static files may be cached by the browser; pages never are). The request is then named
    by its full path (`/console/queue`, `/console/static`) in the service's log and metrics,
    which see the mounted console's own route otherwise (`/queue`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/console/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if static:
                    headers["cache-control"] = STATIC_CACHE
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            inner = getattr(route, "path", None)
            if static:
                scope["route"] = ConsoleRoute("/console/static")
            elif isinstance(inner, str):
                scope["route"] = ConsoleRoute(f"/console{inner}")


def refuse_card_numbers_in_query(request: Request) -> None:
    """A card number in the address (a search for one) is refused, as on every API route."""
    for name, value in [*request.query_params.multi_items(), *request.path_params.items()]:
        if isinstance(value, str) and looks_like_card_number(value):
            raise RequestError(422, "Invalid request", CARD_NUMBER, field=name)


def check_same_origin(request: Request) -> None:
    """A browser names the page a POST comes from; one from another origin is refused."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if referer is None:
            return  # not sent by a browser's form or script: the token decides alone
        origin = "/".join(referer.split("/")[:3])
    expected = f"{request.url.scheme}://{request.url.netloc}"
    if origin != expected:
        raise CsrfError(f"a request from {origin!r} is refused; the console is at {expected!r}")


async def presented_token(request: Request) -> str | None:
    """The CSRF token of a request: htmx sends it as a header, a plain form as a field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    return (await read_form(request)).get(CSRF_FIELD)


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form (the only kind the console sends; the body size is
    bounded by the service's limit), the first value of each; {} for any other body."""
    cached: dict[str, str] | None = getattr(request.state, "console_form", None)
    if cached is not None:
        return cached
    form: dict[str, str] = {}
    if request.headers.get("content-type", "").startswith(FORM_TYPE):
        text = (await request.body()).decode("utf-8", errors="replace")
        try:
            fields = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError as exc:
            raise RequestError(422, "Invalid form", f"more than {MAX_FIELDS} fields") from exc
        for name, values in fields.items():
            if looks_like_card_number(name) or any(map(looks_like_card_number, values)):
                raise RequestError(422, "Invalid form", CARD_NUMBER, field=name)
            form[name] = values[0]
    request.state.console_form = form
    return form
