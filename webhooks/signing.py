"""Signatures of deliveries: `Riskscore-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
`<t>.<body>` with the subscription's secret (Stripe's scheme).

A receiver verifies with `verify` (standard library only: copy it), refuses a timestamp
outside its tolerance (a replayed request) and de-duplicates on `Riskscore-Event-Id`.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from webhooks.errors import SignatureError

SIGNATURE_HEADER = "Riskscore-Signature"
EVENT_ID_HEADER = "Riskscore-Event-Id"
EVENT_KIND_HEADER = "Riskscore-Event-Kind"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header's value for `body`, signed now (or at `timestamp`)."""
    at = int(time.time()) if timestamp is None else timestamp
    return f"t={at},v1={signature(secret, at, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a delivery: `header` is the `Riskscore-Signature` value, `body` the raw bytes
    received (before any JSON parsing). Returns the signed timestamp.

    Raises `SignatureError` when the header is malformed, its timestamp is further than
    `tolerance_seconds` from now (a replay, or a clock far off), or no `v1` signature in it
    matches.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("the signature header needs t=<seconds> and v1=<hex>")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise SignatureError(
            f"the signature's timestamp is {abs(current - timestamp):.0f} s away from now, "
            f"beyond the tolerance of {tolerance_seconds} s"
        )
    expected = signature(secret, timestamp, body)
    # compare_digest against every candidate: the time taken says nothing about the match.
    if not any([hmac.compare_digest(expected, candidate) for candidate in candidates]):
        raise SignatureError("no signature in the header matches the body")
    return timestamp
