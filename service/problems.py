"""Errors as RFC 9457 problem details: the one place that maps domain errors to HTTP status.

domain error (scoring, feature store, policy, auth, the edge) -> status, title ->
`application/problem+json`. No client input is echoed back: a rejected value may be a card
number, and every body is masked (`history.card_numbers`) in case a message quotes one.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from cases.errors import (
    CaseConflictError,
    CaseDecisionGoneError,
    CaseStateError,
    UnknownCaseError,
)
from feature_store.online import FeatureStoreError
from history.card_numbers import mask_card_numbers_in
from model.errors import ModelArtifactError
from policy.errors import PolicyError
from policy.lists.errors import ListEntryError, ListExpiryError, UnknownListError
from policy.publishing.store import ConflictError, NoPreviousError, UnknownVersionError
from record.errors import LabelError, RecordUnavailableError
from record.errors import UnknownTransactionError as UnrecordedTransactionError
from record.window import WindowError
from scoring.errors import (
    DecisionPendingError,
    DecisionStoreError,
    IdempotencyConflictError,
    NotReadyError,
    RecordPendingError,
    UnknownTransactionError,
)
from service.limits import BatchTooLargeError
from webhooks.errors import SecretsKeyError, SubscriptionError, UnknownSubscriptionError

logger = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class QueryParameterError(ValueError):
    """A query parameter is refused (422 naming it in `field`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class RequestError(Exception):
    """What a client sent is refused at the edge, before any route code: `status`, `title`,
    `detail`, and the `field` when one field is at fault (never its value)."""

    def __init__(self, status: int, title: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.field = status, title, field


class AuthError(RequestError):
    """The request has no valid API key (401) or its key lacks the scope (403)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, "Unauthorized" if status == 401 else "Forbidden", detail)


# Domain error -> (status, title). Order matters only for subclasses listed before bases.
STATUS_OF: tuple[tuple[type[Exception], int, str], ...] = (
    (IdempotencyConflictError, 409, "Transaction id reused with a different body"),
    (DecisionPendingError, 409, "Transaction is still being scored"),
    (UnknownTransactionError, 404, "Unknown transaction"),
    (UnrecordedTransactionError, 404, "Unknown transaction"),
    (LabelError, 422, "Label refused"),
    (QueryParameterError, 422, "Invalid query parameter"),
    (RecordPendingError, 503, "Transaction not recorded yet"),
    (RecordUnavailableError, 503, "Record unavailable"),
    (NotReadyError, 503, "Not ready"),
    (DecisionStoreError, 503, "Decision store unavailable"),
    (FeatureStoreError, 503, "Feature store unavailable"),
    (ModelArtifactError, 422, "Model artifact refused"),
    (PolicyError, 422, "Policy refused"),
    (UnknownListError, 404, "Unknown list"),
    (ListEntryError, 422, "Invalid list entry"),
    (ListExpiryError, 422, "Invalid list expiry"),
    (UnknownVersionError, 404, "Unknown policy version"),
    (NoPreviousError, 409, "No earlier policy"),
    (ConflictError, 409, "Concurrent publish"),
    (BatchTooLargeError, 413, "Too many entries"),
    (WindowError, 422, "Invalid time window"),
    (UnknownCaseError, 404, "Unknown case"),
    (CaseStateError, 409, "Move not allowed in the case's state"),
    (CaseConflictError, 409, "The card has another unresolved case"),
    (CaseDecisionGoneError, 409, "Decision past the record's retention"),
    (SubscriptionError, 422, "Subscription refused"),
    (UnknownSubscriptionError, 404, "Unknown subscription"),
    (SecretsKeyError, 503, "Webhook secrets key missing"),
)


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "1"}
    content = orjson.dumps(mask_card_numbers_in(body))
    return Response(content, status, headers, media_type=PROBLEM_JSON)


def status_of(exc: Exception) -> int:
    """The HTTP status an exception is answered with (500 for anything unexpected)."""
    if isinstance(exc, RequestError):
        return exc.status
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, RequestValidationError):
        return 422
    for kind, status, _ in STATUS_OF:
        if isinstance(exc, kind):
            return status
    return 500


def field_path(location: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "card", "id")` -> `card.id`; list positions as `[0]`."""
    parts = list(location[1:] if location and location[0] == "body" else location)
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


async def _validation(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": field_path(error["loc"]), "message": _message(error)} for error in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, "Invalid request", detail, errors=errors)


def _message(error: dict[str, Any]) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


async def _http(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, _reason(exc.status_code), str(exc.detail))


async def _refused(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    if exc.field is None:
        return problem(exc.status, exc.title, str(exc))
    errors = [{"field": exc.field, "message": str(exc)}]
    return problem(exc.status, exc.title, f"{exc.field}: {exc}", errors=errors)


async def _domain(_: Request, exc: Exception) -> Response:
    for kind, status, title in STATUS_OF:
        if isinstance(exc, kind):
            field = getattr(exc, "field", None)  # a list entry or expiry names its field
            extra = {"errors": [{"field": field, "message": str(exc)}]} if field else {}
            extra.update(getattr(exc, "problem_extra", {}))  # e.g. a case's current status
            return problem(status, title, str(exc), **extra)
    return await _unexpected(_, exc)


async def _unexpected(_: Request, exc: Exception) -> Response:
    logger.exception("unexpected error", exc_info=exc)
    return problem(500, "Internal Server Error", "an unexpected error; it has been logged")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def install(app: FastAPI) -> None:
    """Route every error the app can raise through problem details."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RequestError, _refused)
    for kind, _, _ in STATUS_OF:
        app.add_exception_handler(kind, _domain)
    app.add_exception_handler(Exception, _unexpected)
