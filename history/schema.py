"""The raw transaction history schema: the one list of columns a history may carry.

Offline loading (`history.io`), the simulator and the online request mapping all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    """The logical type of a column; `history.io` parses and checks each kind."""

    STRING = "string"
    TIMESTAMP = "timestamp"
    DECIMAL = "decimal"
    INTEGER = "integer"
    LABEL = "label"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool
    meaning: str
    unit: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("transaction_id", Kind.STRING, True, "The caller's unique id of the transaction."),
    Column("timestamp", Kind.TIMESTAMP, True, "When the transaction was attempted.", "RFC 3339"),
    Column("card_id", Kind.STRING, True, "Card token or fingerprint, never a card number."),
    Column("merchant_id", Kind.STRING, True, "The merchant's id."),
    Column("amount", Kind.DECIMAL, True, "Amount, greater than 0.", "major units of currency"),
    Column("currency", Kind.STRING, False, "ISO 4217 code; USD when absent.", "ISO 4217"),
    Column("customer_id", Kind.STRING, False, "The merchant's or platform's customer id."),
    Column("card_bin", Kind.STRING, False, "First 6 to 8 digits of the card number."),
    Column("card_country", Kind.STRING, False, "Issuing country of the card.", "ISO 3166-1 a2"),
    Column("merchant_mcc", Kind.STRING, False, "Merchant category code.", "ISO 18245"),
    Column("merchant_country", Kind.STRING, False, "Merchant's country.", "ISO 3166-1 a2"),
    Column("device_id", Kind.STRING, False, "Device fingerprint."),
    Column("ip", Kind.STRING, False, "Client IP address (IPv4 or IPv6)."),
    Column("ip_country", Kind.STRING, False, "Country of the client IP.", "ISO 3166-1 a2"),
    Column("email_domain", Kind.STRING, False, "Domain of the customer's e-mail address."),
    Column("channel", Kind.STRING, False, "One of ecom, app, pos, moto."),
    Column("billing_country", Kind.STRING, False, "Billing address country.", "ISO 3166-1 a2"),
    Column("shipping_country", Kind.STRING, False, "Shipping address country.", "ISO 3166-1 a2"),
    Column(
        "customer_account_age_days",
        Kind.INTEGER,
        False,
        "Age of the customer's account when the transaction was made.",
        "days",
    ),
    Column("is_fraud", Kind.LABEL, False, "1 for fraud, 0 for legitimate; needed to train."),
    Column(
        "label_timestamp",
        Kind.TIMESTAMP,
        False,
        "When the label became known (chargeback or review). When absent, the label is taken "
        "as known at `timestamp` plus the configured label delay.",
        "RFC 3339",
    ),
)

COLUMNS_BY_NAME: dict[str, Column] = {column.name: column for column in COLUMNS}
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
CHANNELS: tuple[str, ...] = ("ecom", "app", "pos", "moto")
