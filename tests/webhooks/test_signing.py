"""Signatures as a receiver checks them: the body and timestamp they were made over, within
the tolerance, under the right secret."""

from __future__ import annotations

import pytest

from webhooks.errors import SignatureError
from webhooks.signing import sign, signature, verify

SECRET = "whsec_test_0123456789abcdef"
BODY = b'{"id":"e1","kind":"decision.created","data":{}}'


def test_verify_accepts_a_signature_made_now() -> None:
    header = sign(SECRET, BODY, timestamp=1_800_000_000)
    assert verify(SECRET, header, BODY, now=1_800_000_010) == 1_800_000_000


def test_verify_refuses_another_body_secret_or_a_malformed_header() -> None:
    header = sign(SECRET, BODY, timestamp=1_800_000_000)
    for secret, body, value in (
        (SECRET, BODY + b" ", header),
        ("whsec_another_secret_0123456", BODY, header),
        (SECRET, BODY, "v1=" + signature(SECRET, 1_800_000_000, BODY)),  # no timestamp
        (SECRET, BODY, "t=1800000000"),  # no signature
        (SECRET, BODY, header.replace("t=1800000000", "t=1800000001")),  # timestamp changed
    ):
        with pytest.raises(SignatureError):
            verify(secret, value, body, now=1_800_000_000)


def test_verify_refuses_a_replay_outside_the_tolerance() -> None:
    header = sign(SECRET, BODY, timestamp=1_800_000_000)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(SECRET, header, BODY, tolerance_seconds=300, now=1_800_000_301)
    assert verify(SECRET, header, BODY, tolerance_seconds=300, now=1_800_000_300)


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"1800000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, timestamp=1_800_000_000) == f"t=1800000000,v1={expected}"
