"""Every name a rule expression may use, with its type and where its value comes from.

Transaction fields by their API JSON path (mapped here, and only here, to history columns),
every feature declared in the features file by name (the model's and those declared for rules
only), the calibrated `score` and the `degraded` flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from feature_store.definitions import DECLARED_NAMES
from history.schema import COLUMNS_BY_NAME, Kind
from policy.lists.kinds import ListKind


class Type(Enum):
    """The type of a value in an expression; comparisons need both sides of one type."""

    NUMBER = "number"
    STRING = "string"
    BOOL = "condition"


class Origin(Enum):
    ATTRIBUTE = "attribute"
    FEATURE = "feature"
    SCORE = "score"
    DEGRADED = "degraded"


@dataclass(frozen=True)
class Field:
    """A name usable in expressions; `key` is the history column or the feature name."""

    name: str
    type: Type
    origin: Origin
    key: str
    list_kind: ListKind | None = None


# API path -> (history column, the list kind its values belong to, if any).
_PATHS: dict[str, tuple[str, ListKind | None]] = {
    "amount": ("amount", None),
    "currency": ("currency", None),
    "card.id": ("card_id", ListKind.CARD_ID),
    "card.bin": ("card_bin", ListKind.BIN),
    "card.country": ("card_country", None),
    "merchant.id": ("merchant_id", ListKind.MERCHANT_ID),
    "merchant.mcc": ("merchant_mcc", None),
    "merchant.country": ("merchant_country", None),
    "customer.id": ("customer_id", ListKind.CUSTOMER_ID),
    "customer.email_domain": ("email_domain", ListKind.EMAIL_DOMAIN),
    "customer.account_age_days": ("customer_account_age_days", None),
    "device.id": ("device_id", ListKind.DEVICE_ID),
    "device.ip": ("ip", ListKind.IP),
    "device.ip_country": ("ip_country", None),
    "channel": ("channel", None),
    "billing_country": ("billing_country", None),
    "shipping_country": ("shipping_country", None),
}


def _attribute_type(column: str) -> Type:
    kind = COLUMNS_BY_NAME[column].kind
    return Type.NUMBER if kind in (Kind.DECIMAL, Kind.INTEGER) else Type.STRING


def _catalogue() -> dict[str, Field]:
    fields = {
        path: Field(path, _attribute_type(column), Origin.ATTRIBUTE, column, list_kind)
        for path, (column, list_kind) in _PATHS.items()
    }
    for name in DECLARED_NAMES:
        fields[name] = Field(name, Type.NUMBER, Origin.FEATURE, name)
    fields["score"] = Field("score", Type.NUMBER, Origin.SCORE, "score")
    fields["degraded"] = Field("degraded", Type.BOOL, Origin.DEGRADED, "degraded")
    return fields


FIELDS: dict[str, Field] = _catalogue()
# The first part of every dotted path (`card` of `card.bin`): a name that is no value itself.
PATH_ROOTS: frozenset[str] = frozenset(path.split(".")[0] for path in _PATHS if "." in path)
