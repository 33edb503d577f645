"""Subscription secrets at rest: sealed under the key, bound to their subscription."""

from __future__ import annotations

import base64
import os

import pytest

from webhooks.errors import SecretsKeyError
from webhooks.sealing import Sealer, new_secret, parse_key


def test_a_sealed_secret_opens_only_with_its_key_and_subscription() -> None:
    sealer = Sealer(os.urandom(32))
    secret = new_secret()
    sealed = sealer.seal("sub-1", secret)
    assert secret not in sealed
    assert sealer.open("sub-1", sealed) == secret
    with pytest.raises(SecretsKeyError):
        sealer.open("sub-2", sealed)  # moved to another subscription
    with pytest.raises(SecretsKeyError):
        Sealer(os.urandom(32)).open("sub-1", sealed)


def test_no_key_refuses_to_seal() -> None:
    with pytest.raises(SecretsKeyError, match="RISKSCORE_WEBHOOK_SECRETS_KEY"):
        Sealer(None).seal("sub-1", new_secret())


def test_a_key_must_be_32_bytes_of_base64() -> None:
    assert len(parse_key(base64.b64encode(os.urandom(32)).decode())) == 32
    for text in ("not base64!", base64.b64encode(os.urandom(16)).decode()):
        with pytest.raises(SecretsKeyError):
            parse_key(text)


def test_new_secrets_differ() -> None:
    assert len({new_secret() for _ in range(100)}) == 100
