"""Health pages: rule health on live traffic and what is in force.

GET /console/rules (`backtest.live.live_report`, as GET /v1/admin/policy/health, with a bar
chart) ; GET /console/status (the model, policy and feature-set versions served, as /readyz
names them, and the recording lag: `record.lag`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from backtest.live import live_report
from feature_store.definitions import FEATURE_SET_VERSION
from record.window import WindowError, parse_window
from scoring.errors import NotReadyError
from service.console.access import RuntimeDep, Viewer
from service.console.charts import rule_bars
from service.console.rendering import page

router = APIRouter()
LAG_TIMEOUT_SECONDS = 1.0


@router.get("/rules", name="console.rules")
async def rules(
    request: Request, session: Viewer, runtime: RuntimeDep, since: str = "30d", until: str = "now"
) -> Response:
    policy = runtime.scorer.policy
    if policy is None:
        raise NotReadyError("no policy loaded yet")
    context: dict[str, Any] = {"since": since[:64], "until": until[:64], "report": None}
    try:
        start, end = parse_window(since[:64], until[:64])
    except WindowError as exc:
        context["error"] = str(exc)
        return page(request, "rules.html", context, session=session, status_code=422)
    async with runtime.record.connection() as connection:
        report = await live_report(connection, policy, start, end)
    summary = report.summary
    live = [rule for rule in summary.rules if rule.mode != "shadow"]
    shadow = [rule for rule in summary.rules if rule.mode == "shadow"]
    context.update(
        report=report, summary=summary, live=live, shadow=shadow,
        chart=rule_bars([*live, *shadow]),
    )  # fmt: skip
    return page(request, "rules.html", context, session=session)


@router.get("/status", name="console.status")
async def status(request: Request, session: Viewer, runtime: RuntimeDep) -> Response:
    scorer = runtime.scorer
    context: dict[str, Any] = {
        "model": scorer.model,
        "policy": scorer.policy,
        "feature_set_version": FEATURE_SET_VERSION,
        "database": await runtime.record.database_state(),
        "lag": None,
        "lag_error": "",
    }
    try:
        async with asyncio.timeout(LAG_TIMEOUT_SECONDS):
            context["lag"] = await runtime.record.lag()
    except Exception as exc:  # Redis down or slow: the page says the lag is unknown
        context["lag_error"] = f"unknown: {type(exc).__name__}"
    return page(request, "status.html", context, session=session)
