"""How the app is assembled, where it decides what every request costs."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from service import admin, routes


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def test_every_route_dependency_is_async() -> None:
    """FastAPI runs a plain `def` dependency in a thread pool: a hop per request that once
    cost the score path a third of its throughput (docs/performance.md)."""
    every = [*routes.router.routes, *admin.router.routes, *routes.echo_router.routes]
    api_routes = [route for route in every if isinstance(route, APIRoute)]
    assert any(route.path == "/v1/score" for route in api_routes)
    for route in api_routes:
        assert inspect.iscoroutinefunction(route.endpoint), route.path
        for call in _calls(route.dependant):
            assert call is not None, route.path
            # a dependency may be a function or an object with an async __call__ (Require)
            target = call if inspect.isfunction(call) else type(call).__call__
            assert inspect.iscoroutinefunction(target), f"{route.path}: {call}"
