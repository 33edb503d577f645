"""Fixtures of the load-test tests: a small simulated pool, and a fake service under a real
uvicorn server in a thread that validates bodies with the real API schema, remembers ids (so
retries are replayed) and can be told to stall."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from load_tests.traffic import Pool, simulated_pool
from service.edge import parse_json
from service.problems import RequestError
from service.schemas import ScoreRequest
from tests.servers import ThreadedServer


@dataclass
class FakeService:
    """What the load tests need of the service: /v1/score, /v1/echo and /metrics."""

    seen: set[str] = field(default_factory=set)
    stall_until: float = 0.0  # time.monotonic() until which every request waits
    decisions: int = 0

    async def score(self, request: Request) -> Response:
        wait = self.stall_until - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            # as the service reads a body: the edge's checks (card numbers), then the model
            body = ScoreRequest.model_validate(parse_json(await request.body()))
        except (ValidationError, RequestError) as exc:
            return JSONResponse({"title": "invalid", "detail": str(exc)[:200]}, 422)
        replayed = body.transaction_id in self.seen
        self.seen.add(body.transaction_id)
        self.decisions += not replayed
        decision = {"decision": "approve", "score": 0.01, "degraded": False, "replayed": replayed}
        return JSONResponse({"transaction_id": body.transaction_id, **decision})

    async def metrics(self, _: Request) -> Response:
        line = f'riskscore_decisions_total{{decision="approve",degraded="false"}} {self.decisions}'
        return PlainTextResponse(f"# TYPE riskscore_decisions_total counter\n{line}\n")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/score", self.score, methods=["POST"]),
                Route("/v1/echo", self.score, methods=["POST"]),
                Route("/metrics", self.metrics),
            ]
        )


@dataclass
class Served:
    fake: FakeService
    url: str


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    fake = FakeService()
    server = ThreadedServer(fake.app()).start()
    yield Served(fake, server.url)
    server.stop()


@pytest.fixture(scope="session")
def pool() -> Pool:
    return simulated_pool(transactions=5_000)
