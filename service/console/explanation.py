"""What a decision page shows of why: each reason with the feature values behind it.

recorded decision (`service.record_routes.recorded_body`: reasons, features, attributions)
-> model reasons joined to their features (`model.reasons.feature_reasons`, the catalogue's
grouping) -> `ReasonView`s, largest attribution first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from model.reasons import feature_reasons


@dataclass(frozen=True)
class FeatureValue:
    name: str
    value: float | None
    attribution: float | None  # log-odds toward fraud; None without attributions


@dataclass(frozen=True)
class ReasonView:
    code: str
    source: str
    message: str
    weight: float | None
    features: tuple[FeatureValue, ...]  # empty for rule and system reasons


@cache
def _codes_of_features() -> dict[str, frozenset[str]]:
    """Each feature's model codes, on either side of its normal range (for records written
    before reasons kept their contributions)."""
    codes: dict[str, set[str]] = {}
    for (feature, _side), named in feature_reasons().items():
        codes.setdefault(feature, set()).update(named)
    return {feature: frozenset(named) for feature, named in codes.items()}


def explain(body: dict[str, Any]) -> list[ReasonView]:
    """The reasons of a recorded decision's body, each model reason with its features: the
    contributions the record kept behind it, or (older records) the catalogue's features."""
    features: dict[str, float | None] = body.get("features") or {}
    attributions: dict[str, float] = body.get("attributions") or {}
    views = []
    for reason in body.get("reasons") or []:
        kept: dict[str, float] | None = reason.get("contributions")
        if reason["source"] != "model":
            behind = []
        elif kept:
            behind = [FeatureValue(name, features.get(name), c) for name, c in kept.items()]
        else:
            codes = _codes_of_features()
            behind = [
                FeatureValue(name, value, attributions.get(name))
                for name, value in features.items()
                if reason["code"] in codes.get(name, ())
            ]
        behind.sort(key=lambda f: -abs(f.attribution or 0.0))
        views.append(
            ReasonView(
                reason["code"], reason["source"], reason["message"], reason.get("weight"),
                tuple(behind),
            )
        )  # fmt: skip
    return views
