"""The errors of webhooks; the service maps them to HTTP status in one place.

WebhookError
├── SubscriptionError          a subscription is refused (422, names `field`)
├── UnknownSubscriptionError   no subscription has that id (404)
├── SecretsKeyError            no key to seal subscription secrets with (503)
└── SignatureError             a delivery's signature header does not verify (a receiver's)
"""

from __future__ import annotations


class WebhookError(Exception):
    """Base of every error raised by `webhooks`."""


class SubscriptionError(WebhookError):
    """A subscription is refused; `field` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.problem = message


class UnknownSubscriptionError(WebhookError):
    """No subscription has the id."""


class SecretsKeyError(WebhookError):
    """Subscription secrets cannot be sealed or opened: no key, or not the key they were
    sealed with."""


class SignatureError(WebhookError):
    """A signature header is malformed, too old, or does not match the body."""
