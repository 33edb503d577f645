"""Request bodies for the load tests, drawn from a simulated history: a configurable mix of
ordinary customers, hot cards, card-testing bursts, retries and invalid requests.

simulated history -> body templates (history columns -> the API's JSON) -> `Traffic.next()`
stamps an id and the current time -> `Request` (bytes, kind, the status expected back).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import orjson
import pandas as pd

KINDS = ("ordinary", "hot_card", "card_testing", "retry", "invalid")
INVALID_VARIANTS = (
    "unknown_currency",
    "card_number",
    "missing_merchant",
    "negative_amount",
    "naive_timestamp",
)
DIGITAL_MCCS = ("5816", "5947", "5732")
T = TypeVar("T")


class TrafficError(ValueError):
    """A traffic mix or pool that cannot produce requests."""


@dataclass(frozen=True)
class TrafficMix:
    """Shares of each kind of request; they need not sum to 1 (they are normalised)."""

    ordinary: float = 0.80
    hot_card: float = 0.07
    card_testing: float = 0.05
    retry: float = 0.05
    invalid: float = 0.03

    @classmethod
    def parse(cls, text: str) -> TrafficMix:
        """`ordinary=0.9,invalid=0.1`: the kinds named get these shares, the others 0."""
        shares = dict.fromkeys(KINDS, 0.0)
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, value = part.partition("=")
            if name.strip() not in shares:
                raise TrafficError(f"mix: unknown kind {name.strip()!r}; known: {', '.join(KINDS)}")
            try:
                shares[name.strip()] = float(value)
            except ValueError as exc:
                raise TrafficError(f"mix: {name.strip()}={value!r} is not a number") from exc
        return cls(**shares)

    def probabilities(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        shares = np.array([getattr(self, f.name) for f in fields(self)], dtype=np.float64)
        if (shares < 0).any() or shares.sum() <= 0:
            raise TrafficError(f"mix: shares must be >= 0 with a positive sum, got {self}")
        normalised: np.ndarray[Any, np.dtype[np.float64]] = shares / shares.sum()
        return normalised


@dataclass(frozen=True)
class Request:
    """One request to send: the JSON body and what a correct server answers."""

    kind: str
    transaction_id: str
    body: bytes
    expected_status: int


def _present(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _value(row: Mapping[Any, Any], name: str) -> Any:
    value = row.get(name)
    return None if value is None or pd.isna(value) else value


def body_template(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A history row (raw history columns) as a score request body, without id and time."""
    age = _value(row, "customer_account_age_days")
    body: dict[str, Any] = {
        "amount": max(0.01, round(float(row["amount"]), 2)),
        "currency": _value(row, "currency") or "USD",
        "card": _present(
            id=row["card_id"], bin=_value(row, "card_bin"), country=_value(row, "card_country")
        ),
        "merchant": _present(
            id=row["merchant_id"],
            mcc=_value(row, "merchant_mcc"),
            country=_value(row, "merchant_country"),
        ),
        "customer": _present(
            id=_value(row, "customer_id"),
            email_domain=_value(row, "email_domain"),
            account_age_days=None if age is None else int(age),
        ),
        "device": _present(
            id=_value(row, "device_id"), ip=_value(row, "ip"), ip_country=_value(row, "ip_country")
        ),
        "channel": _value(row, "channel"),
        "billing_country": _value(row, "billing_country"),
        "shipping_country": _value(row, "shipping_country"),
    }
    return {name: value for name, value in body.items() if value not in (None, {})}


@dataclass(frozen=True)
class Pool:
    """Body templates by the role they play in the traffic."""

    ordinary: list[dict[str, Any]]
    hot_cards: list[dict[str, Any]]
    card_testers: list[dict[str, Any]]
    digital_merchants: list[dict[str, Any]]

    @classmethod
    def from_history(cls, history: pd.DataFrame, hot_card_count: int = 5) -> Pool:
        """`history`: raw history columns plus the simulator's `fraud_scenario`."""
        legit = history[history["fraud_scenario"] == "none"]
        hot = legit["card_id"].value_counts().index[:hot_card_count]
        testers = history[history["fraud_scenario"] == "card_testing"]
        digital = legit[legit["merchant_mcc"].isin(DIGITAL_MCCS)]
        pool = cls(
            ordinary=_templates(legit),
            hot_cards=_templates(legit[legit["card_id"].isin(hot)]),
            card_testers=_templates(testers.drop_duplicates("card_id")),
            digital_merchants=[t["merchant"] for t in _templates(digital)],
        )
        empty = [name for name in ("ordinary", "hot_cards") if not getattr(pool, name)]
        if empty:
            raise TrafficError(f"the history gives no rows for {', '.join(empty)}")
        return pool


def _templates(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [body_template(row) for row in frame.to_dict("records")]


def simulated_pool(transactions: int | None = None) -> Pool:
    """The pool of the simulated history `riskscore serve` warms its embedded Redis with, so
    that traffic meets entities the feature store knows."""
    from feature_store.embedded import WARM_UP_DAYS, WARM_UP_SEED, WARM_UP_TRANSACTIONS
    from history.simulator import SimulationConfig, simulate

    config = SimulationConfig(
        transactions=transactions or WARM_UP_TRANSACTIONS, days=WARM_UP_DAYS, seed=WARM_UP_SEED
    )
    return Pool.from_history(simulate(config))


def card_number(rng: np.random.Generator) -> str:
    """A Luhn-valid 16-digit number: what a careless client sends as card.id."""
    from history.card_numbers import luhn_valid

    stem = "4" + "".join(str(d) for d in rng.integers(0, 10, 14))
    return next(stem + d for d in "0123456789" if luhn_valid(stem + d))


class Traffic:
    """An endless, seeded stream of requests; the same seed, run id and clock readings give
    the same requests.

        traffic = Traffic(simulated_pool(), TrafficMix(), seed=1)
        request = traffic.next()   # Request(kind="ordinary", body=b'{...}', ...)
    """

    def __init__(
        self,
        pool: Pool,
        mix: TrafficMix | None = None,
        *,
        seed: int = 0,
        run_id: str | None = None,
        clock: Callable[[], float] = time.time,
        burst_size: int = 20,
        retry_after_seconds: float = 1.0,
    ) -> None:
        self.pool = pool
        self.mix = mix or TrafficMix()
        self.run_id = run_id or secrets.token_hex(4)
        self._probabilities = np.cumsum(self.mix.probabilities())
        self._rng = np.random.default_rng(seed)
        self._clock = clock
        self._burst_size = burst_size
        self._retry_after_seconds = retry_after_seconds
        self._burst: deque[dict[str, Any]] = deque()
        self._sent: deque[tuple[float, Request]] = deque(maxlen=4096)
        self._retryable: deque[Request] = deque(maxlen=1024)
        self._count = 0

    def next(self) -> Request:
        kind = KINDS[int(np.searchsorted(self._probabilities, self._rng.random(), side="right"))]
        if kind == "retry":
            retried = self._retry()
            if retried is not None:
                return retried
            kind = "ordinary"
        body = self._body(kind)
        self._count += 1
        body["transaction_id"] = f"lt-{self.run_id}-{self._count:09d}"
        now = self._clock()
        body["timestamp"] = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
        expected = 200
        if kind == "invalid":
            self._spoil(body)
            expected = 422
        request = Request(kind, body["transaction_id"], orjson.dumps(body), expected)
        if expected == 200:
            self._sent.append((now, request))
        return request

    def take(self, count: int) -> list[Request]:
        return [self.next() for _ in range(count)]

    def _body(self, kind: str) -> dict[str, Any]:
        if kind == "hot_card":
            return dict(self._choice(self.pool.hot_cards))
        if kind == "card_testing" and self.pool.card_testers and self.pool.digital_merchants:
            if not self._burst:
                self._burst.extend(self._card_testing_burst())
            return self._burst.popleft()
        return dict(self._choice(self.pool.ordinary))

    def _card_testing_burst(self) -> Iterable[dict[str, Any]]:
        """One stolen card tried with small amounts at digital-goods merchants."""
        tester = self._choice(self.pool.card_testers)
        for _ in range(self._burst_size):
            attempt = dict(tester)
            attempt["merchant"] = self._choice(self.pool.digital_merchants)
            attempt["amount"] = round(float(self._rng.uniform(0.5, 5.0)), 2)
            attempt["currency"] = "USD"
            attempt["channel"] = "ecom"
            yield attempt

    def _retry(self) -> Request | None:
        """The same body again, as a checkout sends it after a timeout."""
        horizon = self._clock() - self._retry_after_seconds
        while self._sent and self._sent[0][0] <= horizon:
            self._retryable.append(self._sent.popleft()[1])
        if not self._retryable:
            return None
        original = self._choice(self._retryable)
        return Request("retry", original.transaction_id, original.body, 200)

    def _spoil(self, body: dict[str, Any]) -> None:
        variant = self._choice(INVALID_VARIANTS)
        if variant == "unknown_currency":
            body["currency"] = "ZZZ"
        elif variant == "card_number":
            body["card"] = {**body["card"], "id": card_number(self._rng)}
        elif variant == "missing_merchant":
            del body["merchant"]
        elif variant == "negative_amount":
            body["amount"] = -abs(body["amount"])
        else:
            body["timestamp"] = body["timestamp"][:-6]  # drops "+00:00"

    def _choice(self, items: Sequence[T]) -> T:
        return items[int(self._rng.integers(len(items)))]
