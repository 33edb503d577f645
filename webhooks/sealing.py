"""Subscription secrets at rest: sealed with AES-256-GCM under the service's webhook secrets
key, bound to their subscription (its id is the associated data), so a copy of the database
alone signs nothing, and a sealed secret moved to another subscription does not open.

admin API (a secret, generated or given) -> `Sealer.seal` -> `webhook_subscriptions`;
delivery worker -> `Sealer.open` -> HMAC key of its signatures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from webhooks.errors import SecretsKeyError

VERSION = "v1"
NONCE_BYTES = 12
KEY_BYTES = 32
SECRET_PREFIX = "whsec_"
# The development key is public (derived from a fixed text): `riskscore serve --dev` only.
DEVELOPMENT_KEY = hashlib.sha256(b"riskscore development webhook secrets key").digest()


def new_secret() -> str:
    """A signing secret for a subscription: 32 random bytes, URL-safe text."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def parse_key(text: str) -> bytes:
    """A secrets key from its base64 text (32 bytes: `openssl rand -base64 32`)."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SecretsKeyError("the webhook secrets key is not base64") from exc
    if len(key) != KEY_BYTES:
        raise SecretsKeyError(
            f"the webhook secrets key holds {len(key)} bytes, not {KEY_BYTES} "
            "(make one with `openssl rand -base64 32`)"
        )
    return key


class Sealer:
    """Seals and opens subscription secrets under one key.

    >>> sealer = Sealer(parse_key(settings_key))
    >>> sealed = sealer.seal(subscription_id, "whsec_...")
    >>> sealer.open(subscription_id, sealed)
    'whsec_...'
    """

    def __init__(self, key: bytes | None) -> None:
        self._aead = AESGCM(key) if key is not None else None

    @property
    def can_seal(self) -> bool:
        return self._aead is not None

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            raise SecretsKeyError(
                "no webhook secrets key: set RISKSCORE_WEBHOOK_SECRETS_KEY to 32 random bytes "
                "in base64 (`openssl rand -base64 32`); subscription secrets are kept sealed "
                "under it"
            )
        return self._aead

    def seal(self, subscription_id: str, secret: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._cipher().encrypt(nonce, secret.encode(), subscription_id.encode())
        return f"{VERSION}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, subscription_id: str, sealed: str) -> str:
        version, _, text = sealed.partition(":")
        if version != VERSION:
            raise SecretsKeyError(f"a sealed secret of version {version!r}, not {VERSION!r}")
        raw = base64.b64decode(text)
        try:
            plain = self._cipher().decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], subscription_id.encode()
            )
        except InvalidTag as exc:
            raise SecretsKeyError(
                f"the secret of subscription {subscription_id} does not open with the "
                "configured webhook secrets key (sealed under another key?)"
            ) from exc
        return plain.decode()
