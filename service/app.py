"""The application: `create_app(settings)` assembles routes, middleware, error handlers and the
lifespan that connects Redis, loads the model and policy and starts their reloaders.

Nothing happens at import time; `riskscore serve` calls `create_app_from_env` in each worker.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from service import (
    admin,
    case_routes,
    problems,
    record_admin,
    record_routes,
    routes,
    webhook_admin,
)
from service.auth import KeyRing
from service.console.app import mount_console
from service.limits import body_limits
from service.logs import configure_logging
from service.metrics import Metrics
from service.middleware import RequestContext
from service.runtime import Runtime
from service.settings import Settings

logger = logging.getLogger(__name__)
# Swagger UI's files, committed from the npm package swagger-ui-dist (docs/api.md says which
# version and why): /docs works offline and loads nothing from a CDN.
SWAGGER_UI = Path(__file__).parent / "static" / "swagger-ui"

DESCRIPTION = """Real-time payment-risk scoring: a decision (approve, review, challenge,
decline), a calibrated fraud score and the reason codes behind it, in a few milliseconds.

Authenticate with `Authorization: Bearer <api key>`. Errors are RFC 9457 problem details
(`application/problem+json`) naming the field. See docs/api.md for the reason-code catalogue,
idempotency and degraded mode."""


def create_app(settings: Settings) -> FastAPI:
    """Build the service for `settings`; connecting and loading happen at startup."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.start(settings, metrics)
        app.state.scorer = runtime.scorer
        app.state.runtime = runtime
        # What startup loaded (model, policy, lists, imported modules) lives as long as the
        # worker: out of the collector's sight, a full collection no longer walks it each time
        # (40-130 ms pauses under load before; docs/performance.md).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="riskscore",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={500: {"description": "A bug: never caused by what a client sent."}},
        # Metrics are Prometheus (`/metrics`); FastAPI's OpenTelemetry hooks would cost a
        # provider lookup on every request for nothing.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.keys = KeyRing(settings.effective_api_keys())
    app.include_router(routes.router)
    app.include_router(record_routes.router)
    app.include_router(case_routes.router)
    app.include_router(admin.router)
    app.include_router(record_admin.router)
    app.include_router(webhook_admin.router)
    if settings.echo_endpoint:
        app.include_router(routes.echo_router)
    problems.install(app)
    _serve_docs(app)
    mount_console(app)
    app.add_middleware(RequestContext, body_limit=body_limits(settings), metrics=metrics)
    return app


def _serve_docs(app: FastAPI) -> None:
    """`/docs` from the package's own Swagger UI files, with the bearer scheme declared so
    that its Authorize button sends the key."""
    app.mount("/docs/assets", StaticFiles(directory=SWAGGER_UI), name="docs-assets")

    async def docs(_: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="riskscore API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API key."}
            }
            for path, operations in schema["paths"].items():
                if path.startswith("/v1/"):
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.add_route("/docs", docs, include_in_schema=False)
    app.openapi = openapi  # type: ignore[method-assign]


def create_app_from_env() -> FastAPI:
    """The factory `riskscore serve` hands to uvicorn: settings from the environment."""
    settings = Settings()  # type: ignore[call-arg]  # from the environment
    configure_logging(settings.log_level)
    return create_app(settings)
