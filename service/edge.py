"""The edge: what every route runs before its own code, in this order.

request -> API key and scope (401, 403) -> card numbers in the path and query (422) -> media
type (415) -> JSON (400) -> duplicated keys, card numbers in any key or value (422) -> the
route's body model, with the server clock for event times (422) -> the route.
"""

from __future__ import annotations

import email.message
import json
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from history.card_numbers import looks_like_card_number
from service.auth import Require, authenticate
from service.fields import EventWindow
from service.problems import RequestError
from service.settings import Settings

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
CARD_NUMBER = "looks like a card number (13-19 digits, Luhn-valid); send a token, never a PAN"


class EdgeRoute(APIRoute):
    """A route that authenticates, then reads and checks its body, before FastAPI's own
    handling; FastAPI then receives the validated model (validating it again is a no-op)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        scopes = _required_scopes(self.dependant)
        field = self.body_field
        model = field.field_info.annotation if field is not None else None

        async def checked(request: Request) -> Response:
            if scopes is not None:
                authenticate(request, *scopes)
            _refuse_card_numbers_in(request)
            if isinstance(model, type) and issubclass(model, BaseModel):
                request._json = await read_body(request, model)  # Starlette's parsed-body cache
            return await handler(request)

        return checked


def _required_scopes(dependant: Dependant) -> tuple[str, ...] | None:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Require):
            return dependency.call.scopes
        found = _required_scopes(dependency)
        if found is not None:
            return found
    return None


def _refuse_card_numbers_in(request: Request) -> None:
    for name, value in request.path_params.items():
        if isinstance(value, str) and looks_like_card_number(value):
            raise RequestError(422, "Invalid request", CARD_NUMBER, field=name)
    for name, value in request.query_params.multi_items():
        if looks_like_card_number(value) or looks_like_card_number(name):
            raise RequestError(422, "Invalid request", CARD_NUMBER, field=name)


async def read_body(request: Request, model: type[BaseModel]) -> BaseModel:
    """The body as `model`, or the refusal that says what is wrong with it."""
    _check_media_type(request.headers.get("content-type"))
    value = parse_json(await request.body())
    settings: Settings = request.app.state.settings
    window = EventWindow(
        datetime.fromtimestamp(time.time(), UTC),
        settings.event_time_max_future_seconds,
        settings.event_time_max_age_seconds,
    )
    try:
        return model.model_validate(value, context={"event_window": window})
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None


def _check_media_type(content_type: str | None) -> None:
    # No Content-Type at all is read as JSON: curl and many clients send none with -d @file.
    if content_type is None:
        return
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    if message.get_content_maintype() != "application" or not (
        subtype == "json" or subtype.endswith("+json")
    ):
        raise RequestError(
            415,
            "Unsupported Media Type",
            "the body must be JSON: send it with Content-Type: application/json",
        )


def parse_json(body: bytes) -> Any:
    """Parsed JSON, refusing what is not JSON (400), a key given twice in one object and a
    card number anywhere, in a key or a value (422 naming the field)."""
    if not body:
        raise RequestError(422, "Invalid request", "a JSON object is required", field="body")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _malformed(exc) from None
    strings, keys = _strings_and_keys(value)
    # One pass over all strings at once (a NUL between them ends any run of digits): the
    # per-string calls cost more than the checks (benchmarks/bench_edge.py).
    text = "\0".join(strings)
    # orjson keeps the last of duplicated keys silently. Outside strings, every ':' of valid
    # JSON follows a key: if the parsed keys are fewer than those, some key came twice. An
    # escaped colon (\u003a) would hide one from the count: such bodies take the slow path.
    if body.count(b":") - text.count(":") != keys or b"\\u003" in body:
        duplicate = _duplicated_key(body)
        if duplicate is not None:
            raise RequestError(
                422, "Invalid request", "the key appears twice; send it once", field=duplicate
            )
    if looks_like_card_number(text):
        field = _card_number_path(value, "") or "body"
        raise RequestError(422, "Invalid request", CARD_NUMBER, field=field)
    return value


def _strings_and_keys(value: Any) -> tuple[list[str], int]:
    """Every string of a parsed body (keys and values) and the number of keys."""
    strings: list[str] = []
    keys = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings.append(item)
        elif isinstance(item, dict):
            keys += len(item)
            strings.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return strings, keys


def _card_number_path(value: Any, path: str) -> str | None:
    """The field (`customer.id`, `entries[3]`; the object for a key) holding a card number."""
    if isinstance(value, str):
        return (path or "body") if looks_like_card_number(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if looks_like_card_number(key):
                return path or "body"
            found = _card_number_path(item, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _card_number_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _malformed(exc: orjson.JSONDecodeError) -> RequestError:
    if "depth" in exc.msg or "ecursion" in exc.msg:
        detail = "the body nests arrays or objects too deeply to be a request"
    elif "utf-8" in exc.msg.lower():
        detail = f"the body is not valid UTF-8 (near byte {exc.pos}); send JSON in UTF-8"
    else:
        detail = (
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} "
            f"(byte {exc.pos})"
        )
    return RequestError(400, "Malformed JSON", detail)


def _duplicated_key(body: bytes) -> str | None:
    """The path of the first key given twice in one object (the slow, exact reading)."""
    return _first_duplicate(json.loads(body, object_pairs_hook=_Pairs), "")


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as read, every pair kept."""


def _first_duplicate(value: Any, path: str) -> str | None:
    if isinstance(value, _Pairs):
        names: set[str] = set()
        for name, item in value:
            child = f"{path}.{name}" if path else name
            if name in names:
                return child
            names.add(name)
            found = _first_duplicate(item, child)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_duplicate(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None
