"""The API schema: every request and response body of the HTTP API, in one place.

HTTP body -> `service.edge` (authentication, JSON, duplicated keys, card numbers) -> these
models (validation, OpenAPI with examples) -> `to_score_input` -> the plain-Python score path
(`scoring.pipeline`); its typed results -> `service/responses.py` -> the response models here.
The contract is docs/api.md.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress, ValidationInfo, field_validator

from history.currency import minor_unit, usd_rates
from service.fields import Amount, EventWindow, Rfc3339

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\s{}]+$")]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]


class _Body(BaseModel):
    # Unknown fields are refused: a typo (or a `card_number`) must not pass silently.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Card(_Body):
    # Card numbers are refused in every field by the edge (`service.edge`), before this model.
    id: Id = Field(description="A token or fingerprint of the card, never its number.")
    bin: Annotated[str, Field(pattern=r"^[0-9]{6,8}$")] | None = None
    country: Country | None = None


class Merchant(_Body):
    id: Id
    mcc: Annotated[str, Field(pattern=r"^[0-9]{4}$")] | None = None
    country: Country | None = None


class Customer(_Body):
    id: Id | None = None
    email_domain: (
        Annotated[str, Field(max_length=253, pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")] | None
    ) = None
    account_age_days: Annotated[int, Field(strict=True, ge=0, le=36_500)] | None = None


class Device(_Body):
    id: Id | None = None
    ip: IPvAnyAddress | None = None
    ip_country: Country | None = None


SCORE_EXAMPLE: dict[str, Any] = {
    "transaction_id": "tx_0001",
    "timestamp": "2026-11-23T10:15:00+01:00",
    "amount": 129.90,
    "currency": "EUR",
    "card": {"id": "card_tok_8c1f", "bin": "424242", "country": "FR"},
    "merchant": {"id": "m_4412", "mcc": "5732", "country": "FR"},
    "customer": {"id": "cust_77", "email_domain": "example.com", "account_age_days": 420},
    "device": {"id": "dev_a1", "ip": "203.0.113.7", "ip_country": "FR"},
    "channel": "ecom",
    "billing_country": "FR",
    "shipping_country": "FR",
}


class ScoreRequest(_Body):
    """A transaction to score, sent before the payment is authorised."""

    model_config = ConfigDict(json_schema_extra={"examples": [SCORE_EXAMPLE]})

    transaction_id: Id = Field(description="The caller's id; also the idempotency key.")
    timestamp: Rfc3339 = Field(
        description="RFC 3339 with an offset; within the accepted window of the server clock."
    )
    # currency before amount: the amount's smallest value is the currency's minor unit
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")]
    amount: Amount = Field(
        description="Major units: a JSON number or a decimal string, at least one minor unit "
        "of the currency (0.01 EUR, 1 JPY)."
    )
    card: Card
    merchant: Merchant
    customer: Customer | None = None
    device: Device | None = None
    channel: Literal["ecom", "app", "pos", "moto"] | None = None
    billing_country: Country | None = None
    shipping_country: Country | None = None

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in usd_rates():
            raise ValueError(f"unknown currency {value!r}; known: {', '.join(sorted(usd_rates()))}")
        return value

    @field_validator("amount")
    @classmethod
    def _at_least_one_minor_unit(cls, value: float, info: ValidationInfo) -> float:
        currency = info.data.get("currency")
        if currency is not None and value < minor_unit(currency) * (1 - 1e-9):
            raise ValueError(
                f"is less than one minor unit of {currency} ({minor_unit(currency):g})"
            )
        return value

    @field_validator("timestamp")
    @classmethod
    def _within_the_event_window(cls, value: datetime, info: ValidationInfo) -> datetime:
        # The edge passes the window; offline readers of this model (no clock) have none.
        window = (info.context or {}).get("event_window")
        if isinstance(window, EventWindow):
            window.check(value)
        return value

    def attributes(self) -> dict[str, Any]:
        """The request as raw history columns (history/schema.py), the score path's input."""
        customer, device = self.customer, self.device
        return {
            "card_id": self.card.id,
            "card_bin": self.card.bin,
            "card_country": self.card.country,
            "merchant_id": self.merchant.id,
            "merchant_mcc": self.merchant.mcc,
            "merchant_country": self.merchant.country,
            "customer_id": customer.id if customer else None,
            "email_domain": customer.email_domain if customer else None,
            "customer_account_age_days": customer.account_age_days if customer else None,
            "device_id": device.id if device else None,
            "ip": str(device.ip) if device and device.ip else None,
            "ip_country": device.ip_country if device else None,
            "channel": self.channel,
            "billing_country": self.billing_country,
            "shipping_country": self.shipping_country,
            "currency": self.currency,
            "amount": self.amount,
        }

    def fingerprint(self) -> str:
        """Equal for equal bodies, whatever their key order, spacing or explicit nulls."""
        canonical = orjson.dumps(
            self.model_dump(mode="json", exclude_none=True), option=orjson.OPT_SORT_KEYS
        )
        return hashlib.blake2b(canonical, digest_size=16).hexdigest()

    def ts_ms(self) -> int:
        return int(self.timestamp.timestamp() * 1000)


class Reason(BaseModel):
    code: str = Field(description="Stable UPPER_SNAKE code from the catalogue (docs/api.md).")
    source: Literal["model", "rule", "system"]
    message: str
    weight: float | None = Field(
        description="For model reasons: summed attribution in log-odds; else null."
    )


SCORE_RESPONSE_EXAMPLE: dict[str, Any] = {
    "transaction_id": "tx_0001",
    "decision": "review",
    "score": 0.2134,
    "reasons": [
        {
            "code": "AMOUNT_ABOVE_USUAL",
            "source": "model",
            "message": "The amount is above the usual amounts of this card, customer or merchant.",
            "weight": 0.41,
        }
    ],
    "rules_matched": [],
    "model_version": "rs-20260430-c8d0071b",
    "policy_version": "pol-3f2a9b1c0d4e",
    "feature_set_version": "fs-0123456789ab",
    "degraded": False,
    "replayed": False,
}


class ScoreResponse(BaseModel):
    """The score response: its fields, in this order, are the contract (`service/responses.py`
    writes them from the score path's `ScoreDecision`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [SCORE_RESPONSE_EXAMPLE]})

    transaction_id: str
    decision: Literal["approve", "review", "challenge", "decline"]
    score: float = Field(description="Calibrated fraud probability, 0 to 1.")
    reasons: list[Reason]
    rules_matched: list[str] = Field(description="Active rules that matched (not shadow).")
    model_version: str
    policy_version: str
    feature_set_version: str
    degraded: bool = Field(description="True when features were unavailable (docs/api.md).")
    replayed: bool = Field(description="True when this is the stored answer to a retry.")


class StageTimings(BaseModel):
    features: int
    model: int
    attributions: int
    rules: int


class FeedbackRequest(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "transaction_id": "tx_0001",
                    "label": "chargeback",
                    "reported_at": "2026-12-02T09:00:00Z",
                }
            ]
        }
    )

    transaction_id: Id
    label: Literal["chargeback", "confirmed_fraud", "confirmed_legitimate"]
    reported_at: Rfc3339 | None = Field(
        None, description="When the label became known; now when absent."
    )

    def reported_ms(self) -> int:
        when = self.reported_at or datetime.now(UTC)
        return int(when.timestamp() * 1000)


class FeedbackResponse(BaseModel):
    transaction_id: str
    label: str
    reported_at: datetime
    new: bool = Field(description="False when the same report was recorded before.")
    counted: bool = Field(
        description="True when the label features changed now: a fraud counted, or a counted "
        "fraud taken back out by a reversal; false otherwise (already counted, nothing to do)."
    )


class FieldProblem(BaseModel):
    field: str = Field(description="Dotted path of the field, e.g. card.id.")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem details body (`application/problem+json`)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)
