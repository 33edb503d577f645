"""The server's own view of a run: its Prometheus `/metrics` read before and after, and what
the key series gained in between (decisions by outcome, replays, feature store errors...)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

# Series whose change over the run the report shows; the `_info` ones are shown as they are.
COUNTERS = (
    "riskscore_decisions_total",
    "riskscore_replays_total",
    "riskscore_feature_store_errors_total",
    "riskscore_decision_store_errors_total",
    "riskscore_request_duration_seconds_count",
)
INFO = ("riskscore_model_info", "riskscore_policy_info")

Series = dict[str, float]


def parse(text: str) -> Series:
    """`name{label="value",...}` -> value, for the series named above (no `pid` label)."""
    found: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in COUNTERS or (sample.name in INFO and sample.value > 0):
                labels = ",".join(
                    f'{key}="{value}"'
                    for key, value in sorted(sample.labels.items())
                    if key != "pid"
                )
                found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


def fetch(base_url: str, timeout_seconds: float = 5.0) -> Series | None:
    """The key series now, or None when `/metrics` cannot be read (the report says so)."""
    try:
        response = httpx.get(f"{base_url.rstrip('/')}/metrics", timeout=timeout_seconds)
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    return parse(response.text)


def changes(before: Series | None, after: Series | None) -> list[tuple[str, float]]:
    """What each counter gained during the run, then the served versions; [] without data."""
    if after is None:
        return []
    start = before or {}
    gained = [
        (series, value - start.get(series, 0.0))
        for series, value in sorted(after.items())
        if series.split("{")[0] in COUNTERS and value - start.get(series, 0.0) != 0
    ]
    versions = [(series, value) for series, value in sorted(after.items()) if "_info{" in series]
    return gained + versions
