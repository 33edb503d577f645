"""The public routes: thin maps from HTTP to the score path and back.

POST /v1/score, POST /v1/feedback, GET /v1/decisions/{id}, health, readiness and metrics.
Domain errors become problem details in `service/problems.py`, not here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import orjson
import psycopg
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from cases.queue import queue_health
from feature_store.online import FeatureStoreError
from record.errors import RecordUnavailableError
from scoring.pipeline import Scorer
from scoring.results import ScoreInput
from service.auth import require
from service.delivery import observe_queue
from service.edge import EdgeRoute
from service.metrics import CONTENT_TYPE, Metrics
from service.problems import problem
from service.responses import score_body
from service.schemas import Health, Problem, ScoreRequest, ScoreResponse
from service.settings import ApiKey

logger = logging.getLogger(__name__)
router = APIRouter(route_class=EdgeRoute)
ScoreKey = Annotated[ApiKey, Depends(require("score"))]
READY_TIMEOUT_SECONDS = 0.5


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "The body is not JSON (malformed, not UTF-8, nested too deeply).",
        401: "No or invalid API key.",
        403: "The API key lacks the scope.",
        404: "No recorded decision for this transaction id (never scored, or past the "
        "record's retention).",
        409: "The transaction id was scored before with another body, or is being scored.",
        413: "The body is larger than the configured limit.",
        415: "The body is not sent as application/json.",
        422: "The body is invalid (a field, a duplicated key, a card number, an event time out "
        "of bounds); `errors` names the field and the problem, never the value.",
        503: "Not ready (no model or policy loaded), Redis or PostgreSQL unavailable, or the "
        "transaction not recorded yet; retry after `Retry-After` seconds.",
    }
    return {
        status: {
            "model": Problem,
            "description": text[status],
            "content": {"application/problem+json": {}},
        }
        for status in statuses
    }


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


async def scorer_of(request: Request) -> Scorer:
    # async: FastAPI runs a plain `def` dependency in a thread pool, a hop per request
    scorer: Scorer = request.app.state.scorer
    return scorer


ScorerDep = Annotated[Scorer, Depends(scorer_of)]


@router.post(
    "/v1/score",
    response_model=ScoreResponse,
    responses=_problems(400, 401, 403, 409, 413, 415, 422, 503),
    summary="Score a transaction and decide",
    tags=["scoring"],
)
async def score(body: ScoreRequest, request: Request, _: ScoreKey, scorer: ScorerDep) -> Response:
    """Decide on a transaction before it is authorised. A retry with the same
    `transaction_id` and body gets the stored decision (`replayed: true`) and counts once."""
    result = await scorer.score(
        ScoreInput(
            body.transaction_id,
            body.ts_ms(),
            body.amount,
            body.currency,
            body.attributes(),
            body.fingerprint(),
        )
    )
    metrics: Metrics = request.app.state.metrics
    metrics.record_score(result)
    decision = result.decision
    request.state.log = {
        "transaction_id": body.transaction_id,
        "decision": decision.decision,
        "score": decision.score,
        "rules_matched": decision.rules_matched,
        "degraded": decision.degraded,
        "replayed": decision.replayed,
    }
    return _json(score_body(decision))


@router.get("/healthz", response_model=Health, tags=["operations"], summary="Liveness")
async def healthz() -> Response:
    return _json({"status": "ok", "checks": {}})


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Not ready: see `checks`."}},
    tags=["operations"],
    summary="Readiness: Redis reachable, model and policy loaded; the record's state",
)
async def readyz(request: Request, scorer: ScorerDep) -> Response:
    """Ready while scoring works. `postgres` and `recording` say what is behind (the record
    catches up afterwards), without making the worker unready."""
    record = request.app.state.runtime.record
    checks = {
        "model": scorer.model.version if scorer.model else "not loaded",
        "policy": scorer.policy.version if scorer.policy else "not loaded",
        "redis": await _ping(scorer),
        "postgres": await record.database_state(),
        "recording": await _recording_state(request),
    }
    ready = scorer.model is not None and scorer.policy is not None and checks["redis"] == "ok"
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return _json(body, 200 if ready else 503)


async def _recording_state(request: Request) -> str:
    """ "ok", or how far the record is behind (measured, and kept in the lag gauges)."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            lag = await request.app.state.runtime.record.lag()
    except Exception as exc:  # any failure of Redis: the lag is unknown
        return f"unknown: {type(exc).__name__}"
    request.app.state.metrics.observe_lag(lag)
    behind = []
    if lag.unrecorded_entries:
        age = lag.oldest_unrecorded_age_seconds or 0.0
        behind.append(f"{lag.unrecorded_entries} records not in PostgreSQL (oldest {age:.1f} s)")
    if lag.spool_bytes:
        behind.append(f"{lag.spool_bytes} bytes spooled, waiting for Redis")
    return "behind: " + "; ".join(behind) if behind else "ok"


async def _queue_state(request: Request) -> None:
    """Measure the review queue for the scrape; an unreachable PostgreSQL leaves the gauges
    at their last values (the recording lag and /readyz say the database is away)."""
    record = request.app.state.runtime.record
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), record.connection() as connection:
            health = await queue_health(connection)
    except (TimeoutError, RecordUnavailableError, psycopg.Error) as exc:
        logger.warning("review queue not measured: %s", type(exc).__name__)
        return
    request.app.state.metrics.observe_queue(health, request.app.state.settings.case_max_age_seconds)


async def _ping(scorer: Scorer) -> str:
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await scorer.store.client.execute_command("PING")
    except (TimeoutError, FeatureStoreError, OSError, Exception) as exc:  # any failure: not ready
        return f"unreachable: {type(exc).__name__}"
    return "ok"


@router.get("/metrics", tags=["operations"], summary="Prometheus metrics")
async def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    await _recording_state(request)  # the lag gauges, as of this scrape
    await _queue_state(request)  # the review queue's gauges, as of this scrape
    await observe_queue(request.app.state.runtime, registry)  # the webhook queue's
    return Response(registry.exposition(), media_type=CONTENT_TYPE)


echo_router = APIRouter(route_class=EdgeRoute)


@echo_router.post("/v1/echo", include_in_schema=False)
async def echo(body: ScoreRequest, _: ScoreKey) -> Response:
    """The benchmark's baseline: the same body model and key check, no scoring."""
    return _json(body.model_dump(mode="json"))


def not_found_problem(detail: str) -> Response:
    return problem(404, "Not Found", detail)
