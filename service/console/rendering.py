"""Pages as HTML: the console's Jinja2 environment (autoescaped: every value a template prints
is text, never markup) and `page`, which gives each template the session and its CSRF token."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from service.console.session import Session

TEMPLATES = Path(__file__).parent / "templates"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html", "svg"), default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["moment"] = moment
    env.filters["epoch"] = epoch
    env.filters["ratio"] = ratio
    env.filters["figure"] = figure
    env.filters["age"] = age
    return env


def moment(value: datetime | None) -> str:
    """A time as analysts read it: UTC, to the second."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def epoch(value: float | None) -> str:
    return "—" if value is None else moment(datetime.fromtimestamp(value, UTC))


def ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def age(seconds: float | None) -> str:
    """A duration as a queue reads it: 45s, 12m, 3h 5m, 2d 4h."""
    if seconds is None:
        return "—"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3_600:
        return f"{whole // 60}m"
    if whole < 86_400:
        return f"{whole // 3_600}h {whole % 3_600 // 60}m"
    return f"{whole // 86_400}d {whole % 86_400 // 3_600}h"


def figure(value: float | None) -> str:
    """A feature value to four significant digits ("missing" when the feature had none)."""
    return "missing" if value is None else f"{value:.4g}"


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    session: Session | None,
    status_code: int = 200,
) -> HTMLResponse:
    """`template` rendered with `context`, the session (None on the log-in page) and its
    CSRF token, as a `text/html` response."""
    env: Environment = request.app.state.console_templates
    values = {
        "session": session,
        "csrf_token": session.csrf_token if session is not None else "",
        "path": request.url.path,
        **context,
    }
    html = env.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)
