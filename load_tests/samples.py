"""What each request of a run met, and the figures drawn from it.

runner -> `Recorder.record` per reply (classified by `classify`) -> `Samples` (arrays, one
element per request) -> `Summary` (rate, statuses, outcomes, latency percentiles, lag).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from load_tests.clients import Reply
from load_tests.traffic import KINDS, Request

# What a reply means; the last three are errors.
OUTCOMES = ("ok", "degraded", "replayed", "refused", "unexpected_status", "bad_body", "no_answer")
ERROR_OUTCOMES = frozenset({"unexpected_status", "bad_body", "no_answer"})
DECISIONS = frozenset({"approve", "review", "challenge", "decline"})
PERCENTILES = (50.0, 90.0, 99.0, 99.9)
# A request dispatched this much after its intended time means the generator fell behind.
BEHIND_LAG_SECONDS = 0.005

Array = np.ndarray[Any, Any]


def classify(request: Request, reply: Reply, decisions: bool = True) -> str:
    """The outcome of `reply`; with `decisions`, a 200 must carry a valid decision."""
    if reply.status == 0:
        return "no_answer"
    if reply.status != request.expected_status:
        return "unexpected_status"
    if reply.status != 200:
        return "refused"
    if not decisions:
        return "ok"
    try:
        body = orjson.loads(reply.body)
        valid = body["decision"] in DECISIONS and 0.0 <= body["score"] <= 1.0
    except (orjson.JSONDecodeError, KeyError, TypeError):
        valid = False
    if not valid:
        return "bad_body"
    if body.get("degraded"):
        return "degraded"
    return "replayed" if body.get("replayed") else "ok"


@dataclass(frozen=True)
class Samples:
    """One element per request; times in seconds from the start of the run. `latency` runs
    from the intended send time (open loop) to the reply, `service` from the actual send."""

    intended: Array
    dispatched: Array
    latency: Array
    service: Array
    status: Array
    kind: Array
    outcome: Array
    duration: float
    start: float = 0.0  # time.perf_counter() at the run's time 0
    no_answer_causes: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.intended)

    def errors(self) -> Array:
        codes = [OUTCOMES.index(name) for name in ERROR_OUTCOMES]
        mask: Array = np.isin(self.outcome, codes)
        return mask


@dataclass
class Recorder:
    """Collects samples as replies arrive."""

    columns: dict[str, list[float]] = field(
        default_factory=lambda: {name: [] for name in ("intended", "dispatched", "done")}
    )
    status: list[int] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    outcome: list[int] = field(default_factory=list)
    error_count: int = 0
    causes: Counter[str] = field(default_factory=Counter)

    def record(
        self, request: Request, reply: Reply, times: tuple[float, float, float], outcome: str
    ) -> None:
        """`times`: intended, dispatched and done, seconds from the start of the run."""
        for name, value in zip(("intended", "dispatched", "done"), times, strict=True):
            self.columns[name].append(value)
        self.status.append(reply.status)
        self.kind.append(KINDS.index(request.kind))
        self.outcome.append(OUTCOMES.index(outcome))
        self.error_count += outcome in ERROR_OUTCOMES
        if reply.status == 0:
            self.causes[reply.error or "unknown"] += 1

    def __len__(self) -> int:
        return len(self.status)

    def samples(self, duration: float, start: float = 0.0) -> Samples:
        intended, dispatched, done = (np.array(self.columns[n]) for n in self.columns)
        order = np.argsort(intended, kind="stable")
        return Samples(
            intended=intended[order],
            dispatched=dispatched[order],
            latency=(done - intended)[order],
            service=(done - dispatched)[order],
            status=np.array(self.status, dtype=np.int16)[order],
            kind=np.array(self.kind, dtype=np.int8)[order],
            outcome=np.array(self.outcome, dtype=np.int8)[order],
            duration=duration,
            start=start,
            no_answer_causes=dict(self.causes),
        )


def percentiles(values: Array) -> dict[str, float]:
    """p50 ... p99.9 and max, in milliseconds (observed values, never interpolated)."""
    if len(values) == 0:
        return {**{_label(p): float("nan") for p in PERCENTILES}, "max": float("nan")}
    found = np.percentile(values, PERCENTILES, method="inverted_cdf") * 1000
    return {
        **{_label(p): float(v) for p, v in zip(PERCENTILES, found, strict=True)},
        "max": float(values.max() * 1000),
    }


def _label(percentile: float) -> str:
    return f"p{percentile:g}"


@dataclass(frozen=True)
class Summary:
    requests: int
    duration: float
    achieved_rate: float
    statuses: dict[str, int]
    outcomes: dict[str, int]
    kinds: dict[str, int]
    errors: int
    latency_ms: dict[str, float]
    service_ms: dict[str, float]
    lag_ms: dict[str, float]
    behind_share: float
    no_answer_causes: dict[str, int]

    @classmethod
    def of(cls, samples: Samples) -> Summary:
        answered = samples.status != 0
        lag = samples.dispatched - samples.intended
        return cls(
            requests=len(samples),
            duration=samples.duration,
            achieved_rate=len(samples) / samples.duration if samples.duration > 0 else 0.0,
            statuses={str(k): v for k, v in sorted(Counter(samples.status.tolist()).items())},
            outcomes=_names(samples.outcome, OUTCOMES),
            kinds=_names(samples.kind, KINDS),
            errors=int(samples.errors().sum()),
            latency_ms=percentiles(samples.latency[answered]),
            service_ms=percentiles(samples.service[answered]),
            lag_ms=percentiles(lag),
            behind_share=float((lag > BEHIND_LAG_SECONDS).mean()) if len(lag) else 0.0,
            no_answer_causes=samples.no_answer_causes,
        )

    @property
    def behind(self) -> bool:
        """More than 1 % of requests left over 5 ms late: the generator could not keep up."""
        return self.behind_share > 0.01

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "behind": self.behind}


def _names(codes: Array, names: tuple[str, ...]) -> dict[str, int]:
    counted = Counter(codes.tolist())
    return {names[code]: count for code, count in sorted(counted.items())}
