"""Around every request: the body size limit, a request id, the latency metric and one JSON log
line (with the problem's title and fields for a 4xx, never a value). One pure ASGI layer,
because each middleware layer costs time on the score path.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from history.card_numbers import looks_like_card_number
from service.limits import BodyLimit
from service.metrics import Metrics
from service.problems import PROBLEM_JSON, problem

logger = logging.getLogger("riskscore.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContext:
    """Refuses bodies over their route's limit (413, `service.limits`), tags each request with
    an id, and reports its latency (metrics) and outcome (log)."""

    def __init__(
        self, app: ASGIApp, *, body_limit: Callable[[str], BodyLimit], metrics: Metrics
    ) -> None:
        self.app = app
        self.body_limit = body_limit
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id")
        card_number_id = given is not None and looks_like_card_number(
            given.decode("utf-8", errors="replace")
        )
        request_id = _request_id(None if card_number_id else given)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
                if status >= 400 and _content_type(message).startswith(PROBLEM_JSON.encode()):
                    state["problem_body"] = b""
            elif "problem_body" in state:
                state["problem_body"] += message.get("body", b"")
            await send(message)

        length = headers.get(b"content-length")
        limit = self.body_limit(scope["path"])
        if card_number_id:
            # Not echoed and not logged: a fresh id answers, and the log names only the header.
            await _card_number_header()(scope, receive, send_with_id)
        elif length is not None and length.isdigit() and int(length) > limit.max_bytes:
            await _refusal(limit)(scope, receive, send_with_id)
        elif length is None and b"chunked" in headers.get(b"transfer-encoding", b""):
            body = await self._read_bounded(receive, limit.max_bytes)
            if body is None:
                await _refusal(limit)(scope, receive, send_with_id)
            else:
                await self.app(scope, _replay(body), send_with_id)
        else:
            await self.app(scope, receive, send_with_id)
        self._report(scope, status, time.perf_counter() - started, request_id)

    async def _read_bounded(self, receive: Receive, max_bytes: int) -> bytes | None:
        """A body sent without a Content-Length, read whole; None when over the limit."""
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    def _report(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        route = scope.get("route")
        path = getattr(route, "path", "unmatched")
        self.metrics.latency.labels(path, str(status)).observe(seconds)
        if path in ("/metrics", "/healthz", "/readyz"):
            return
        state = scope["state"]
        extra = {
            "request_id": request_id,
            "method": scope["method"],
            "route": path,
            "status": status,
            "latency_ms": round(seconds * 1000, 3),
        }
        extra.update(state.get("log", {}))
        if "problem_body" in state:
            extra.update(_problem_fields(state["problem_body"]))
        logger.info("request", extra={"fields": extra})


def _request_id(given: bytes | None) -> str:
    if given is not None:
        text = given.decode("latin-1")
        if _REQUEST_ID.match(text):
            return text
    return new_request_id()


def new_request_id() -> str:
    """16 random hex digits, drawn again when they hold a digit run that passes the card
    number check (about 1 draw in 2,000 does): an id the service hands out is echoed in
    headers, logs and problems, where it must not look like a card number."""
    while True:
        request_id = os.urandom(8).hex()
        if not looks_like_card_number(request_id):
            return request_id


def _content_type(message: Message) -> bytes:
    for name, value in message.get("headers", []):
        if name.lower() == b"content-type":
            return bytes(value)
    return b""


def _problem_fields(body: bytes) -> dict[str, Any]:
    """What a 4xx log line says of its problem: the title and the fields at fault. The detail
    is left out: it may say more than the log should keep."""
    try:
        problem_details = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    fields = [error.get("field") for error in problem_details.get("errors") or []]
    found = {"problem": problem_details.get("title"), "problem_type": problem_details.get("type")}
    return {**found, "fields": fields} if fields else found


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _refusal(limit: BodyLimit) -> Any:
    detail = (
        f"the body is larger than {limit.max_bytes} bytes, this route's limit ({limit.setting})"
    )
    return problem(413, "Content Too Large", detail, limit=limit.setting, max_bytes=limit.max_bytes)


def _card_number_header() -> Any:
    detail = "X-Request-ID: looks like a card number; send an opaque request id"
    errors = [{"field": "X-Request-ID", "message": "looks like a card number"}]
    return problem(422, "Invalid request", detail, errors=errors)
